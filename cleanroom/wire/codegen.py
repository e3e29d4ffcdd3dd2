"""Generate ``cleanroom/v1/*_pb2*.py`` from ``proto/cleanroom/v1/*.proto``.

The generated modules are committed, so a fresh clone needs no protoc; a test
regenerates them into a temporary folder and fails when the committed copy is
stale. Run ``make proto`` after editing a .proto file.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
PROTO_DIR = PROTO_ROOT / "cleanroom" / "v1"


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("*.proto"))


def generate(out_root: Path) -> list[Path]:
    """Run protoc (from grpcio-tools) into ``out_root``; return the files written."""
    import grpc_tools
    from grpc_tools import protoc  # a test/dev dependency only

    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *[str(p) for p in proto_files()],
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed; see its messages above")
    return sorted((out_root / "cleanroom" / "v1").glob("*_pb2*.py*"))


def main() -> int:
    written = generate(ROOT)
    init = ROOT / "cleanroom" / "v1" / "__init__.py"
    if not init.exists():
        init.write_text('"""Generated gRPC/protobuf code (``make proto``); do not edit."""\n')
    for path in written:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
