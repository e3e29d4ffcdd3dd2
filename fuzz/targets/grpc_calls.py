"""gRPC requests as bytes, handled in-process by the coordinator's servicers (no network, same code path).

The input is up to four calls, each ``[method][caller][length: 2 bytes LE][request bytes]``; the request
is parsed from its bytes with the method's own message type (``ParseFromString``, as grpc does), its
placeholders are filled in (world.py), and the servicer method runs against a real ``Coordinator`` over a
DuckDB store. The servicer must answer or refuse with one of our statuses: a call ending INTERNAL, or an
exception escaping the servicer (grpc answers it UNKNOWN), is a crash. Inputs protobuf cannot parse are
skipped (grpc refuses them before any servicer runs).

The world is built once per process and rebuilt every ``REBUILD`` inputs (sooner once an input revoked
its active agreement), so state accumulates in between (as on a real coordinator); a crash's input is
replayed on a fresh world by its regression test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import grpc
from google.protobuf.message import DecodeError, Message

from cleanroom.coordinator.grpc.registrations import RegistrationService
from cleanroom.coordinator.grpc.service import AgreementService, AttributionService, ResultService, RunService
from cleanroom.v1 import agreements_pb2, attribution_pb2, registrations_pb2, results_pb2, runs_pb2
from fuzz.targets import world as worlds
from fuzz.targets.crash import Crash

REBUILD = 5000
MIN_LIFE = 200  # inputs a world serves at least, even once its active agreement was revoked (a build costs ~0.7 s)
MAX_CALLS = 4


class Method(NamedTuple):
    service: type
    name: str
    request: type[Message]
    streams_in: bool = False


METHODS = (
    Method(AgreementService, "Propose", agreements_pb2.ProposeAgreementRequest),
    Method(AgreementService, "Get", agreements_pb2.GetAgreementRequest),
    Method(AgreementService, "Approve", agreements_pb2.ApproveAgreementRequest),
    Method(AgreementService, "List", agreements_pb2.ListAgreementsRequest),
    Method(AgreementService, "Revoke", agreements_pb2.RevokeAgreementRequest),
    Method(RunService, "BeginUpload", runs_pb2.BeginUploadRequest),
    Method(RunService, "UploadChunks", runs_pb2.PointChunk, streams_in=True),
    Method(RunService, "CommitUpload", runs_pb2.CommitUploadRequest),
    Method(RunService, "FetchPeerPoints", runs_pb2.FetchPeerPointsRequest),
    Method(RunService, "Status", runs_pb2.RunStatusRequest),
    Method(ResultService, "GetOverlap", results_pb2.GetOverlapRequest),
    Method(ResultService, "GetReveal", results_pb2.GetRevealRequest),
    Method(AttributionService, "Run", attribution_pb2.RunAttributionRequest),
    Method(AttributionService, "Show", attribution_pb2.ShowAttributionRequest),
    # Appended (never inserted): a seed's method byte keeps naming the same method.
    Method(RegistrationService, "CreateProgram", registrations_pb2.CreateProgramRequest),
    Method(RegistrationService, "RequestEvaluation", registrations_pb2.RequestEvaluationRequest),
    Method(RegistrationService, "PendingEvaluations", registrations_pb2.PendingEvaluationsRequest),
    Method(RegistrationService, "PostEvaluations", registrations_pb2.PostEvaluationsRequest),
    Method(RegistrationService, "Register", registrations_pb2.RegisterRequest),
    Method(RegistrationService, "Withdraw", registrations_pb2.WithdrawRequest),
    Method(RegistrationService, "Conflicts", registrations_pb2.ConflictsRequest),
)
CRASHES = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code


class Context:
    """What the servicers read of grpc's context: the caller's certificate name, and abort (which raises)."""

    def __init__(self, party: str) -> None:
        self.party = party

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_common_name": [self.party.encode()]}

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)


def encode(method: str, caller: int, request: Message) -> bytes:
    """One call as the harness reads it (for seeds and regression tests)."""
    index = next(i for i, m in enumerate(METHODS) if m.name == method)
    body = request.SerializeToString()
    return bytes([index, caller]) + len(body).to_bytes(2, "little") + body


def calls(data: bytes) -> Iterator[tuple[Method, str, bytes]]:
    while len(data) >= 4:
        method, caller, size = METHODS[data[0] % len(METHODS)], worlds.PARTIES[data[1] % 3], int.from_bytes(data[2:4], "little")
        yield method, caller, data[4 : 4 + size]
        data = data[4 + size :]


def _fill(message: Message, world: worlds.World) -> None:
    for field, value in message.ListFields():
        if field.type == field.TYPE_STRING and field.is_repeated:
            value[:] = [world.strings.get(v, v) for v in value]
        elif field.type == field.TYPE_STRING:
            setattr(message, field.name, world.strings.get(value, value))
        elif field.type == field.TYPE_BYTES and not field.is_repeated:
            setattr(message, field.name, world.blobs.get(value, value))


def call(world: worlds.World, method: Method, caller: str, body: bytes) -> None:
    request = method.request()
    try:
        request.ParseFromString(body)
    except DecodeError:
        return
    _fill(request, world)
    handler = getattr(method.service(world.coordinator), method.name)
    argument: Any = iter([request]) if method.streams_in else request
    try:
        answer = handler(argument, Context(caller))
        if isinstance(answer, Iterator):
            answer = list(answer)
    except Aborted as exc:
        if exc.code in CRASHES:
            raise Crash(f"{method.name} by {caller} ended {exc} for {request!r}") from None
        return
    if answer is None:
        raise Crash(f"{method.name} by {caller} answered nothing for {request!r}")
    if method.name == "Revoke" and getattr(request, "agreement_id", "") == world.strings["@a"]:
        _state["revoked"] = True  # the active agreement is gone: later inputs would only meet refusals


_state: dict[str, Any] = {"world": None, "inputs": 0, "revoked": False}


def check(data: bytes) -> None:
    if _state["world"] is None or _state["inputs"] >= REBUILD or (_state["revoked"] and _state["inputs"] >= MIN_LIFE):
        if _state["world"] is not None:
            _state["world"].close()
        _state["world"], _state["inputs"], _state["revoked"] = worlds.build(), 0, False
    _state["inputs"] += 1
    for method, caller, body in list(calls(data))[:MAX_CALLS]:
        call(_state["world"], method, caller, body)
