"""`vigil migrate all` (what the Helm hook and the compose one-shot run) applies every schema and is idempotent."""

import os
import sqlite3
import subprocess
import sys


def test_vigil_migrate_all_twice(tmp_path):
    env = {**os.environ, "VIGIL_DATA_DIR": str(tmp_path)}
    env.pop("VIGIL_DATABASE_URL", None)
    for run in range(2):
        out = subprocess.run([sys.executable, "-m", "vigil.cli", "migrate", "all"], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        for name in ("incident", "itsm", "cmdb", "observability", "ai", "gateway"):
            assert f"{name}: migrated to head" in out.stdout
        if run == 0:
            assert "ClickHouse migrations applied: [" in out.stdout
        else:
            assert "ClickHouse migrations applied: none new" in out.stdout
    with sqlite3.connect(tmp_path / "incident.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"incidents", "incident_timeline", "outbox", "alembic_version"} <= tables
    with sqlite3.connect(tmp_path / "gateway.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tenants", "users", "refresh_tokens", "idempotency_keys"} <= tables
