"""The privacy boundary, checked statically.

What this checks, precisely:

1. The architecture contracts in ``pyproject.toml`` (import-linter, run by ``make lint``
   too) are present, name the packages they should, and are KEPT: the coordinator
   never imports the client, the client never imports the coordinator, the shared
   library imports neither, nothing in the product imports the demo package, and only
   the gRPC adapters import the generated wire code. import-linter follows every
   ``import`` statement at any nesting level, and indirect chains (a -> b -> c) too.
   NOT checked: dynamic imports (``importlib.import_module``, ``__import__``) and
   module names in strings (``python -m cleanroom_client.cli`` in a subprocess command
   line, which the demo package does legitimately). A second test imports every
   module of the ``cleanroom`` package in a fresh interpreter and checks
   ``cleanroom_client`` was not loaded, which covers import-time dynamic imports.
   A test of the checker shows the coordinator contract breaks on a planted import.

2. In the generated protobuf descriptors (``cleanroom.v1.*_pb2``, every ``.proto``
   under ``proto/``), no field of any
   message -- in either direction, so in particular none of the messages a client
   sends to the coordinator (the request types of every RPC, including the
   client-streamed ``PointChunk``, and every message type nested in them) -- is
   named like a raw match key (a word of the field name is key, domain, email,
   name, website, url, company, ...). A field is taken to carry points or tokens
   when a word of its name is point(s)/token(s)/alpha(s)/beta(s): in the
   client->coordinator messages every such field is ``bytes`` unless its name
   says it is a count (total_points) and it is an integer; in the other messages
   integer counts (RunStatus/PartyProgress ``points``) are allowed too; no
   ``string`` field anywhere mentions points or tokens. This is a naming
   heuristic: a raw key in a field called ``foo`` would not be caught.
   NOT checked: what the bytes contain. A field such as ``terms_json`` or
   ``approver_terms_json`` is opaque JSON, and ``points`` could in principle hold
   unblinded hashes; that is the e2e privacy test's job (it scans what the
   coordinator stored), not this one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FieldDescriptor
from importlinter import api as importlinter

from cleanroom.v1 import (
    agreements_pb2,
    attribution_pb2,
    audit_pb2,
    enrolment_pb2,
    greenfield_pb2,
    registrations_pb2,
    results_pb2,
    runs_pb2,
)

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

RAW_KEY_WORDS = {
    "key",
    "keys",
    "domain",
    "domains",
    "email",
    "emails",
    "mail",
    "name",
    "names",
    "website",
    "websites",
    "url",
    "urls",
    "company",
    "companies",
    "hostname",
    "identifier",
}
POINT_WORDS = {"point", "points", "token", "tokens", "alpha", "alphas", "beta", "betas"}
COUNT_WORDS = {"total", "peer", "max", "min", "n", "num", "count"}


# -- 1. imports: the import-linter contracts ------------------------------------------------

SHARED_LIBRARY = {
    "cleanroom.errors",
    "cleanroom.popfilter",
    "cleanroom.terms_greenfield",
    "cleanroom.terms",
    "cleanroom.protocol",
    "cleanroom.unionfind",
    "cleanroom.psi",
    "cleanroom.oprf",
    "cleanroom.attribution",
    "cleanroom.crypto",
    "cleanroom.auditlog",
    "cleanroom.wire",
}
# id -> what the contract must say (every listed option must contain at least these modules).
BOUNDARY_CONTRACTS = {
    "coordinator-never-imports-client": {
        "type": "forbidden",
        "source_modules": {"cleanroom.coordinator"},
        "forbidden_modules": {"cleanroom_client"},
    },
    "client-never-imports-coordinator": {
        "type": "forbidden",
        "source_modules": {"cleanroom_client"},
        "forbidden_modules": {"cleanroom.coordinator"},
    },
    "shared-library-imports-neither-side": {
        "type": "forbidden",
        "source_modules": SHARED_LIBRARY,
        "forbidden_modules": {"cleanroom.coordinator", "cleanroom_client", "cleanroom.demo"},
    },
    "product-never-imports-demo": {
        "type": "forbidden",
        "source_modules": SHARED_LIBRARY | {"cleanroom.coordinator", "cleanroom_client", "cleanroom.terminal"},
        "forbidden_modules": {"cleanroom.demo"},
    },
    "only-adapters-import-generated-code": {"type": "protected", "protected_modules": {"cleanroom.v1"}},
}


def _contracts() -> dict[str, dict[str, object]]:
    config = importlinter.read_configuration(str(ROOT / "pyproject.toml"))
    return {c.get("id", c["name"]): c for c in config["contracts_options"]}


def lint_imports(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("contract_id", sorted(BOUNDARY_CONTRACTS))
def test_boundary_contract_is_configured(contract_id: str):
    contracts = _contracts()
    assert contract_id in contracts, f"pyproject.toml lost the {contract_id!r} contract"
    contract = contracts[contract_id]
    for option, wanted in BOUNDARY_CONTRACTS[contract_id].items():
        if isinstance(wanted, str):
            assert contract[option] == wanted
        else:
            assert wanted <= set(contract[option]), (
                f"{contract_id}: {option} must include {sorted(wanted - set(contract[option]))}"
            )
    if contract_id == "only-adapters-import-generated-code":
        # the adapters and the generated code itself may import it: nothing else
        allowed = set(contract["allowed_importers"]) - {"cleanroom.v1"}
        assert allowed and all(
            m.startswith("cleanroom.coordinator.grpc") or m.startswith("cleanroom_client.remote") for m in allowed
        )


@pytest.mark.parametrize("contract_id", sorted(BOUNDARY_CONTRACTS))
def test_boundary_contract_is_kept(contract_id: str):
    done = lint_imports("--contract", contract_id)
    assert done.returncode == 0 and "1 kept, 0 broken" in done.stdout, done.stdout + done.stderr


def test_the_contract_check_can_fail(tmp_path: Path):
    """The coordinator contract, as configured, breaks on a planted import of the client."""
    for package in ("cleanroom", "cleanroom/coordinator", "cleanroom_client"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "cleanroom" / "coordinator" / "leak.py").write_text("def f():\n    from cleanroom_client import secrets\n")
    (tmp_path / "cleanroom_client" / "secrets.py").write_text("")
    contract = _contracts()["coordinator-never-imports-client"]
    lines = ["[tool.importlinter]", 'root_packages = ["cleanroom", "cleanroom_client"]', "", "[[tool.importlinter.contracts]]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in contract.items()]  # strings and string lists: JSON is TOML here
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = lint_imports(cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "cleanroom.coordinator.leak -> cleanroom_client.secrets" in done.stdout
    (tmp_path / "cleanroom" / "coordinator" / "leak.py").write_text("import json\n")
    assert lint_imports(cwd=tmp_path, env=env).returncode == 0


def test_no_cleanroom_module_loads_the_client_at_import_time():
    # Imports every module of the cleanroom package (the demo package aside: it drives both sides).
    code = (
        "import importlib, pkgutil, sys, cleanroom\n"
        "names = [m.name for m in pkgutil.walk_packages(cleanroom.__path__, 'cleanroom.') if not m.name.startswith('cleanroom.demo')]\n"
        "assert len(names) > 40, names\n"
        "assert 'cleanroom.coordinator.server' in names and 'cleanroom.auditlog.verify' in names, names\n"
        "for m in names: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m == 'cleanroom_client' or m.startswith('cleanroom_client.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


# -- 2. the wire contract -------------------------------------------------------------------

FILES = (
    agreements_pb2.DESCRIPTOR,
    runs_pb2.DESCRIPTOR,
    results_pb2.DESCRIPTOR,
    attribution_pb2.DESCRIPTOR,
    audit_pb2.DESCRIPTOR,
    enrolment_pb2.DESCRIPTOR,
    greenfield_pb2.DESCRIPTOR,
    registrations_pb2.DESCRIPTOR,
)


def _all_messages(files=FILES):
    def walk(desc):
        yield desc
        for nested in desc.nested_types:
            yield from walk(nested)

    for fd in files:
        for msg in fd.message_types_by_name.values():
            yield from walk(msg)


def _client_to_coordinator(files=FILES):
    """Request types of every RPC, closed under message-typed fields."""
    todo = [m.input_type for fd in files for svc in fd.services_by_name.values() for m in svc.methods]
    seen: dict[str, object] = {}
    while todo:
        msg = todo.pop()
        if msg.full_name in seen:
            continue
        seen[msg.full_name] = msg
        todo += [f.message_type for f in msg.fields if f.message_type is not None]
    return seen


def _words(field_name: str) -> set[str]:
    return set(field_name.lower().split("_"))


INTEGER_TYPES = {
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_FIXED32,
}


def wire_problems(messages, strict: bool = True) -> list[str]:
    """Fields named like raw keys, and point/token fields that are not bytes.

    A field whose name mentions points/tokens must be bytes, except a count: with
    ``strict`` only a field whose name also says it is a count (total_points,
    peer_points) may be an integer; without, any integer field passes (e.g. the
    coordinator's ``PartyProgress.points``, a number of points). A string field
    mentioning points/tokens is a problem unless its name says it is a digest
    (``points_digest``: hex SHA-256 over blinded points, which the signed upload
    statement names so the peer can recompute it).
    """
    problems = []
    for msg in messages:
        for f in msg.fields:
            words = _words(f.name)
            where = f"{msg.full_name}.{f.name}"
            if words & RAW_KEY_WORDS:
                problems.append(f"{where}: named like a raw key")
            if not words & POINT_WORDS or f.type == FieldDescriptor.TYPE_BYTES:
                continue
            if f.type == FieldDescriptor.TYPE_STRING:
                if "digest" not in words:
                    problems.append(f"{where}: a string field carrying points/tokens")
            elif f.type not in INTEGER_TYPES or (strict and not words & COUNT_WORDS):
                problems.append(f"{where}: point-carrying field is not bytes")
    return problems


def test_client_to_coordinator_messages_are_the_expected_ones():
    names = set(_client_to_coordinator())
    # A guard on the guard: if this set shrinks, the checks below scan less than they seem to.
    assert {
        "cleanroom.v1.ProposeAgreementRequest",
        "cleanroom.v1.ApproveAgreementRequest",
        "cleanroom.v1.BeginUploadRequest",
        "cleanroom.v1.PointChunk",
        "cleanroom.v1.CommitUploadRequest",
        "cleanroom.v1.FetchPeerPointsRequest",
        "cleanroom.v1.GetOverlapRequest",
        "cleanroom.v1.RunAttributionRequest",
        "cleanroom.v1.ShowAttributionRequest",
        "cleanroom.v1.RequestEvaluationRequest",
        "cleanroom.v1.RegisterRequest",
        "cleanroom.v1.ConflictsRequest",
    } <= names


def test_every_proto_file_is_scanned():
    # A new .proto under proto/ must be added to FILES, or its fields would go unchecked.
    sources = {p.relative_to(ROOT / "proto").as_posix() for p in (ROOT / "proto").rglob("*.proto")}
    assert sources == {fd.name for fd in FILES}


def test_no_client_to_coordinator_field_carries_a_raw_key():
    assert wire_problems(_client_to_coordinator().values()) == []


def test_no_message_at_all_has_a_raw_key_field():
    messages = list(_all_messages())
    assert len(messages) >= 15
    assert wire_problems(messages, strict=False) == []


def test_points_travel_as_bytes():
    chunk = runs_pb2.DESCRIPTOR.message_types_by_name["PointChunk"]
    fields = {f.name: f.type for f in chunk.fields}
    assert fields["points"] == FieldDescriptor.TYPE_BYTES
    assert fields["accounts"] == FieldDescriptor.TYPE_BYTES  # opaque numeric labels, not names
    assert fields["populations"] == FieldDescriptor.TYPE_BYTES
    # every field of every message that carries points is found and is bytes
    carriers = [
        f"{m.full_name}.{f.name}"
        for m in _all_messages()
        for f in m.fields
        if _words(f.name) & POINT_WORDS and not _words(f.name) & COUNT_WORDS
    ]
    assert "cleanroom.v1.PointChunk.points" in carriers


def test_checker_flags_a_bad_message():
    """The wire check can fail: a synthetic proto with a raw-key field and string points."""
    proto = descriptor_pb2.FileDescriptorProto(name="bad_test.proto", package="badtest", syntax="proto3")
    msg = proto.message_type.add(name="Upload")
    T = descriptor_pb2.FieldDescriptorProto
    msg.field.add(name="company_domain", number=1, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    msg.field.add(name="points", number=2, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    msg.field.add(name="alpha", number=3, type=T.TYPE_UINT64, label=T.LABEL_OPTIONAL)
    msg.field.add(name="total_points", number=4, type=T.TYPE_UINT64, label=T.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    fd = pool.FindFileByName("bad_test.proto")
    problems = wire_problems(fd.message_types_by_name.values())
    assert any("company_domain" in p for p in problems)
    assert any("Upload.points: a string field" in p for p in problems)
    assert any("Upload.alpha: point-carrying field is not bytes" in p for p in problems)
    assert not any("total_points" in p for p in problems)
    assert wire_problems(fd.message_types_by_name.values(), strict=False) == [
        "badtest.Upload.company_domain: named like a raw key",
        "badtest.Upload.points: a string field carrying points/tokens",
    ]


@pytest.mark.parametrize("fd", FILES, ids=lambda fd: fd.name)
def test_descriptors_come_from_the_proto_sources(fd):
    # The descriptors checked above are those of the committed .proto files.
    assert (ROOT / "proto" / fd.name).is_file()
