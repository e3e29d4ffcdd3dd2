"""The privacy boundary, checked statically.

What this checks, precisely:

1. No ``.py`` file under ``cleanroom/`` has an ``import`` or ``from ... import``
   statement (anywhere in the file, at any nesting level: module top, functions,
   ``try`` blocks, ``if TYPE_CHECKING``) whose module is ``cleanroom_client`` or
   a submodule of it. Found by parsing each file with ``ast``. NOT checked:
   dynamic imports (``importlib.import_module("cleanroom_client...")``,
   ``__import__``), module names in strings (e.g. ``python -m cleanroom_client.cli``
   in a subprocess command line, which cleanroom/localrun.py does legitimately),
   or code reached through a third package. A second test imports the coordinator's
   modules in a fresh interpreter and checks ``cleanroom_client`` was not loaded
   transitively, which covers imports through intermediaries for those modules.

2. In the generated protobuf descriptors (``cleanroom.v1.*_pb2``), no field of any
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

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FieldDescriptor

from cleanroom.v1 import agreements_pb2, results_pb2, runs_pb2

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cleanroom"
FORBIDDEN_PACKAGE = "cleanroom_client"

RAW_KEY_WORDS = {
    "key", "keys", "domain", "domains", "email", "emails", "mail", "name", "names",
    "website", "websites", "url", "urls", "company", "companies", "hostname", "identifier",
}
POINT_WORDS = {"point", "points", "token", "tokens", "alpha", "alphas", "beta", "betas"}
COUNT_WORDS = {"total", "peer", "max", "min", "n", "num", "count"}


# -- 1. imports --------------------------------------------------------------------------


def forbidden_imports(source: str, filename: str = "<src>") -> list[str]:
    """Every import statement in ``source`` that names cleanroom_client (line: statement)."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names = [node.module]
            # ``from cleanroom import cleanroom_client``-style: the imported names too
            names += [f"{node.module or ''}.{alias.name}".lstrip(".") for alias in node.names]
            names += [alias.name for alias in node.names]
        for name in names:
            if name == FORBIDDEN_PACKAGE or name.startswith(FORBIDDEN_PACKAGE + "."):
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
                break
    return found


def test_checker_finds_every_import_form():
    source = """
import os
import cleanroom_client
import cleanroom_client.inputs.keys.domain as d
from cleanroom_client.inputs import readers
from cleanroom_client.inputs.keys import domain
def f():
    try:
        from cleanroom_client.inputs.readers import read
    except ImportError:
        pass
if True:
    import json, cleanroom_client.protocol.mapping
"""
    assert len(forbidden_imports(source)) == 6
    assert forbidden_imports("import cleanroom\nfrom cleanroom.psi import blind\nimport cleanroom_clientele\n") == []


def _python_files() -> list[Path]:
    # The demo package is not product code: it drives both sides (import-linter keeps the product off it).
    files = sorted(f for f in PACKAGE.rglob("*.py") if f.relative_to(PACKAGE).parts[0] != "demo")
    assert len(files) > 20, "the scan found too few files; is PACKAGE right?"
    assert PACKAGE / "coordinator" / "core.py" in files
    return files


def test_no_module_under_cleanroom_imports_the_client():
    offenders = []
    for path in _python_files():
        offenders += forbidden_imports(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert offenders == [], "cleanroom/ imports the client's raw-data code:\n" + "\n".join(offenders)


def test_coordinator_modules_do_not_load_the_client_transitively():
    modules = [
        "cleanroom.coordinator.core",
        "cleanroom.coordinator.grpc.service",
        "cleanroom.coordinator.server",
        "cleanroom.coordinator.store",
        "cleanroom.coordinator.overlap",
        "cleanroom.coordinator.release",
        "cleanroom.coordinator.audit.export",
        "cleanroom.auditlog.verify",
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m == 'cleanroom_client' or m.startswith('cleanroom_client.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


# -- 2. the wire contract -------------------------------------------------------------------

FILES = (agreements_pb2.DESCRIPTOR, runs_pb2.DESCRIPTOR, results_pb2.DESCRIPTOR)


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
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_FIXED32,
}


def wire_problems(messages, strict: bool = True) -> list[str]:
    """Fields named like raw keys, and point/token fields that are not bytes.

    A field whose name mentions points/tokens must be bytes, except a count: with
    ``strict`` only a field whose name also says it is a count (total_points,
    peer_points) may be an integer; without, any integer field passes (e.g. the
    coordinator's ``PartyProgress.points``, a number of points). A string field
    mentioning points/tokens is always a problem.
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
    } <= names


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
