"""The vendor's view of an attribution release, joined back to its own deals: per-deal credit by
Opportunity ID, and commission statements computed here (the coordinator never sees the plan)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cleanroom.attribution import (
    Deal,
    DealCredit,
    Period,
    Plan,
    commission_statement,
    month_period,
    parse_plan,
    quarter_period,
)
from cleanroom.errors import InputError
from cleanroom_client.inputs.deals import DealRow


def check_as_of(text: str | None) -> None:
    """Refuse a bad --as-of before reading or uploading anything (the coordinator checks again)."""
    if not text:
        return
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r} is not a date; write it as YYYY-MM-DD") from None
    if day > datetime.now(UTC).date():
        raise InputError(f"--as-of {text} is in the future; open deals are judged at a date that has passed")


def load_plan(path_text: str | None) -> Plan | None:
    """The commission plan in a JSON file, None without one."""
    if not path_text:
        return None
    path = Path(path_text)
    try:
        return parse_plan(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the commission plan ({exc})") from None


def period(text: str | None, as_of: date) -> Period:
    """YYYY-MM or YYYY-Qn; the quarter of ``as_of`` when not given."""
    if not text:
        return quarter_period(as_of)
    try:
        if "-Q" in text.upper():
            year, q = text.upper().split("-Q")
            return quarter_period(date(int(year), 3 * int(q) - 2, 1))
        year, month = text.split("-")
        return month_period(date(int(year), int(month), 1))
    except ValueError:
        raise InputError(f"--period {text!r}: use YYYY-MM or YYYY-Qn") from None


def vendor_view(release: dict[str, Any], deals: list[DealRow], plan: Plan | None, period_text: str | None) -> dict[str, Any]:
    """Per-partner credit, per-deal credit joined back to Opportunity IDs, metrics (and commissions with a plan)."""
    view = {
        "model": release["model"],
        "as_of": release["as_of"],
        "partners": release["partners"],
        "deals": [
            {
                "deal_id": deals[d["ref"]].deal_id,
                "amount": d["amount"],
                "currency": d["currency"],
                "credits": d["credits"],
                "unattributed": d["unattributed"],
                "influencers": d["influencers"],
                "sourcers": d["sourcers"],
            }
            for d in release["deals"]
        ],
        "metrics": release["metrics"],
        "job_id": release["job_id"],
        "agreements": release["agreements"],
    }
    if plan is not None:
        view["commissions"] = statements(release, deals, plan, period_text)
    return view


def statements(release: dict[str, Any], deals: list[DealRow], plan: Plan, period_text: str | None) -> list[dict[str, Any]]:
    """Commission statements per partner, computed here from the vendor's own deals and the released credit."""
    within = period(period_text, date.fromisoformat(release["as_of"]))
    own = [
        Deal(
            ref=d["ref"],
            account=0,
            amount=deals[d["ref"]].amount,
            currency=deals[d["ref"]].currency,
            outcome=deals[d["ref"]].outcome,
            created=deals[d["ref"]].created,
            closed=deals[d["ref"]].closed,
            deal_type=deals[d["ref"]].deal_type,
        )
        for d in release["deals"]
    ]
    credits = [
        DealCredit(
            ref=d["ref"],
            credits={p: Decimal(a) for p, a in d["credits"].items()},
            unattributed=Decimal(d["unattributed"]),
            influencers=frozenset(d["influencers"]),
            sourcers=frozenset(d["sourcers"]),
        )
        for d in release["deals"]
    ]
    out = [
        commission_statement(plan, p["partner"], own, credits, within.start, within.end).to_dict() for p in release["partners"]
    ]
    for statement in out:  # a line names the vendor's own deal, not only the row reference sent
        for line in statement["lines"]:
            line["deal_id"] = deals[line["ref"]].deal_id
    return out
