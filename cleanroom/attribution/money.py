"""Money helpers: exact cent allocation and currency handling.

Amounts are ``Decimal``. Shares are exact (integer weights over an integer
total); they become money only here, with the largest-remainder method, so
the parts of a deal always add up to its amount exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, Rounded, localcontext

from cleanroom.errors import InvalidArgument

CENT = Decimal("0.01")
# Exact: raises rather than rounds if an amount ever had more digits than this.
_EXACT = Context(prec=400, traps=[Inexact, Rounded, InvalidOperation])


def _exponent(amount: Decimal) -> int:
    """The allocation unit's exponent: cents, or finer when the amount itself is finer."""
    return min(int(amount.as_tuple().exponent), -2)


def _from_units(units: int, exponent: int) -> Decimal:
    return Decimal(f"{units}E{exponent}")


def allocate(amount: Decimal, weights: Mapping[str, int], total: int) -> tuple[dict[str, Decimal], Decimal]:
    """Split ``amount`` by exact shares into cents that add up to it exactly.

    Partner p's exact share is ``weights[p] / total``; what the weights leave
    of the total, ``(total - sum(weights)) / total``, is unattributed. Each
    part first gets the floor of its exact value in cents; the cents left over
    go one each to the parts with the largest remainders, ties broken by
    partner name (ascending, plain string order), the unattributed part last.

    Returns (partner -> amount, unattributed amount). Partners whose amount is
    zero are left out; amounts carry the exponent of the unit (two decimals,
    or more when ``amount`` has more).
    """
    if amount < 0:
        raise InvalidArgument(f"cannot split a negative amount ({amount}); deal amounts must be >= 0")
    if total <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("weights must be >= 0 and their total > 0")
    rest = total - sum(weights.values())
    if rest < 0:
        raise ValueError("weights sum to more than their total")
    exponent = _exponent(amount)
    units = int(amount.scaleb(-exponent, _EXACT))
    # (key for ties, partner or None for unattributed, weight)
    buckets = [((0, p), p, w) for p, w in weights.items()] + [((1, ""), None, rest)]
    floors: dict[str | None, int] = {}
    remainders = []
    for tie, key, w in buckets:
        floor, remainder = divmod(units * w, total)
        floors[key] = floor
        remainders.append((-remainder, tie, key))
    left = units - sum(floors.values())
    if left:
        remainders.sort()
        for _, _, key in remainders[:left]:
            floors[key] += 1
    credits = {p: _from_units(floors[p], exponent) for p in sorted(weights) if floors[p]}
    return credits, _from_units(floors[None], exponent)


def at_least_cents(amount: Decimal) -> Decimal:
    """The same amount written with at least two decimals (100 -> 100.00; 1.005 stays)."""
    return amount.quantize(CENT) if int(amount.as_tuple().exponent) > -2 else amount


def money_str(amount: Decimal) -> str:
    """Money as text with at least two decimals and no exponent ("1234.50")."""
    text = str(amount)
    if "E" not in text:  # plain notation already (the common case, and cheap)
        point = text.find(".")
        if point < 0:
            return text + ".00"
        if len(text) - point > 2:
            return text
    return format(at_least_cents(amount), "f")


class Currency:
    """How the money of a set of deals is reported in one currency.

    Without ``rates`` every deal must be in the same currency (mixing currencies
    is refused). With ``rates`` (currency -> value of one unit in the
    ``reporting`` currency) every deal currency needs a rate; totals are
    converted per currency and rounded to cents once, half to even.
    """

    def __init__(
        self, currencies: Iterable[str], rates: Mapping[str, Decimal] | None = None, reporting: str | None = None
    ) -> None:
        seen = sorted(set(currencies))
        self.converting = rates is not None
        if rates is None:
            if len(seen) > 1:
                raise InvalidArgument(
                    f"deals are in several currencies ({', '.join(seen)}); give exchange rates to one "
                    "reporting currency, or run on deals of one currency"
                )
            if reporting is not None and seen and seen[0] != reporting:
                raise InvalidArgument(f"deals are in {seen[0]}, not in the reporting currency {reporting}; give exchange rates")
            self.code: str | None = seen[0] if seen else reporting
            self.rates: dict[str, Decimal] = {c: Decimal(1) for c in seen}
            return
        if not reporting:
            raise InvalidArgument("exchange rates need a reporting currency: say which currency they convert to")
        table: dict[str, Decimal] = {}
        for code, rate in rates.items():
            if isinstance(rate, bool) or not isinstance(rate, (Decimal, int)) or not Decimal(rate).is_finite() or rate <= 0:
                raise InvalidArgument(f"exchange rate for {code} must be a positive Decimal, got {rate!r}")
            table[code] = Decimal(rate)
        if table.setdefault(reporting, Decimal(1)) != 1:
            raise InvalidArgument(f"the rate of the reporting currency {reporting} must be 1, got {table[reporting]}")
        missing = [c for c in seen if c not in table]
        if missing:
            raise InvalidArgument(f"no exchange rate to {reporting} for: {', '.join(missing)}; add a rate for each deal currency")
        self.code = reporting
        self.rates = table

    def total(self, by_currency: Mapping[str, Decimal]) -> Decimal:
        """Sum of per-currency totals in the reporting currency."""
        with localcontext() as ctx:
            ctx.prec = 60
            total = sum((amount * self.rates[code] for code, amount in by_currency.items()), Decimal("0.00"))
            if self.converting and any(self.rates[c] != 1 for c in by_currency):
                total = total.quantize(CENT, rounding=ROUND_HALF_EVEN)
        return total
