"""Amount cells of a deals file -> exact decimals and their currency.

Amounts (``parse_amount``): digits with an optional currency symbol ($, €, £, ¥,
₹) or ISO code before or after ("$12,500", "12500 USD", "EUR 1.200,50").
Group separators may be ",", ".", spaces or "'". When both "," and "." occur,
the last one is the decimal separator. A single "," or "." with one to three
digits before it and exactly three after it is a thousands separator ("1,200"
and "1.200" are both 1200: money has two decimals, not three), unless the
integer part is 0 ("0.125"); otherwise a single separator is the decimal point
("1200,5", "99.95", "1200.500"). So an exported amount with three decimals
below 1,000 (a Parquet decimal(p,3) column, a dinar amount) would be misread;
such files need the amount written with two decimals. A sign, "(100)" or
"-100", is a negative amount: an error. An empty amount is 0 (as CRM report
totals count it) and is counted in ``totals()["empty_amounts"]``. An amount
with more than six decimal places or eighteen digits is an error (deal
records carry amounts as exact 64-bit fixed point). A symbol or
code in the cell must agree with the currency column when both are present
("$" goes with any currency, since many currencies are dollars); with no
currency column or an empty currency cell, the cell's code or symbol is the
currency ("$" -> USD), else ``default_currency``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from cleanroom.attribution.recordio import MAX_SCALE, amount_parts

# Symbol -> the currency it means alone, and the currencies it may stand for next to a currency column.
SYMBOLS: dict[str, tuple[str, frozenset[str] | None]] = {
    "$": ("USD", None),  # many dollars: agrees with any currency column
    "\u20ac": ("EUR", frozenset({"EUR"})),
    "\u00a3": ("GBP", frozenset({"GBP"})),
    "\u00a5": ("JPY", frozenset({"JPY", "CNY"})),
    "\u20b9": ("INR", frozenset({"INR"})),
}
_CODE_BEFORE = re.compile(r"^([A-Za-z]{3})\s*(?=[\d(\-\u2212+$\u20ac\u00a3\u00a5\u20b9.,])")
_CODE_AFTER = re.compile(r"(?<=[\d)\s])\s*([A-Za-z]{3})$")
_GROUP_SPACES = re.compile(r"[ \u00a0\u202f\u2009']")
_SCIENTIFIC = re.compile(r"^\d+(?:\.\d+)?[eE][+-]?\d+$")
_NUMBER_CHARS = re.compile(r"^[\d.,]+$")
AMOUNT_HINT = "expected a non-negative number such as 12500, 12,500.00, $12,500 or EUR 1.200,50"


class AmountError(ValueError):
    """``problem`` says what is wrong; the caller adds file, row, column and value."""

    def __init__(self, problem: str, hint: str = AMOUNT_HINT) -> None:
        super().__init__(problem)
        self.problem, self.hint = problem, hint


def valid_currency(code: str) -> bool:
    return len(code) == 3 and code.isascii() and code.isalpha()


def _number(text: str) -> Decimal:
    """Digits with group and decimal separators (see the module docstring) -> Decimal; ValueError if not."""
    if _SCIENTIFIC.match(text):  # Excel writes big numbers as 1.25E+06 in CSV; Parquet floats as 1e+16
        return Decimal(format(Decimal(text), "f"))
    if _GROUP_SPACES.search(text):  # "1 200", "1'200.50", "1 200,50": spaces group, the rest is decimal
        head, *rest = _GROUP_SPACES.split(text)
        if not (
            re.fullmatch(r"\d{1,3}", head)
            and all(re.fullmatch(r"\d{3}", p) for p in rest[:-1])
            and re.fullmatch(r"\d{3}(?:[.,]\d+)?", rest[-1])
        ):
            raise ValueError(text)
        frac = rest[-1][4:]
        return Decimal(head + "".join(rest[:-1]) + rest[-1][:3] + (f".{frac}" if frac else ""))
    if not _NUMBER_CHARS.match(text) or not text[0].isdigit() or not text[-1].isdigit():
        raise ValueError(text)
    commas, dots = text.count(","), text.count(".")
    decimal_sep: str | None = None
    group_sep: str | None = None
    if commas and dots:  # "12,500.00" / "1.200,50": the last one is the decimal separator
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        group_sep = "." if decimal_sep == "," else ","
    elif commas + dots > 1:  # "1,200,500" / "1.200.500"
        group_sep = "," if commas else "."
    elif commas + dots == 1:
        sep = "," if commas else "."
        whole, _, frac = text.partition(sep)
        if len(frac) == 3 and whole != "0" and len(whole) <= 3:  # "1,200" / "1.200": thousands
            group_sep = sep
        else:  # "1200,5" / "99.95" / "0.125" / "1200.500"
            decimal_sep = sep
    if decimal_sep is not None:
        if text.count(decimal_sep) != 1:
            raise ValueError(text)
        whole, _, frac = text.partition(decimal_sep)
    else:
        whole, frac = text, ""
    if group_sep is not None and group_sep in whole:
        groups = whole.split(group_sep)
        if not (re.fullmatch(r"\d{1,3}", groups[0]) and all(re.fullmatch(r"\d{3}", g) for g in groups[1:])):
            raise ValueError(text)
        whole = "".join(groups)
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(text)
    return Decimal(f"{whole}.{frac}" if frac else whole)


@dataclass(frozen=True)
class Amount:
    value: Decimal
    code: str | None  # an ISO code written in the cell ("EUR 1.200,50")
    symbol: str | None  # a currency symbol written in the cell ("$12,500")


@lru_cache(maxsize=1 << 15)
def parse_amount(raw: str) -> Amount:
    """The amount in a non-empty cell, with any currency code or symbol written there; AmountError if unusable."""
    text = raw.strip().replace("\u2212", "-")
    code: str | None = None
    symbol: str | None = None
    m = _CODE_BEFORE.match(text) or _CODE_AFTER.search(text)
    if m:
        code = m.group(1).upper()
        text = (text[: m.start()] + text[m.end() :]).strip()
    negative = False
    if text.startswith("(") and text.endswith(")"):  # accounting notation
        negative, text = True, text[1:-1].strip()
    for _ in range(2):  # "-$100" and "$-100"
        if text[:1] in ("-", "+"):
            negative, text = negative or text[0] == "-", text[1:].strip()
        if symbol is None and text[:1] in SYMBOLS:
            symbol, text = text[0], text[1:].strip()
        elif symbol is None and text[-1:] in SYMBOLS:
            symbol, text = text[-1], text[:-1].strip()
    if not text:
        raise AmountError("unparseable amount")
    try:
        value = _number(text)
    except (ValueError, InvalidOperation):
        raise AmountError("unparseable amount") from None
    if negative and value != 0:
        raise AmountError("negative amount", "amounts must be zero or more")
    try:
        amount_parts(abs(value))
    except ValueError:
        raise AmountError("amount out of range", f"at most {MAX_SCALE} decimal places and 18 digits") from None
    if code is not None and symbol is not None and SYMBOLS[symbol][1] is not None and code not in SYMBOLS[symbol][1]:  # type: ignore[operator]
        raise AmountError("conflicting currency symbol and code in amount", "write one currency per amount")
    return Amount(value, code, symbol)


def resolve_currency(amount: Amount, column: str | None, column_code: str | None, default: str) -> str:
    """The deal's currency: the currency cell, else the amount cell's code or symbol, else the default.

    AmountError when the amount cell names a currency the currency cell contradicts."""
    if column_code is not None:
        alone, allowed = SYMBOLS[amount.symbol] if amount.symbol else (None, None)
        written = amount.code or (alone if allowed is not None else None)
        if (amount.code is not None and amount.code != column_code) or (allowed is not None and column_code not in allowed):
            raise AmountError(
                f"currency mismatch with column {column!r} ({column_code!r}) for amount", f"the amount is in {written}"
            )
        return column_code
    if amount.code is not None:
        return amount.code
    if amount.symbol is not None:
        return SYMBOLS[amount.symbol][0]
    return default
