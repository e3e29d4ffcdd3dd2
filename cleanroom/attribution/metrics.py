"""Ecosystem metrics for the vendor: what partner involvement is worth.

A deal is *partner-influenced* ("with partners") when at least one partner has
an eligible touch on it (``DealCredit.influencers`` is not empty); a deal
without a credit record counts as without partners. Definitions:

- ``influenced_share_amount`` / ``influenced_share_count``: influenced deals'
  amount / count over all deals given (every outcome: the pipeline).
- ``win_rate``: won / (won + lost), with and without partners; None when no
  such deal is closed.
- ``avg_deal_size``: average amount of *won* deals, with and without partners,
  rounded to the cent half to even; None without won deals.
- ``avg_sales_cycle_days``: average (close - created) in days over closed
  (won or lost) deals, with and without partners; None without closed deals.
- ``ecosystem_depth``: over the accounts with at least one won deal on which a
  partner has an eligible touch, the average number of distinct partners
  touching that account's won deals. ``won_accounts`` counts all accounts with
  a won deal, ``partnered_won_accounts`` those the average is taken over.
- ``partner_share``: each partner's credited won revenue over the total credited
  won revenue of all partners (unattributed money excluded); {} when nothing is
  credited.

Money is Decimal (strings in the result), ratios float. Mixed currencies need
``rates`` (see ``money.Currency``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from cleanroom.attribution.engine import DealCredit, check_deal
from cleanroom.attribution.money import CENT, Currency, money_str
from cleanroom.attribution.records import Deal


def _ratio(part: Decimal | int, whole: Decimal | int) -> float | None:
    if not whole:
        return None
    with localcontext() as ctx:
        ctx.prec = 40
        return float(Decimal(part) / Decimal(whole))


def _add(sums: dict[str, Decimal], deal: Deal, amount: Decimal) -> None:
    sums[deal.currency] = sums.get(deal.currency, Decimal(0)) + amount


def _tally(
    deals: Sequence[Deal], by_ref: Mapping[int, DealCredit]
) -> tuple[dict[bool, dict[str, Any]], dict[int, set[str]], dict[str, dict[str, Decimal]]]:
    """One pass over the deals: sums per group (with partners or not), the partners on each won account,
    and each partner's credited won amount per currency."""
    groups: dict[bool, dict[str, Any]] = {
        flag: {"count": 0, "amount": {}, "won": 0, "lost": 0, "won_amount": {}, "cycle_days": 0, "closed": 0}
        for flag in (True, False)
    }
    accounts: dict[int, set[str]] = {}
    partner_won: dict[str, dict[str, Decimal]] = {}
    for deal in deals:
        credit = by_ref.get(deal.ref)
        touched = credit.influencers if credit else frozenset()
        g = groups[bool(touched)]
        g["count"] += 1
        _add(g["amount"], deal, deal.amount)
        if deal.outcome in ("won", "lost"):
            g[deal.outcome] += 1
            g["closed"] += 1
            g["cycle_days"] += (deal.closed - deal.created).days  # type: ignore[operator]
        if deal.outcome == "won":
            _add(g["won_amount"], deal, deal.amount)
            accounts.setdefault(deal.account, set()).update(touched)
            for partner, amount in credit.credits.items() if credit else ():
                if amount:
                    _add(partner_won.setdefault(partner, {}), deal, amount)
    return groups, accounts, partner_won


def ecosystem_metrics(
    deals: Sequence[Deal],
    credits: Sequence[DealCredit],
    *,
    rates: Mapping[str, Decimal] | None = None,
    reporting_currency: str | None = None,
) -> dict[str, Any]:
    """The vendor's ecosystem metrics as a JSON-able dict (see the module docstring)."""
    by_ref = {c.ref: c for c in credits}
    refs = {d.ref for d in deals}
    stray = sorted(set(by_ref) - refs)
    if stray:
        raise ValueError(f"credits for deal refs not among the deals: {stray[:5]}")
    for deal in deals:
        check_deal(deal)
    currency = Currency((d.currency for d in deals), rates, reporting_currency)

    groups, accounts, partner_won = _tally(deals, by_ref)
    with_, without = groups[True], groups[False]
    total_amount = currency.total(with_["amount"]) + currency.total(without["amount"])

    def avg_size(g: dict[str, Any]) -> str | None:
        if not g["won"]:
            return None
        with localcontext() as ctx:
            ctx.prec = 60
            return money_str((currency.total(g["won_amount"]) / g["won"]).quantize(CENT, rounding=ROUND_HALF_EVEN))

    partnered = [len(p) for p in accounts.values() if p]
    partner_totals = {p: currency.total(sums) for p, sums in sorted(partner_won.items())}
    credited_total = sum(partner_totals.values(), Decimal(0))
    return {
        "currency": currency.code,
        "deals": len(deals),
        "influenced_deals": with_["count"],
        "influenced_share_amount": _ratio(currency.total(with_["amount"]), total_amount),
        "influenced_share_count": _ratio(with_["count"], len(deals)),
        "win_rate": {
            "with_partners": _ratio(with_["won"], with_["closed"]),
            "without_partners": _ratio(without["won"], without["closed"]),
        },
        "avg_deal_size": {"with_partners": avg_size(with_), "without_partners": avg_size(without)},
        "avg_sales_cycle_days": {
            "with_partners": _ratio(with_["cycle_days"], with_["closed"]),
            "without_partners": _ratio(without["cycle_days"], without["closed"]),
        },
        "ecosystem_depth": _ratio(sum(partnered), len(partnered)),
        "won_accounts": len(accounts),
        "partnered_won_accounts": len(partnered),
        "partner_share": {p: _ratio(t, credited_total) for p, t in partner_totals.items()} if credited_total else {},
    }
