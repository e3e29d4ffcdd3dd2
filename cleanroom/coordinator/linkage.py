"""Attribution runs: check the records riding beside the points, link deals to touches.

When both sides of an attribution run are double-blinded, the vendor's deal
accounts are joined to the partner's touched accounts by token (the same
DuckDB join as the overlap). What is kept is pseudonymous: the vendor's deal
records (its own row references, money and dates) and the partner's touches
(role and date) re-keyed to the vendor's account labels they matched. Touches
on accounts the vendor has no deal on are dropped here and never reach a model.

Records are fixed-size binary rows (cleanroom.attribution.recordio), so the
checks and the link are array operations, not a parse per record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from cleanroom.attribution.recordio import DEAL, TOUCH, RecordError, check_deals, check_touches, rows_on
from cleanroom.coordinator.overlap import SideTokens, match_pairs
from cleanroom.errors import InvalidArgument


def check_records(blob: bytes, *, vendor: bool, total_accounts: int, where: str) -> int:
    """Validate one chunk's records (deals from the vendor, touches from the partner); return their count."""
    what = "deal" if vendor else "touch"
    try:
        rows = (check_deals if vendor else check_touches)(blob, total_accounts)
    except RecordError as exc:
        raise InvalidArgument(f"{where}, {what} record {exc.index + 1}: {exc}") from None
    return len(rows)


@dataclass(frozen=True)
class Linked:
    """What an attribution run keeps: the vendor's deals, and the partner's touches on their accounts."""

    deals: np.ndarray  # DEAL rows, by ref
    touches: np.ndarray  # TOUCH rows whose account is the vendor's label it matched, by (account, day, role)

    @property
    def deals_digest(self) -> str:
        """The deals without their account labels (which follow each agreement's blinded order): equal
        digests are what lets one job span the runs of several partner agreements."""
        unlabelled = self.deals.copy()
        unlabelled["account"] = 0
        return hashlib.sha256(unlabelled.tobytes()).hexdigest()


def link(vendor_side: SideTokens, partner_side: SideTokens, vendor_records: bytes, partner_records: bytes) -> Linked:
    deals = check_deals(vendor_records, vendor_side.total_accounts)
    if len(deals) == 0:
        raise InvalidArgument("the vendor's upload carries no deal records")
    deals = np.sort(deals, order="ref", kind="stable")
    if (np.diff(deals["ref"].astype(np.int64)) == 0).any():
        raise InvalidArgument("deal references repeat; each deal record needs its own ref")
    touches = check_touches(partner_records, partner_side.total_accounts)
    touches = touches[np.argsort(touches["account"], kind="stable")]
    pairs = match_pairs(vendor_side, partner_side)
    # Each matched (vendor account, partner account) pair takes every touch on that partner account.
    pair, touch = rows_on(touches["account"], pairs[:, 1])
    linked = touches[touch] if len(touch) else np.zeros(0, dtype=TOUCH)
    linked["account"] = pairs[pair, 0].astype(np.uint32)
    linked = linked[np.lexsort((linked["role"], linked["day"], linked["account"]))]
    return Linked(deals=deals, touches=linked)


def to_blobs(linked: Linked) -> tuple[bytes, bytes]:
    return linked.deals.tobytes(), linked.touches.tobytes()


def from_blobs(deals: bytes, touches: bytes) -> Linked:
    return Linked(deals=np.frombuffer(deals, dtype=DEAL), touches=np.frombuffer(touches, dtype=TOUCH))
