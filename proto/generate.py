"""Generate the Python protobuf and gRPC code for every .proto under proto/.

One command, reproducible: `python proto/generate.py [OUT_DIR]` writes into OUT_DIR (default: the repository
root), so `proto/vigil/incident/v1/incident.proto` (package vigil.incident.v1) becomes the importable module
`vigil.incident.v1.incident_pb2`. tests/proto/test_generated.py regenerates into a temporary folder and fails
when the committed code differs.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PROTO_ROOT.parent


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.glob("vigil/**/*.proto"))


def generate(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = str(resources.files("grpc_tools") / "_proto")
    files = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    written = []
    # Every generated folder is a regular package, so imports need no sys.path tricks.
    for proto in files:
        package_dir = out_dir / Path(proto).parent
        for parent in [package_dir, *package_dir.relative_to(out_dir).parents]:
            init = out_dir / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text("")
        written.extend(sorted(package_dir.glob("*_pb2*.py*")))
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT
    for path in generate(target):
        print(path.relative_to(target))
