"""The committed protobuf/gRPC code (cleanroom/v1/) is exactly what protoc generates now.

Regenerates from proto/cleanroom/v1/*.proto with the pinned grpcio-tools into a
temporary folder and compares byte for byte, so editing a .proto without
running ``make proto`` (or hand-editing generated code) fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanroom.wire import codegen

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "cleanroom" / "v1"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("gen")
    written = codegen.generate(out)
    files = sorted((out / "cleanroom" / "v1").glob("*"))
    assert written, "codegen.generate wrote nothing"
    assert sorted(written) == [f for f in files if f.name.endswith(SUFFIXES)]
    return {f.name: f.read_bytes() for f in files if f.is_file()}


def _committed() -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(COMMITTED.iterdir()) if f.is_file() and f.name.endswith(SUFFIXES)}


def test_proto_sources_exist():
    protos = codegen.proto_files()
    assert protos == sorted((ROOT / "proto" / "cleanroom" / "v1").glob("*.proto"))
    assert {p.stem for p in protos} >= {"agreements", "runs", "results"}


def test_every_proto_has_its_generated_modules(generated):
    committed = _committed()
    for proto in codegen.proto_files():
        for suffix in SUFFIXES:
            name = proto.stem + suffix
            assert name in generated, f"protoc did not generate {name}"
            assert name in committed, f"cleanroom/v1/{name} is missing: run `make proto`"


def test_generated_set_equals_committed_set(generated):
    # a committed module whose .proto was deleted or renamed is stale too
    assert sorted(_committed()) == sorted(generated)


def test_committed_code_is_byte_identical(generated):
    committed = _committed()
    stale = [name for name, data in generated.items() if committed.get(name) != data]
    assert stale == [], f"stale generated code in cleanroom/v1/: {stale}; run `make proto`"


def test_a_changed_proto_would_be_detected(tmp_path, monkeypatch):
    """The comparison can fail: generate from an edited copy of the protos and it differs."""
    proto_root = tmp_path / "proto"
    (proto_root / "cleanroom" / "v1").mkdir(parents=True)
    for p in codegen.proto_files():
        text = p.read_text()
        if p.stem == "runs":
            text = text.replace("message CommitUploadRequest {", "message CommitUploadRequest {\n  string extra = 99;", 1)
        (proto_root / "cleanroom" / "v1" / p.name).write_text(text)
    monkeypatch.setattr(codegen, "PROTO_ROOT", proto_root)
    monkeypatch.setattr(codegen, "PROTO_DIR", proto_root / "cleanroom" / "v1")
    out = tmp_path / "out"
    out.mkdir()
    codegen.generate(out)
    committed = _committed()
    assert (out / "cleanroom" / "v1" / "runs_pb2.py").read_bytes() != committed["runs_pb2.py"]
    assert (out / "cleanroom" / "v1" / "agreements_pb2.py").read_bytes() == committed["agreements_pb2.py"]
