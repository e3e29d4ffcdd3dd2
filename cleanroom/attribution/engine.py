"""Credit every deal with one model: eligibility, shares, cents.

Pure: deals and touches in, ``DealCredit``s out, in the order of the deals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from cleanroom.attribution.config import AttributionConfig
from cleanroom.attribution.eligibility import eligible_touches, reference_date
from cleanroom.attribution.models import model_function
from cleanroom.attribution.money import allocate, at_least_cents, money_str
from cleanroom.attribution.records import OUTCOMES, Deal, Touch
from cleanroom.errors import InvalidArgument


@dataclass(frozen=True)
class DealCredit:
    """What one deal credits to whom.

    - ``credits``: partner -> amount in the deal's currency, with two decimals
      (more when the deal amount has more). Partners whose credit is 0.00 are
      left out (a zero role weight, or a share too small for a cent); they
      still appear in ``influencers``. For split models the credits plus
      ``unattributed`` equal the deal amount exactly.
    - ``unattributed``: the part credited to nobody: the whole amount when the
      deal has no eligible touch (or, in role-split, no role with a positive
      weight), the weight of absent roles under ``unassigned="keep"``, else
      0.00. For ``influenced`` (every partner gets the whole amount) it is the
      amount when no partner touched the deal and 0.00 otherwise.
    - ``influencers``: partners with at least one eligible touch.
    - ``sourcers``: partners with at least one eligible sourcing touch.
    """

    ref: int
    credits: dict[str, Decimal]
    unattributed: Decimal
    influencers: frozenset[str]
    sourcers: frozenset[str]

    def to_dict(self) -> dict[str, Any]:
        # Called once per deal of a release (a hundred thousand): the empty cases skip the sorting.
        credits = self.credits
        return {
            "ref": self.ref,
            "credits": {p: money_str(credits[p]) for p in sorted(credits)} if credits else {},
            "unattributed": money_str(self.unattributed),
            "influencers": sorted(self.influencers) if self.influencers else [],
            "sourcers": sorted(self.sourcers) if self.sourcers else [],
        }


def check_deal(deal: Deal) -> None:
    """Refuse a deal the models cannot credit (the readers should have caught it)."""
    if isinstance(deal.amount, bool) or not isinstance(deal.amount, Decimal) or not deal.amount.is_finite():
        raise InvalidArgument(f"deal {deal.ref}: amount must be a finite Decimal, got {deal.amount!r}")
    if deal.amount < 0:
        raise InvalidArgument(f"deal {deal.ref}: amount {deal.amount} is negative; amounts must be >= 0")
    if deal.outcome not in OUTCOMES:
        raise InvalidArgument(f"deal {deal.ref}: unknown outcome {deal.outcome!r}; accepted: {', '.join(OUTCOMES)}")
    if deal.outcome != "open" and deal.closed is None:
        raise InvalidArgument(f"deal {deal.ref} is {deal.outcome} but has no close date; give its close date")
    if deal.outcome != "open" and deal.closed is not None and deal.closed < deal.created:
        raise InvalidArgument(f"deal {deal.ref} closed on {deal.closed} before it was created on {deal.created}; fix its dates")


def credit_deal(
    deal: Deal, touches: Sequence[Touch], config: AttributionConfig, today: date, model: str | None = None
) -> DealCredit:
    """Credit one deal (see ``credit_deals``)."""
    check_deal(deal)
    eligible = eligible_touches(deal, touches, config, today) if touches else []
    return _credit_eligible(deal, eligible, config, today, model or config.model)


_NOBODY: frozenset[str] = frozenset()


def _credit_eligible(deal: Deal, eligible: Sequence[Touch], config: AttributionConfig, today: date, name: str) -> DealCredit:
    """Credit a checked deal from its eligible touches, ordered as ``eligible_touches`` orders them."""
    if not eligible:  # every model credits nobody: the whole amount is unattributed (as allocate would write it)
        return DealCredit(deal.ref, {}, at_least_cents(deal.amount), _NOBODY, _NOBODY)
    influencers = frozenset(t.partner for t in eligible)
    sourcers = frozenset(t.partner for t in eligible if t.role == "sourcing")
    weights, total = model_function(name)(deal, eligible, config, reference_date(deal, today))
    if name == "influenced":
        credits = {p: at_least_cents(deal.amount) for p in sorted(weights) if deal.amount}
        unattributed = Decimal(0) if weights else deal.amount
        return DealCredit(deal.ref, credits, at_least_cents(unattributed), influencers, sourcers)
    credits, unattributed = allocate(deal.amount, weights, total)
    return DealCredit(deal.ref, credits, unattributed, influencers, sourcers)


def credit_deals(
    deals: Sequence[Deal],
    touches_by_ref: Mapping[int, Sequence[Touch]],
    config: AttributionConfig,
    today: date,
    model: str | None = None,
    *,
    eligible: bool = False,
) -> list[DealCredit]:
    """Credit each deal with ``model`` (default: ``config.model``), in the order of ``deals``.

    ``touches_by_ref`` maps a deal's ref to the partner touches on its account
    (all partners together); a ref that is missing means no touches. ``today``
    is the reference date of open deals. ``eligible=True`` says the touches
    given already are each deal's eligible touches in their order (as
    ``eligible_touches``, or ``eligible_records.eligible_by_deal`` for many
    deals at once, gives them), so they are not filtered and sorted again.
    """
    name = model or config.model
    model_function(name)  # an unknown model fails before any work
    seen: set[int] = set()
    for deal in deals:
        if deal.ref in seen:
            raise InvalidArgument(f"deal ref {deal.ref} appears more than once; each deal must be given once")
        seen.add(deal.ref)
        check_deal(deal)
    if eligible:
        return [_credit_eligible(d, touches_by_ref.get(d.ref, ()), config, today, name) for d in deals]
    return [
        _credit_eligible(
            d, eligible_touches(d, touches_by_ref[d.ref], config, today) if d.ref in touches_by_ref else [], config, today, name
        )
        for d in deals
    ]
