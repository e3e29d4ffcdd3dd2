"""Our deal amounts per uploaded account, for pipeline value: joined by match key, whole units, clamped.

A deal counts toward an account when they share a match key (the same canonical domain, or name +
country with name keys) and its outcome is the grant's kind (open pipeline or won revenue). An account's
amount is the sum of its deals, in whole currency units (cents dropped), clamped to the terms' cap; the
clamped accounts are counted for the summary. Every account gets an amount (0 without deals), so the
coordinator cannot tell which accounts have deals. One currency per agreement: mixed currencies are refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cleanroom.errors import InputError
from cleanroom_client.inputs.deals import DealsResult


@dataclass(frozen=True)
class Amounts:
    values: list[int]  # by account label, each in [0, cap]
    clamped: int  # accounts whose total was above the cap
    deals_counted: int  # deals of the kind that joined an uploaded account
    deals_unmatched: int  # deals of the kind whose keys match no uploaded account
    currency: str | None

    def summary(self, cap: int, kind: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "cap": cap,
            "currency": self.currency,
            "accounts": len(self.values),
            "accounts_with_amount": sum(1 for v in self.values if v),
            "clamped_to_cap": self.clamped,
            "deals_counted": self.deals_counted,
            "deals_without_uploaded_account": self.deals_unmatched,
        }


def account_amounts(accounts: Sequence[Any], label_to_account: Sequence[int], deals: DealsResult, kind: str, cap: int) -> Amounts:
    """Amounts by account label (``label_to_account``: label -> index into ``accounts``)."""
    wanted = [d for d in deals.deals if d.outcome == kind]
    currencies = sorted({d.currency for d in wanted})
    if len(currencies) > 1:
        raise InputError(
            f"{deals.source}: {kind} deals are in several currencies ({', '.join(currencies)}); pipeline value sums one "
            "currency: export the deals in one currency (or convert them) and map again"
        )
    by_key: dict[str, list[int]] = {}
    for i, deal in enumerate(wanted):
        for key in deal.keys:
            by_key.setdefault(str(key), []).append(i)
    chosen = accounts.take(list(label_to_account)) if hasattr(accounts, "take") else [accounts[i] for i in label_to_account]
    values, clamped, used = [], 0, set()
    for account in chosen:
        mine = {i for key in account.keys for i in by_key.get(str(key), ())}
        used |= mine
        total = math.floor(sum((wanted[i].amount for i in mine), Decimal(0)))
        if total > cap:
            clamped += 1
            total = cap
        values.append(total)
    return Amounts(values, clamped, len(used), len(wanted) - len(used), currencies[0] if currencies else None)
