"""The committed generated code is exactly what proto/generate.py produces from the .proto sources."""

import filecmp
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("generate", REPO / "proto" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_code_is_fresh(tmp_path):
    written = _generator().generate(tmp_path)
    assert written, "no code generated"
    stale = []
    for path in written:
        rel = path.relative_to(tmp_path)
        committed = REPO / rel
        if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
            stale.append(str(rel))
    committed_files = {p.relative_to(REPO) for p in (REPO / "vigil").glob("*/v1/*_pb2*.py*")}
    orphaned = committed_files - {p.relative_to(tmp_path) for p in written}
    assert not stale, f"generated code is stale, run `python proto/generate.py`: {stale}"
    assert not orphaned, f"generated files without a .proto source: {sorted(map(str, orphaned))}"


def test_every_service_has_a_proto_package():
    for name in ("incident", "itsm", "cmdb", "observability", "ai"):
        assert (REPO / "proto" / "vigil" / name / "v1" / f"{name}.proto").exists()
        assert (REPO / "services" / name / "server.py").exists()
