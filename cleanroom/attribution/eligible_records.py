"""Eligibility over record arrays: every deal's eligible touches at once, in order.

``eligibility.eligible_touches`` is the definition, one deal at a time: keep the
touches dated from ``reference - lookback_days`` to ``reference`` and order them
by (date, partner name, role name). A job over a hundred thousand deals and half
a million touches spent most of its time doing exactly that in Python, deal by
deal; here the join of each partner's touches to the deals, the window and the
order are array operations, and only the result becomes ``Touch`` objects (one
per distinct (partner, role, day), shared: they are immutable).

The result is the same as ``eligible_touches`` per deal (tests compare the two
on generated deals and touches, boundary days and ties included).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from cleanroom.attribution.recordio import NO_DATE, day_number, day_of, rows_on
from cleanroom.attribution.records import OUTCOMES, ROLES, Touch

_OPEN = OUTCOMES.index("open")
# Touches are ordered by role *name*, as eligibility.touch_key compares them.
_ROLE_RANK = np.argsort(np.argsort(np.array(ROLES, dtype=object))).astype(np.int64)
_ROLE_BY_RANK = sorted(ROLES)


def reference_days(deals: np.ndarray, today: date) -> np.ndarray:
    """Each DEAL row's reference date as a day number: its close date, or ``today`` while it is open."""
    won_or_lost = deals["outcome"] != _OPEN
    if (won_or_lost & (deals["closed"] == NO_DATE)).any():
        raise ValueError("a won or lost deal record has no close date (check_deals refuses these)")
    return np.where(won_or_lost, deals["closed"].astype(np.int64), day_number(today))


def eligible_by_deal(
    deals: np.ndarray,
    partners: Sequence[tuple[str, np.ndarray, np.ndarray]],
    lookback_days: int,
    today: date,
) -> dict[int, list[Touch]]:
    """Deal ref -> its eligible touches from every partner, ordered as ``eligible_touches`` orders them.

    ``deals``: DEAL rows. ``partners``: per partner, (name, the account label of
    each deal row in that partner's run, that run's TOUCH rows sorted by
    account). Deals without an eligible touch are left out.
    """
    reference = reference_days(deals, today)
    rank = {name: i for i, name in enumerate(sorted({name for name, _, _ in partners}))}
    parts: list[tuple[np.ndarray, ...]] = []
    for name, accounts, touches in partners:
        if len(accounts) != len(deals):
            raise ValueError(f"{name}: {len(accounts)} account labels for {len(deals)} deals")
        deal, touch = rows_on(touches["account"], accounts)
        day = touches["day"][touch].astype(np.int64)
        ends = reference[deal]
        keep = (day <= ends) & (day >= ends - lookback_days)
        parts.append(
            (
                deal[keep],
                day[keep],
                np.full(int(keep.sum()), rank[name], dtype=np.int64),
                _ROLE_RANK[touches["role"][touch][keep]],
            )
        )
    if not parts:
        return {}
    deal, day, partner, role = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.lexsort((role, partner, day, deal))
    deal = deal[order]
    # One code per (day, partner, role): distinct codes become the shared Touch objects.
    code = (day[order] * len(rank) + partner[order]) * len(ROLES) + role[order]
    distinct, which = np.unique(code, return_inverse=True)
    names = sorted(rank)
    made = [
        Touch(
            partner=names[(c // len(ROLES)) % len(rank)],
            role=_ROLE_BY_RANK[c % len(ROLES)],
            day=day_of(c // len(ROLES) // len(rank)),
        )
        for c in distinct.tolist()
    ]
    touches_in_order = [made[i] for i in which.tolist()]
    bounds = np.flatnonzero(np.r_[True, deal[1:] != deal[:-1], True]).tolist() if len(deal) else [0]
    refs = deals["ref"][deal[bounds[:-1]]].tolist()
    return {ref: touches_in_order[s:e] for ref, s, e in zip(refs, bounds[:-1], bounds[1:], strict=True)}
