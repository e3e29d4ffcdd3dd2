"""The client's wire boundary: the only package that imports generated code (``cleanroom.v1``).

It takes and returns our own records (``remote.types``); ``remote.convert``
turns them into messages and back; ``remote.channel`` holds the channel and
turns every gRPC failure into one of our exceptions.
"""

from cleanroom_client.remote.channel import CoordinatorUnavailable
from cleanroom_client.remote.client import Remote, ScopedRemote
from cleanroom_client.remote.convert import receipt_record
from cleanroom_client.remote.types import (
    Agreement,
    AttributionRelease,
    Cell,
    Chunk,
    DpSpend,
    HeadProof,
    OverlapRelease,
    OverlapTotals,
    PartyKey,
    PartyProgress,
    PartySigningKey,
    RevealedAccount,
    RevealRelease,
    RunStatus,
    UploadKind,
    UploadProgress,
    UploadReceipt,
    UploadRequest,
    UploadSession,
    ValueRelease,
)

__all__ = [
    "Agreement",
    "AttributionRelease",
    "Cell",
    "Chunk",
    "CoordinatorUnavailable",
    "DpSpend",
    "HeadProof",
    "OverlapRelease",
    "OverlapTotals",
    "PartyKey",
    "PartyProgress",
    "PartySigningKey",
    "Remote",
    "RevealRelease",
    "RevealedAccount",
    "RunStatus",
    "ScopedRemote",
    "UploadKind",
    "UploadProgress",
    "UploadReceipt",
    "UploadRequest",
    "UploadSession",
    "ValueRelease",
    "receipt_record",
]
