"""The demo's attribution check: released credit against the generator's ground truth.

The expected figures join deals to touches through the generator's own
company ids (never through the PSI join or the normaliser) and run the agreed
model on them; what the coordinator released must be the same to the cent.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from cleanroom.attribution import AttributionConfig, Deal, Touch, credit_deals, summarize_partners


def expected_credits(truth: dict[str, Any], config: AttributionConfig, as_of: date, model: str):
    """(deal_id -> {partner: Decimal}, partner -> PartnerSummary) from the ground truth."""
    deals, touches, ids = [], {}, {}
    for ref, d in enumerate(t for t in truth["deals"] if t["matchable"]):
        deals.append(
            Deal(
                ref=ref,
                account=d["company"],
                amount=Decimal(d["amount"]),
                currency=d["currency"],
                outcome=d["outcome"],
                created=date.fromisoformat(d["created"]),
                closed=date.fromisoformat(d["closed"]) if d["closed"] else None,
                deal_type=d["type"],
            )
        )
        touches[ref] = [Touch(partner=t["partner"], role=t["role"], day=date.fromisoformat(t["date"])) for t in d["touches"]]
        ids[ref] = d["deal_id"]
    credits = credit_deals(deals, touches, config, as_of, model)
    by_deal = {ids[c.ref]: c.credits for c in credits}
    summaries = {s.partner: s for s in summarize_partners(deals, credits, partners=truth["partners"])}
    return by_deal, summaries


def check_attribution(view: dict[str, Any], truth: dict[str, Any], config: AttributionConfig) -> list[str]:
    """Differences between the vendor's attribution view and the ground truth (empty when it matches)."""
    by_deal, summaries = expected_credits(truth, config, date.fromisoformat(view["as_of"]), view["model"])
    problems = []
    released = {d["deal_id"]: {p: Decimal(a) for p, a in d["credits"].items()} for d in view["deals"]}
    if set(released) != set(by_deal):
        problems.append(f"released {len(released)} deals, the generator has {len(by_deal)} matchable ones")
    for deal_id, credits in by_deal.items():
        if deal_id in released and released[deal_id] != credits:
            problems.append(f"deal {deal_id}: released {released[deal_id]}, truth {credits}")
    for row in view["partners"]:
        s = summaries.get(row["partner"])
        want = s.to_dict() if s else None
        if want != row:
            problems.append(f"partner {row['partner']}: released {row}, truth {want}")
    return problems[:20]
