"""Commission plans and per-partner statements for a period.

Plans parse from dicts (as written in terms or a plan file) and validate
strictly; rates are fractions ("0.15" for 15%), fees are money in the plan's
currency (or, without one, the deals' currency).

- ``percentage``: ``rate`` x the partner's credit on deals won in the period.
- ``fixed-fee``: ``fee`` per deal the partner sourced that was won in the period.
- ``tiered``: the number of deals the partner sourced that were won in the
  period picks a tier; that tier's rate applies to all of the partner's
  credited won revenue in the period. Below the first tier the rate is 0.
- ``hybrid``: ``fee`` per deal the partner sourced that was created in the
  period (any outcome), plus ``rate`` x the partner's credit on deals it
  sourced that were won in the period ("a percentage when it closes won").

"Won in the period" goes by close date; periods include both ends. "Sourced"
means the partner has an eligible sourcing touch on the deal
(``DealCredit.sourcers``). Each line is rounded to the cent half up; the
total is the sum of the lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NoReturn

from cleanroom.attribution.config import decimal_str, parse_decimal, parse_int
from cleanroom.attribution.engine import DealCredit
from cleanroom.attribution.money import CENT, money_str
from cleanroom.attribution.records import Deal
from cleanroom.attribution.summary import deals_by_ref
from cleanroom.errors import InvalidArgument

PLAN_KINDS: tuple[str, ...] = ("percentage", "fixed-fee", "tiered", "hybrid")


def _fail(message: str) -> NoReturn:
    raise InvalidArgument(f"commission plan: {message}")


def _rate(value: Any, what: str) -> Decimal:
    rate = parse_decimal(value, what, "commission plan")
    if not 0 <= rate <= 1:
        _fail(f'{what} must be a fraction between 0 and 1 (write 15% as "0.15"), got {decimal_str(rate)}')
    return rate


def _fee(value: Any, what: str) -> Decimal:
    fee = parse_decimal(value, what, "commission plan")
    if fee < 0:
        _fail(f"{what} must be >= 0, got {decimal_str(fee)}")
    return fee


def _keys(d: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    unknown = sorted(str(k) for k in d if k not in required + optional)
    if unknown:
        _fail(f"unknown key(s) {', '.join(unknown)} for a {d.get('kind')} plan; accepted: {', '.join(required + optional)}")
    missing = [k for k in required if k not in d]
    if missing:
        _fail(f"a {d.get('kind')} plan needs: {', '.join(missing)}")


def _currency(d: Mapping[str, Any]) -> str | None:
    code = d.get("currency")
    if code is not None and (not isinstance(code, str) or not code):
        _fail('currency must be a currency code such as "USD"')
    return code


@dataclass(frozen=True)
class PercentagePlan:
    rate: Decimal
    currency: str | None = None
    kind = "percentage"

    def to_dict(self) -> dict[str, Any]:
        return _with_currency({"kind": self.kind, "rate": decimal_str(self.rate)}, self.currency)


@dataclass(frozen=True)
class FixedFeePlan:
    fee: Decimal
    currency: str | None = None
    kind = "fixed-fee"

    def to_dict(self) -> dict[str, Any]:
        return _with_currency({"kind": self.kind, "fee": decimal_str(self.fee)}, self.currency)


@dataclass(frozen=True)
class Tier:
    """Deals from ``low`` to ``high`` (both included; ``high`` None: no upper end) earn ``rate``."""

    low: int
    high: int | None
    rate: Decimal

    def covers(self, count: int) -> bool:
        return self.low <= count and (self.high is None or count <= self.high)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"from": self.low, "rate": decimal_str(self.rate)}
        if self.high is not None:
            d["to"] = self.high
        return d


@dataclass(frozen=True)
class TieredPlan:
    tiers: tuple[Tier, ...]
    currency: str | None = None
    kind = "tiered"

    def tier_for(self, count: int) -> Tier | None:
        return next((t for t in self.tiers if t.covers(count)), None)

    def to_dict(self) -> dict[str, Any]:
        return _with_currency({"kind": self.kind, "tiers": [t.to_dict() for t in self.tiers]}, self.currency)


@dataclass(frozen=True)
class HybridPlan:
    fee: Decimal
    rate: Decimal
    currency: str | None = None
    kind = "hybrid"

    def to_dict(self) -> dict[str, Any]:
        return _with_currency({"kind": self.kind, "fee": decimal_str(self.fee), "rate": decimal_str(self.rate)}, self.currency)


Plan = PercentagePlan | FixedFeePlan | TieredPlan | HybridPlan


def _with_currency(d: dict[str, Any], currency: str | None) -> dict[str, Any]:
    if currency is not None:
        d["currency"] = currency
    return d


def _tiers(raw: Any) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        _fail('tiers must be a non-empty list such as [{"from": 1, "to": 10, "rate": "0.15"}, {"from": 11, "rate": "0.2"}]')
    tiers: list[Tier] = []
    for i, t in enumerate(raw, 1):
        if not isinstance(t, Mapping):
            _fail(f"tier {i} must be an object with from, to (except the last) and rate")
        unknown = sorted(str(k) for k in t if k not in ("from", "to", "rate"))
        if unknown:
            _fail(f"tier {i}: unknown key(s) {', '.join(unknown)}; accepted: from, to, rate")
        if "from" not in t or "rate" not in t:
            _fail(f"tier {i} needs from and rate")
        low = parse_int(t["from"], f"tier {i} from", 0, "commission plan")
        high = None if t.get("to") is None else parse_int(t["to"], f"tier {i} to", low, "commission plan")
        if high is None and i != len(raw):
            _fail(f"tier {i} has no upper end (to); only the last tier may be open-ended")
        if tiers and low != tiers[-1].high + 1:  # type: ignore[operator]
            _fail(
                f"tier {i} starts at {low} but the tier before ends at {tiers[-1].high}; tiers must follow each other without gaps or overlaps"
            )
        tiers.append(Tier(low, high, _rate(t["rate"], f"tier {i} rate")))
    return tuple(tiers)


def parse_plan(d: Any) -> Plan:
    """A plan from its dict form; InvalidArgument naming the first problem."""
    if not isinstance(d, Mapping):
        _fail("must be an object with a kind: " + ", ".join(PLAN_KINDS))
    kind = d.get("kind")
    if kind not in PLAN_KINDS:
        _fail(f"unknown kind {kind!r}; use one of: {', '.join(PLAN_KINDS)}")
    if kind == "percentage":
        _keys(d, ("kind", "rate"), ("currency",))
        return PercentagePlan(_rate(d["rate"], "rate"), _currency(d))
    if kind == "fixed-fee":
        _keys(d, ("kind", "fee"), ("currency",))
        return FixedFeePlan(_fee(d["fee"], "fee"), _currency(d))
    if kind == "tiered":
        _keys(d, ("kind", "tiers"), ("currency",))
        return TieredPlan(_tiers(d["tiers"]), _currency(d))
    _keys(d, ("kind", "fee", "rate"), ("currency",))
    return HybridPlan(_fee(d["fee"], "fee"), _rate(d["rate"], "rate"), _currency(d))


# -- periods -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Calendar days from ``start`` to ``end``, both included."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def month_period(day: date) -> Period:
    """The calendar month holding ``day``."""
    start = day.replace(day=1)
    following = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return Period(start, following - timedelta(days=1))


def quarter_period(day: date) -> Period:
    """The calendar quarter (Jan-Mar, Apr-Jun, Jul-Sep, Oct-Dec) holding ``day``."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    last = month_period(date(day.year, first_month + 2, 1))
    return Period(start, last.end)


