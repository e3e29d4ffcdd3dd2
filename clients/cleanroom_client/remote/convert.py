"""The only place that turns generated wire messages into our records (``remote.types``) and back.

Most records copy their message field by field (the names are the .proto's);
``_record`` and ``_message`` do that once, and the functions below spell out
only what differs: enums, optional numbers (absent, not 0) and nested messages.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from cleanroom.auditlog.heads import AuditHead
from cleanroom.v1 import agreements_pb2, attribution_pb2, audit_pb2, results_pb2, runs_pb2
from cleanroom_client.remote import types as records

R = TypeVar("R")
M = TypeVar("M", bound=Message)

_KIND_TO_WIRE = {records.UploadKind.OWN: runs_pb2.UPLOAD_KIND_OWN, records.UploadKind.REBLINDED: runs_pb2.UPLOAD_KIND_REBLINDED}
_KIND_FROM_WIRE = {wire: kind for kind, wire in _KIND_TO_WIRE.items()}
_SCALARS = (str, bytes, int, float, bool)


def _record(cls: type[R], message: Message, **given: Any) -> R:
    """``cls`` from the message's fields of the same names (repeated fields as tuples), ``given`` taking precedence."""
    values = dict(given)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in values:
            value = getattr(message, f.name)
            values[f.name] = value if isinstance(value, _SCALARS) else tuple(value)
    return cls(**values)


def _message(cls: type[M], record: Any, **given: Any) -> M:
    """The message ``cls`` from the record's fields of the same names, ``given`` taking precedence."""
    values = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    message: M = cls(**{**values, **given})
    return message


def _optional(message: Message, name: str) -> Any:
    """An ``optional`` field's value, None when it is absent (an unreleased count is not a zero)."""
    return getattr(message, name) if message.HasField(name) else None


def audit_head(message: Message, name: str = "audit_head") -> AuditHead | None:
    """A signed audit head carried in field ``name`` (None when absent: a coordinator from before heads,
    or a release made before migration 9). Its signature is checked by the caller, not here."""
    if not message.HasField(name):
        return None
    head = getattr(message, name)
    return AuditHead(int(head.count), head.head_hash, head.signed_at, bytes(head.signature).hex())


def head_proof(message: audit_pb2.EntryHashesResponse) -> records.HeadProof:
    head = audit_head(message, "head")
    return records.HeadProof(head if head and head.count else None, {int(e.position): e.entry_hash for e in message.entries})


# -- agreements -----------------------------------------------------------------------


def agreement(message: agreements_pb2.Agreement) -> records.Agreement:
    keys = tuple(_record(records.PartyKey, e) for e in message.encryption)
    signing = tuple(_record(records.PartySigningKey, e) for e in message.signing)
    return _record(records.Agreement, message, encryption=keys, signing=signing)


# -- runs and uploads -----------------------------------------------------------------


def begin_upload_request(request: records.UploadRequest) -> runs_pb2.BeginUploadRequest:
    return _message(runs_pb2.BeginUploadRequest, request, kind=_KIND_TO_WIRE[request.kind])


def upload_session(message: runs_pb2.UploadSession) -> records.UploadSession:
    return _record(records.UploadSession, message)


def chunk_to_wire(chunk: records.Chunk) -> runs_pb2.PointChunk:
    return _message(runs_pb2.PointChunk, chunk)


def chunk(message: runs_pb2.PointChunk) -> records.Chunk:
    return _record(records.Chunk, message)


def upload_progress(message: runs_pb2.UploadProgress) -> records.UploadProgress:
    return _record(records.UploadProgress, message)


def upload_receipt(message: runs_pb2.UploadReceipt) -> records.UploadReceipt:
    return _record(records.UploadReceipt, message, kind=_KIND_FROM_WIRE.get(message.kind), audit_head=audit_head(message))


def receipt_record(receipt: records.UploadReceipt) -> dict[str, Any]:
    """An upload receipt as the receipts log keeps it: the message's proto3 JSON form (names as in
    runs.proto, 64-bit numbers as strings, bytes in base64), so the file format stays what it always was."""
    kind = _KIND_TO_WIRE[receipt.kind] if receipt.kind is not None else runs_pb2.UPLOAD_KIND_UNSPECIFIED
    message = _message(runs_pb2.UploadReceipt, receipt, kind=kind, audit_head=None)  # the log keeps the head beside it
    as_json: dict[str, Any] = MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    return as_json


def run_status(message: runs_pb2.RunStatus) -> records.RunStatus:
    parties = tuple(_record(records.PartyProgress, p) for p in message.parties)
    return _record(records.RunStatus, message, parties=parties)


# -- releases -------------------------------------------------------------------------


def _cells(cells: Any) -> tuple[records.Cell, ...]:
    """Overlap and reveal cells share their shape."""
    return tuple(_record(records.Cell, c, count=_optional(c, "count")) for c in cells)


def overlap_release(message: results_pb2.OverlapRelease) -> records.OverlapRelease:
    totals = _record(records.OverlapTotals, message.totals, overlap=_optional(message.totals, "overlap"))
    dp = _record(records.DpSpend, message.dp) if message.HasField("dp") else None
    greenfield = tuple(_record(records.GreenfieldCell, c, count=_optional(c, "count")) for c in message.greenfield)
    return _record(
        records.OverlapRelease,
        message,
        cells=_cells(message.cells),
        totals=totals,
        dp=dp,
        audit_head=audit_head(message),
        greenfield=greenfield,
    )


def reveal_release(message: results_pb2.RevealRelease) -> records.RevealRelease:
    return _record(records.RevealRelease, message, cells=_cells(message.cells), audit_head=audit_head(message))


def revealed_account(message: results_pb2.RevealedAccount) -> records.RevealedAccount:
    return _record(records.RevealedAccount, message)


def attribution_release(message: attribution_pb2.AttributionRelease) -> records.AttributionRelease:
    return _record(records.AttributionRelease, message, audit_head=audit_head(message))
