"""Which touches count for a deal, and in which order.

A deal's reference date is its close date when it is won or lost. For an open
deal it is ``today``, whatever its expected close date: touches after today
have not happened yet as far as attribution is concerned and are ignored, and
the lookback window ends today.

A touch is eligible when ``reference - lookback_days <= touch.day <= reference``:
a touch exactly ``lookback_days`` before the reference date counts, one a day
earlier does not; a touch on the reference date counts, one a day later does
not.

Eligible touches are ordered by (date, partner name, role), names compared as
plain strings, so the first and last touch and every tie are deterministic
whatever order the touches arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from cleanroom.attribution.config import AttributionConfig
from cleanroom.attribution.records import ROLES, Deal, Touch
from cleanroom.errors import InvalidArgument


def reference_date(deal: Deal, today: date) -> date:
    """Close date of a won/lost deal; ``today`` for an open one."""
    if deal.outcome == "open":
        return today
    if deal.closed is None:
        raise InvalidArgument(f"deal {deal.ref} is {deal.outcome} but has no close date; give its close date")
    return deal.closed


def touch_key(touch: Touch) -> tuple[date, str, str]:
    """Sort key of touches: (date, partner name, role)."""
    return (touch.day, touch.partner, touch.role)


def window(reference: date, lookback_days: int) -> tuple[date, date]:
    """First and last day (both inclusive) on which a touch is eligible."""
    return reference - timedelta(days=lookback_days), reference


def eligible_touches(deal: Deal, touches: Iterable[Touch], config: AttributionConfig, today: date) -> list[Touch]:
    """The deal's eligible touches, sorted by ``touch_key``; an unknown role is InvalidArgument."""
    first, last = window(reference_date(deal, today), config.lookback_days)
    eligible = sorted((t for t in touches if first <= t.day <= last), key=touch_key)
    for t in eligible:
        if t.role not in ROLES:
            raise InvalidArgument(
                f"touch by {t.partner} on {t.day} has unknown role {t.role!r}; accepted roles: {', '.join(ROLES)}"
            )
    return eligible
