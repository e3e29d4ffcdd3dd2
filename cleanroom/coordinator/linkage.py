"""Attribution runs: check the records riding beside the points, link deals to touches.

When both sides of an attribution run are double-blinded, the vendor's deal
accounts are joined to the partner's touched accounts by token (the same
DuckDB join as the overlap). What is kept is pseudonymous: the vendor's deal
records (its own row references, money and dates) and, per linked vendor
account, the partner's touches on it (role and date). Touches on accounts
the vendor has no deal on are dropped here and never reach a model.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date
from typing import Any

from cleanroom.attribution.recordio import decode_deal, decode_touch, parse_lines
from cleanroom.attribution.records import Deal, Touch
from cleanroom.coordinator.overlap import SideTokens, match_pairs
from cleanroom.errors import InvalidArgument


def check_records(blob: bytes, *, vendor: bool, total_accounts: int, where: str) -> int:
    """Validate one chunk's records (deals from the vendor, touches from the partner); return their count."""
    decode = decode_deal if vendor else decode_touch
    what = "deal" if vendor else "touch"
    lines = parse_lines(blob, where)
    for n, values in enumerate(lines, 1):
        try:
            decode(values, total_accounts)
        except ValueError as exc:
            raise InvalidArgument(f"{where}, {what} record {n}: {exc}") from None
    return len(lines)


def link(
    vendor_side: SideTokens,
    partner_side: SideTokens,
    vendor_records: bytes,
    partner_records: bytes,
    *,
    vendor: str,
    partner: str,
) -> dict[str, Any]:
    """The stored result of an attribution run (JSON-able)."""
    deals = [decode_deal(v, vendor_side.total_accounts) for v in parse_lines(vendor_records, "deals")]
    refs = [d.ref for d in deals]
    if len(set(refs)) != len(refs):
        raise InvalidArgument("deal references repeat; each deal record needs its own ref")
    if not deals:
        raise InvalidArgument("the vendor's upload carries no deal records")
    touches_of: dict[int, list[list[str]]] = defaultdict(list)
    for values in parse_lines(partner_records, "touches"):
        account, role, day = decode_touch(values, partner_side.total_accounts)
        touches_of[account].append([role, day.isoformat()])
    linked: dict[int, list[list[str]]] = defaultdict(list)
    for v_acc, p_acc in match_pairs(vendor_side, partner_side).tolist():
        linked[v_acc].extend(touches_of.get(p_acc, ()))
    # Account labels differ per agreement (they follow the blinded order), so the
    # digest that shows "same deals in every run" leaves them out.
    deal_lines = sorted(json.dumps(_deal_json(d)[1:]).encode() for d in deals)
    return {
        "purpose": "attribution",
        "vendor": vendor,
        "partner": partner,
        "deals": [_deal_json(d) for d in deals],
        # Same deal records in every partner's run is what lets one job span agreements.
        "deals_digest": hashlib.sha256(b"\n".join(deal_lines)).hexdigest(),
        "touches": {str(acc): sorted(t) for acc, t in sorted(linked.items()) if t},
    }


def _deal_json(d: Deal) -> list:
    return [d.account, d.ref, str(d.amount), d.currency, d.outcome, d.created.isoformat(),
            d.closed.isoformat() if d.closed else None, d.deal_type]


def deals_of(result: dict[str, Any]) -> list[Deal]:
    return [decode_deal(v, 2**32) for v in result["deals"]]


def touches_by_ref(result: dict[str, Any]) -> dict[int, list[Touch]]:
    """The partner's touches on each deal's account, keyed by deal ref.

    Only the (account, ref) columns of the stored deals are read: the deals
    themselves were validated when they arrived and are decoded once per job.
    """
    partner = result["partner"]
    by_account = {int(acc): [Touch(partner=partner, role=role, day=date.fromisoformat(day)) for role, day in t]
                  for acc, t in result["touches"].items()}
    return {ref: by_account[account] for account, ref, *_ in result["deals"] if account in by_account}
