"""The coordinator's signed audit heads as this client receives, keeps and hands them on.

Every release and upload receipt carries the head of the coordinator's audit
log as of the entry that recorded it. A head whose signature does not verify
is refused like a forged release. The heads kept in the receipts are the
party's evidence of how long the log was: an auditor checks them against an
export (``cleanroom audit verify --receipts``), the coordinator's REST
verification takes them as a heads export, and ``receipts verify
--against-coordinator`` checks them against the coordinator's current head.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cleanroom.auditlog.anchors import HEADS_FORMAT, HeadCheck, HeldHead, check_head, distinct, read_held_heads
from cleanroom.auditlog.heads import AuditHead
from cleanroom.crypto.signing import load_public_key
from cleanroom.errors import ProtocolError
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.remote import HeadProof


def verified_head(head: AuditHead | None, public_pem: bytes, what: str) -> AuditHead | None:
    """The head, once its signature verifies against the coordinator's key; ProtocolError (nothing kept) if not.
    None when the coordinator sent none (one from before audit heads, or a release made before them)."""
    if head is not None and not head.signed_by(load_public_key(public_pem)):
        raise ProtocolError(
            f"{what} carries an audit head (entry {head.count}) whose signature does not verify against the coordinator's "
            "signing key: it was forged or altered on the way; refusing it"
        )
    return head


def held(log: ReceiptLog) -> list[HeldHead]:
    """Every distinct head the receipts keep, oldest first."""
    return distinct(read_held_heads(log.path)) if log.path.exists() else []


def heads_export(log: ReceiptLog, party: str, newest: int | None = None) -> dict[str, Any]:
    """The heads as a file to hand to an auditor: signed heads only (no release contents), ``newest`` of them if given."""
    heads = held(log)
    if newest is not None:
        heads = heads[-newest:] if newest > 0 else []
    return {
        "format": HEADS_FORMAT,
        "party": party,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "heads": [{**h.head.to_dict(), "source": h.source} for h in heads],
    }


def against_coordinator(heads: list[HeldHead], proof: HeadProof, public_pem: bytes) -> list[HeadCheck]:
    """The held heads against the coordinator's current head and its entry hashes at the held positions."""
    current = verified_head(proof.head, public_pem, "the coordinator's current head")
    length = current.count if current is not None else 0
    hashes = dict(proof.entry_hashes)
    if current is not None:
        hashes[current.count] = current.head_hash  # the signed head outranks an unsigned hash at its own position
    key = load_public_key(public_pem)
    return [check_head(h, length, hashes, key) for h in heads]
