"""The records attribution models work on, and their validation.

Money is ``Decimal`` throughout (never float); dates are ``datetime.date``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

Outcome = Literal["won", "lost", "open"]
Role = Literal["sourcing", "co-sell", "technical", "influence"]
DealType = Literal["new", "expansion", "renewal"]

OUTCOMES: tuple[str, ...] = ("won", "lost", "open")
ROLES: tuple[str, ...] = ("sourcing", "co-sell", "technical", "influence")
DEAL_TYPES: tuple[str, ...] = ("new", "expansion", "renewal")


@dataclass(frozen=True)
class Deal:
    """One vendor deal, known to the coordinator only by the vendor's row reference.

    ``account`` is the vendor's pseudonymous account label (deals on one account
    share it); ``closed`` is the close date of won/lost deals and the expected
    close date of open ones (may be None for open deals).
    """

    ref: int
    account: int
    amount: Decimal
    currency: str
    outcome: Outcome
    created: date
    closed: date | None
    deal_type: DealType = "new"


@dataclass(frozen=True)
class Touch:
    """One partner touchpoint on an account matched to a deal's account."""

    partner: str
    role: Role
    day: date
