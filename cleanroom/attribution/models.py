"""Attribution models: one pure function per model.

Every model takes ``(deal, touches, config, reference)`` where ``touches`` are
the deal's eligible touches sorted by (date, partner, role) (see
``eligibility``) and ``reference`` is the deal's reference date, and returns
the deal's exact ``Shares``: integer weights per partner over an integer
total, so partner p's share of the amount is ``weights[p] / total`` with no
rounding at all (integers rather than ``Fraction``s only because they are
several times faster). Only partners with a positive weight appear.

For the split models the weights sum to the total, except role-split, whose
weights may sum to less: the rest is unattributed (``unassigned="keep"``, or
no role with a positive weight present). ``influenced`` is not a split: every
partner gets weight 1 of total 1 (the full amount). No touches give no
shares. Turning shares into cents is ``money.allocate``'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal, localcontext
from functools import lru_cache
from math import lcm
from typing import NamedTuple

from cleanroom.attribution.config import AttributionConfig
from cleanroom.attribution.records import Deal, Touch
from cleanroom.errors import InvalidArgument


class Shares(NamedTuple):
    """Partner p gets ``weights[p] / total`` of the amount; ``(total - sum) / total`` is unattributed."""

    weights: dict[str, int]
    total: int


NO_SHARES = Shares({}, 1)
Model = Callable[[Deal, Sequence[Touch], AttributionConfig, date], Shares]

# Position-based: 2/5 to the first touch, 2/5 to the last, 1/5 shared by the touches between.
POSITION_END, POSITION_MIDDLE, POSITION_PARTS = 2, 1, 5


def _count(partners: Sequence[str]) -> Shares:
    """One unit of weight per entry: a partner listed twice gets twice the share."""
    counts: dict[str, int] = {}
    for p in partners:
        counts[p] = counts.get(p, 0) + 1
    return Shares(counts, len(partners)) if partners else NO_SHARES


def _equal(partners: Sequence[str]) -> Shares:
    """Equal shares among distinct partners."""
    distinct = sorted(set(partners))
    return Shares(dict.fromkeys(distinct, 1), len(distinct)) if distinct else NO_SHARES


def role_split(deal: Deal, touches: Sequence[Touch], config: AttributionConfig, reference: date) -> Shares:
    """Configured role weights, each role's weight split equally among the partners holding it.

    A partner holding a role several times on the deal counts once for that
    role; a partner holding two roles gets a part of each. Weights are relative
    (divided by their total). The weight of roles nobody holds on the deal is
    redistributed over the roles present in proportion to their weights
    (``unassigned="redistribute"``) or left unattributed (``"keep"``).

    When every role present weighs 0 (say only a co-sell touch with the default
    co-sell weight 0) nothing is credited and the whole amount is unattributed,
    in both modes: a weight of 0 is the parties' agreement that the role earns
    nothing, so it is not handed credit through redistribution. The partners
    still count as having influenced the deal.
    """
    weights = config.role_units
    holders: dict[str, set[str]] = {}
    for t in touches:
        if weights[t.role]:
            holders.setdefault(t.role, set()).add(t.partner)
    if not holders:
        return NO_SHARES
    base = sum(weights[r] for r in holders) if config.unassigned == "redistribute" else sum(weights.values())
    common = lcm(*(len(partners) for partners in holders.values()))
    shares: dict[str, int] = {}
    for role, partners in holders.items():
        each = weights[role] * (common // len(partners))
        for p in partners:
            shares[p] = shares.get(p, 0) + each
    return Shares(shares, base * common)


def first_touch(deal: Deal, touches: Sequence[Touch], config: AttributionConfig, reference: date) -> Shares:
    """Whole amount to the partner of the first touch (earliest date; on a tie, the first partner name)."""
    return Shares({touches[0].partner: 1}, 1) if touches else NO_SHARES


def last_touch(deal: Deal, touches: Sequence[Touch], config: AttributionConfig, reference: date) -> Shares:
    """Whole amount to the partner of the last touch (latest date; on a tie, the last partner name)."""
    return Shares({touches[-1].partner: 1}, 1) if touches else NO_SHARES


def linear(deal: Deal, touches: Sequence[Touch], config: AttributionConfig, reference: date) -> Shares:
    """Equal share per touch: a partner with two of five touches gets 2/5."""
    return _count([t.partner for t in touches])


@lru_cache(maxsize=8192)
def decay_weight(age_days: int, half_life_days: Decimal) -> Decimal:
    """2^(-age/half_life), correctly rounded to 50 significant digits.

    Exactly 2^-k when the age is k half-lives. Decimal arithmetic is specified
    to the digit, so the weight (and every credit) is the same on every
    platform, unlike float.
    """
    with localcontext() as ctx:
        ctx.prec = 50
        return Decimal(2) ** (Decimal(-age_days) / half_life_days)


@lru_cache(maxsize=8192)
def _decay_parts(age_days: int, half_life_days: Decimal) -> tuple[int, int]:
    """decay_weight as (integer coefficient, exponent): the weight is coefficient x 10^exponent."""
    _, digits, exponent = decay_weight(age_days, half_life_days).as_tuple()
    return int("".join(map(str, digits))), int(exponent)


def time_decay(deal: Deal, touches: Sequence[Touch], config: AttributionConfig, reference: date) -> Shares:
    """Weight 2^(-(reference - touch day) / half_life) per touch, normalised to sum 1.

    The Decimal weights are scaled by one power of ten to exact integers, so
    normalising them adds no rounding.
    """
    if not touches:
        return NO_SHARES
    parts = [(t.partner, _decay_parts((reference - t.day).days, config.half_life_days)) for t in touches]
    exponent = min(exp for _, (_, exp) in parts)
    shares: dict[str, int] = {}
    for partner, (coefficient, exp) in parts:
        shares[partner] = shares.get(partner, 0) + coefficient * 10 ** (exp - exponent)
    return Shares(shares, sum(shares.values()))


def position_based(deal: Deal, touches: Sequence[Touch], config: AttributionConfig, reference: date) -> Shares:
    """40% to the first touch, 40% to the last, 20% shared equally by the touches between.

    One touch takes 100%, two touches 50/50 (there is nothing between them).
    """
    n = len(touches)
    if n <= 2:
        return _count([t.partner for t in touches])
    between = n - 2  # in units of 1/(5 * between): ends 2 * between each, a touch between 1
    shares: dict[str, int] = {}
    for i, t in enumerate(touches):
        w = POSITION_END * between if i in (0, n - 1) else POSITION_MIDDLE
        shares[t.partner] = shares.get(t.partner, 0) + w
    return Shares(shares, POSITION_PARTS * between)


def partner_weighted(deal: Deal, touches: Sequence[Touch], config: AttributionConfig, reference: date) -> Shares:
    """Sourcing wins: the partners with a sourcing touch share the whole amount equally.

    Without a sourcing touch the configured ``fallback_model`` decides.
    """
    sourcers = [t.partner for t in touches if t.role == "sourcing"]
    if sourcers:
        return _equal(sourcers)
    return MODEL_FUNCTIONS[config.fallback_model](deal, touches, config, reference)


def influenced(deal: Deal, touches: Sequence[Touch], config: AttributionConfig, reference: date) -> Shares:
    """Not a split: every partner with a touch is credited the whole amount (influenced pipeline)."""
    return Shares(dict.fromkeys(sorted({t.partner for t in touches}), 1), 1)


MODEL_FUNCTIONS: dict[str, Model] = {
    "role-split": role_split,
    "first-touch": first_touch,
    "last-touch": last_touch,
    "linear": linear,
    "time-decay": time_decay,
    "position-based": position_based,
    "partner-weighted": partner_weighted,
    "influenced": influenced,
}


def model_function(name: str) -> Model:
    try:
        return MODEL_FUNCTIONS[name]
    except KeyError:
        raise InvalidArgument(f"unknown attribution model {name!r}; use one of: {', '.join(MODEL_FUNCTIONS)}") from None
