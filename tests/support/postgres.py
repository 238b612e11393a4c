"""A private, real PostgreSQL server for the test session (Debian's packages: /usr/lib/postgresql/*/bin).

VIGIL_TEST_POSTGRES_URL (e.g. postgresql+asyncpg://user:pw@host:5432/postgres) uses an existing server instead.
initdb refuses to run as root, so as root the cluster belongs to the `postgres` system user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from vigil.runtime.kafka_local import free_port


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL is not installed: run .ci/run (apt-get install postgresql) "
                       "or set VIGIL_TEST_POSTGRES_URL")


@dataclass
class PostgresServer:
    admin_url: str  # asyncpg URL of the maintenance database
    data_dir: Path | None = None
    _process_user: str | None = None
    _start_cmd: list[str] | None = None

    def url_for(self, database: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + f"/{database}"

    async def create_database(self) -> str:
        import secrets

        import asyncpg

        name = f"vigil_test_{secrets.token_hex(6)}"
        conn = await asyncpg.connect(self.admin_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url_for(name)

    def restart(self, down_seconds: float = 2.0, mode: str = "immediate") -> None:
        """Stop the server (`immediate`: as if it crashed, recovery from the WAL at start), stay down
        `down_seconds`, start it again on the same port (fault tests). Only for the server started here."""
        if self.data_dir is None or self._start_cmd is None:
            raise RuntimeError("cannot restart an external PostgreSQL server (VIGIL_TEST_POSTGRES_URL)")
        _run([str(_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"], self._process_user)
        time.sleep(down_seconds)
        _run(self._start_cmd, self._process_user)

    def stop(self) -> None:
        if self.data_dir is None:
            return
        cmd = [str(_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
        _run(cmd, self._process_user)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def _run(cmd: list[str], user: str | None, **kwargs) -> subprocess.CompletedProcess:
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, **kwargs)


def start() -> PostgresServer:
    external = os.environ.get("VIGIL_TEST_POSTGRES_URL")
    if external:
        return PostgresServer(admin_url=external)
    bin_dir = _bin_dir()
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
    data = root / "data"
    data.mkdir()
    if user:
        shutil.chown(root, user)
        shutil.chown(data, user)
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
          "--no-sync"], user)
    port = free_port()
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    start_cmd = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "pg.log"), "-w", "start"]
    _run(start_cmd, user)
    server = PostgresServer(admin_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres", data_dir=data,
                            _process_user=user, _start_cmd=start_cmd)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                          capture_output=True).returncode == 0:
            return server
        time.sleep(0.2)
    raise TimeoutError("PostgreSQL did not become ready")