# -- statements --------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    """One line: a ``fee`` (basis and rate None) or a ``percentage`` of ``basis`` at ``rate``."""

    ref: int
    item: str
    amount: Decimal
    basis: Decimal | None = None
    rate: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "item": self.item,
            "basis": None if self.basis is None else money_str(self.basis),
            "rate": None if self.rate is None else decimal_str(self.rate),
            "amount": money_str(self.amount),
        }


@dataclass(frozen=True)
class Statement:
    """A partner's commission for a period: lines ordered by (deal ref, fee before percentage)."""

    partner: str
    plan: Plan
    period: Period
    currency: str | None
    lines: tuple[StatementLine, ...]
    total: Decimal
    sourced_won: int  # deals the partner sourced that were won in the period
    tier: Tier | None = None  # tiered plans: the tier reached

    def to_dict(self) -> dict[str, Any]:
        return {
            "partner": self.partner,
            "plan": self.plan.to_dict(),
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "currency": self.currency,
            "sourced_won": self.sourced_won,
            "tier": None if self.tier is None else self.tier.to_dict(),
            "lines": [line.to_dict() for line in self.lines],
            "total": money_str(self.total),
        }


def _round(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def commission_statement(
    plan: Plan,
    partner: str,
    deals: Iterable[Deal],
    credits: Iterable[DealCredit],
    period_start: date,
    period_end: date,
    *,
    rates: Mapping[str, Decimal] | None = None,
) -> Statement:
    """The partner's statement for the period from ``period_start`` to ``period_end`` (both included).

    A plan without a currency pays in the deals' currency, and the deals on
    the statement must then share one. With a plan currency, fees are in it,
    and the credit of a deal in another currency is converted with ``rates``
    (currency -> value of one unit in the plan's currency), rounded to the
    cent half up, before the rate applies.
    """
    if period_end < period_start:
        raise InvalidArgument(f"the period ends ({period_end}) before it starts ({period_start}); swap the dates")
    period = Period(period_start, period_end)
    pairs = sorted(deals_by_ref(deals, credits), key=lambda pair: pair[0].ref)
    due = _due(plan, partner, pairs, period)
    currency, table = _exchange(plan, due, rates)
    credit_of = {c.ref: c.credits.get(partner, Decimal(0)) for _, c in pairs}
    lines = [StatementLine(d.ref, "fee", _round(plan.fee)) for d in due.fees]  # type: ignore[union-attr]
    for deal, rate in due.percentages:
        basis = credit_of[deal.ref]
        if table[deal.currency] != 1:
            basis = _round(basis * table[deal.currency])
        lines.append(StatementLine(deal.ref, "percentage", _round(basis * rate), basis, rate))
    lines.sort(key=lambda line: (line.ref, line.item))
    total = sum((line.amount for line in lines), Decimal("0.00"))
    return Statement(partner, plan, period, currency, tuple(lines), total, due.sourced_won, due.tier)


@dataclass(frozen=True)
class _Due:
    """What a plan pays the partner for in a period: a fee per deal, a rate on the credit of others."""

    fees: list[Deal]
    percentages: list[tuple[Deal, Decimal]]  # (deal, rate)
    sourced_won: int
    tier: Tier | None


def _due(plan: Plan, partner: str, pairs: list[tuple[Deal, DealCredit]], period: Period) -> _Due:
    def won_here(deal: Deal) -> bool:
        return deal.outcome == "won" and deal.closed in period

    sourced_won = [(d, c) for d, c in pairs if won_here(d) and partner in c.sourcers]
    credited_won = [(d, c) for d, c in pairs if won_here(d) and c.credits.get(partner)]
    fees: list[Deal] = []
    percentages: list[tuple[Deal, Decimal]] = []
    tier = None
    if isinstance(plan, PercentagePlan):
        percentages = [(d, plan.rate) for d, _ in credited_won]
    elif isinstance(plan, FixedFeePlan):
        fees = [d for d, _ in sourced_won]
    elif isinstance(plan, TieredPlan):
        tier = plan.tier_for(len(sourced_won))
        rate = tier.rate if tier is not None else Decimal(0)
        percentages = [(d, rate) for d, _ in credited_won]
    elif isinstance(plan, HybridPlan):
        fees = [d for d, c in pairs if d.created in period and partner in c.sourcers]
        percentages = [(d, plan.rate) for d, c in credited_won if partner in c.sourcers]
    else:
        raise TypeError(f"not a commission plan: {plan!r}")
    return _Due(fees, percentages, len(sourced_won), tier)


def _exchange(plan: Plan, due: _Due, rates: Mapping[str, Decimal] | None) -> tuple[str | None, dict[str | None, Decimal]]:
    """The statement's currency, and the value of one unit of each deal currency in it."""
    currencies = sorted({d.currency for d in due.fees} | {d.currency for d, _ in due.percentages})
    currency = plan.currency
    if currency is None:
        if len(currencies) > 1:
            raise InvalidArgument(
                f"deals on the statement are in several currencies ({', '.join(currencies)}); set the plan's "
                "currency and give exchange rates to it"
            )
        currency = currencies[0] if currencies else None
    table: dict[str | None, Decimal] = {}
    for code, value in (rates or {}).items():
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)) or not Decimal(value).is_finite() or value <= 0:
            raise InvalidArgument(f"exchange rate for {code} must be a positive Decimal, got {value!r}")
        table[code] = Decimal(value)
    table[currency] = Decimal(1)
    missing = sorted({d.currency for d, _ in due.percentages if d.currency not in table})  # fees need no rate
    if missing:
        raise InvalidArgument(f"no exchange rate to {currency} for: {', '.join(missing)}; add a rate for each deal currency")
    return currency, table
