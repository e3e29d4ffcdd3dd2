"""What an audit entry is and how its hash is computed: shared by the store
(which writes entries) and the offline verifier (which rebuilds them).

An entry's hash covers its canonical JSON body, which includes the previous
entry's hash; the coordinator's Ed25519 key signs the 32-byte entry hash. A
signed checkpoint (entry count and head hash) closes every export, so a
truncated tail is detected too.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cleanroom.terms import canonical_json

GENESIS_HASH = "0" * 64
FORMAT = "cleanroom.audit/v1"


def entry_body(
    seq: int, at: str, actor: str, action: str, agreement_id: str | None, details: dict[str, Any], prev_hash: str
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "agreement_id": agreement_id,
        "details": details,
        "prev_hash": prev_hash,
    }


def entry_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(body)).hexdigest()


def checkpoint_body(count: int, head_hash: str, signed_at: str, agreement_id: str | None) -> dict[str, Any]:
    return {"format": FORMAT, "count": count, "head_hash": head_hash, "signed_at": signed_at, "agreement_filter": agreement_id}
