"""Per-partner aggregates of deal credits, and what a partner may be shown of them.

``summarize_partners`` adds up ``DealCredit``s per partner. ``partner_release``
applies the release policy of the terms to one partner's summary: only its own
aggregates, only the fields in ``partner_sees``, and only numbers that rest on
at least ``min_deals`` deals, so no figure ever is a single deal's amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cleanroom.attribution.config import AttributionConfig
from cleanroom.attribution.engine import DealCredit
from cleanroom.attribution.money import Currency, money_str
from cleanroom.attribution.records import Deal


@dataclass(frozen=True)
class PartnerSummary:
    """One partner's aggregates over a set of credited deals.

    Money is in ``currency`` (the deals' single currency, or the reporting
    currency when rates were given). Counts of deals include every outcome
    unless named otherwise. ``won_credited`` / ``open_credited`` count the
    won / open deals on which the partner's credit is non-zero (what
    ``credited_won`` / ``credited_open`` rest on); ``won_influenced`` /
    ``lost_influenced`` count the partner's influenced deals by outcome.
    """

    partner: str
    currency: str | None
    credited_won: Decimal
    credited_open: Decimal
    deals_sourced: int
    deals_influenced: int
    won_influenced: int
    lost_influenced: int
    won_credited: int
    open_credited: int

    @property
    def closed_influenced(self) -> int:
        return self.won_influenced + self.lost_influenced

    @property
    def win_rate_influenced(self) -> float | None:
        """won / (won + lost) over the partner's influenced closed deals; None when none closed."""
        closed = self.closed_influenced
        return self.won_influenced / closed if closed else None

    def to_dict(self) -> dict[str, Any]:
        """The vendor's view (the ``partners`` rows of ``attribution run --json``)."""
        return {
            "partner": self.partner,
            "credited_won": money_str(self.credited_won),
            "credited_open": money_str(self.credited_open),
            "deals_sourced": self.deals_sourced,
            "deals_influenced": self.deals_influenced,
            "win_rate_influenced": self.win_rate_influenced,
        }


def deals_by_ref(deals: Iterable[Deal], credits: Iterable[DealCredit]) -> list[tuple[Deal, DealCredit]]:
    """Pair each credit with its deal; a credit for an unknown deal is a programming error."""
    index = {d.ref: d for d in deals}
    pairs = []
    for credit in credits:
        if credit.ref not in index:
            raise ValueError(f"credit for deal ref {credit.ref}, which is not among the deals")
        pairs.append((index[credit.ref], credit))
    return pairs


def summarize_partners(
    deals: Sequence[Deal],
    credits: Sequence[DealCredit],
    *,
    rates: Mapping[str, Decimal] | None = None,
    reporting_currency: str | None = None,
    partners: Iterable[str] = (),
) -> list[PartnerSummary]:
    """Aggregates per partner, sorted by partner name.

    Covers every partner that influenced a deal, plus ``partners`` (e.g. every
    partner of the agreements in the run), who get zeros when they touched
    nothing. Credits on lost deals enter no sum. Money is summed per currency;
    the won and open deals with credits must share one currency unless
    ``rates`` (currency -> value of one unit in ``reporting_currency``) are
    given, else InvalidArgument.
    """
    pairs = deals_by_ref(deals, credits)
    currency = Currency((d.currency for d, c in pairs if c.credits and d.outcome != "lost"), rates, reporting_currency)
    names = set(partners)
    for _, credit in pairs:
        names |= credit.influencers | set(credit.credits)
    won: dict[str, dict[str, Decimal]] = {p: {} for p in names}
    open_: dict[str, dict[str, Decimal]] = {p: {} for p in names}
    counts = {p: dict.fromkeys(("sourced", "influenced", "won", "lost", "won_credited", "open_credited"), 0) for p in names}
    for deal, credit in pairs:
        for p in credit.influencers:
            counts[p]["influenced"] += 1
            if deal.outcome in ("won", "lost"):
                counts[p][deal.outcome] += 1
        for p in credit.sourcers:
            counts[p]["sourced"] += 1
        for p, amount in credit.credits.items():
            if not amount or deal.outcome == "lost":
                continue
            bucket = won if deal.outcome == "won" else open_
            bucket[p][deal.currency] = bucket[p].get(deal.currency, Decimal(0)) + amount
            counts[p]["won_credited" if deal.outcome == "won" else "open_credited"] += 1
    return [
        PartnerSummary(
            partner=p,
            currency=currency.code,
            credited_won=currency.total(won[p]),
            credited_open=currency.total(open_[p]),
            deals_sourced=counts[p]["sourced"],
            deals_influenced=counts[p]["influenced"],
            won_influenced=counts[p]["won"],
            lost_influenced=counts[p]["lost"],
            won_credited=counts[p]["won_credited"],
            open_credited=counts[p]["open_credited"],
        )
        for p in sorted(names)
    ]


def _suppressed(reason: str) -> dict[str, Any]:
    return {"suppressed": True, "reason": reason}


def partner_release(summary: PartnerSummary, config: AttributionConfig) -> dict[str, Any]:
    """What the partner of ``summary`` may be shown of it, as a JSON-able dict.

    Only the fields in ``config.partner_sees`` appear. When the partner
    influenced fewer than ``config.min_deals`` (k) deals, every field is
    suppressed. Otherwise each number is shown only if it rests on at least k
    deals: ``credited_won`` on k won deals credited to the partner,
    ``credited_open`` on k open ones, ``win_rate_influenced`` on k closed
    influenced deals; the deal counts themselves are shown. A suppressed field
    is ``{"suppressed": true, "reason": ...}``; the reason never states the
    hidden count.
    """
    k = config.min_deals
    release: dict[str, Any] = {"partner": summary.partner, "currency": summary.currency, "min_deals": k}
    if summary.deals_influenced < k:
        reason = f"fewer than {k} deals influenced by this partner; figures are released from {k} deals"
        for field_name in config.partner_sees:
            release[field_name] = _suppressed(reason)
        return release
    values: dict[str, tuple[int, str, Any]] = {
        "credited_won": (summary.won_credited, "won deals credited to this partner", money_str(summary.credited_won)),
        "credited_open": (summary.open_credited, "open deals credited to this partner", money_str(summary.credited_open)),
        "deals_sourced": (k, "", summary.deals_sourced),
        "deals_influenced": (k, "", summary.deals_influenced),
        "win_rate_influenced": (
            summary.closed_influenced,
            "closed deals influenced by this partner",
            summary.win_rate_influenced,
        ),
    }
    for field_name in config.partner_sees:
        basis, what, value = values[field_name]
        release[field_name] = value if basis >= k else _suppressed(f"rests on fewer than {k} {what}")
    return release
