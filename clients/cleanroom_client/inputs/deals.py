"""The vendor's deals file (Salesforce opportunity report, HubSpot deal export) -> DealRows.

One data row is one deal: its id, the account it belongs to (website/domain,
name), amount and currency, stage (-> outcome won/lost/open), created and close
dates and type (-> new/expansion/renewal). Headers are recognised for both CRMs
(see the ``*_HEADERS`` tuples below); explicit ``*_column`` arguments win.

Keys are computed exactly as for accounts (accounts.py): the first usable
domain-like cell gives the canonical domain key, and with ``name_key=True``
the company name + country key is added. A deal whose row yields no key is
not an error: it is listed in ``rejected`` with the reason, and kept, fully
parsed, in ``keyless`` (it can never match a partner, but it still counts as a
deal without partner involvement).

Everything else wrong in a cell is a hard error (``CellError``) naming the
file, the 1-based data row, the column and the value; nothing partial is ever
returned. Rules for the values:

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

Dates (``DateReader``): ISO ("2025-03-04", "2025-03-04 10:00",
"2025-03-04T10:00:00Z"; the date as written, no time-zone conversion),
"2025/03/04", slashed m/d/Y or d/m/Y ("3/4/2025", "3/4/25", "3/4/2025 10:00 AM"),
dotted d.m.Y ("04.03.2025"), and month names ("Mar 4, 2025", "4 Mar 2025",
"04-Mar-2025"). Slashed dates are ambiguous; the order is decided per file
from the values themselves: a first part above 12 anywhere in the date columns
means day-first, a second part above 12 means month-first, both is an error
naming one example of each, neither falls back to month-first (Salesforce's
US export format). ``day_first`` forces the order. Two-digit years are
1970-2069.

Stages: Salesforce's standard opportunity stages, HubSpot's default deal
pipeline (internal values and labels), plus "Won"/"Lost"/"Open" and a few
common open stages; compared with case, spaces and punctuation ignored
(``STAGES``). ``stage_map`` (a mapping, or a JSON file of one) adds or
overrides stages -> won/lost/open. An empty or unknown stage is an error that
lists the accepted values.

Types: new / expansion / renewal from Salesforce's ("New Business", "New
Customer", "Existing Business - Upgrade", "Existing Customer - Downgrade", ...,
"Renewal") and HubSpot's ("newbusiness", "existingbusiness", "renewal")
values (``TYPES``); every "existing business/customer" type that is not a
renewal counts as expansion. An empty type is ``default_type`` ("new");
``type_map`` adds values; an unknown type is an error listing the accepted.

Deal ids must be present and unique (compared exactly: Salesforce ids are
case-sensitive). Won and lost deals need a close date; open deals may leave it
empty (then ``closed`` is None). A close date before the created date is an
error.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from cleanroom.attribution.recordio import MAX_SCALE, amount_parts
from cleanroom.attribution.records import DEAL_TYPES, OUTCOMES
from cleanroom.errors import InputError
from cleanroom_client.inputs.accounts import REASONS, MatchKey, Rejected
from cleanroom_client.inputs.keys.domain import DomainRejected, canonical_domain
from cleanroom_client.inputs.keys.names import name_key as make_name_key
from cleanroom_client.inputs.readers import Row, read_table
from cleanroom_client.inputs.mapfile import load_map

# --- header recognition ------------------------------------------------------------
# Candidates in precedence order; compared with case, spaces and punctuation ignored,
# so "Account: Website" == "Account Website" and "Deal_Stage" == "Deal Stage".

ID_HEADERS = ("Opportunity ID", "Opportunity ID 18", "Deal ID", "Record ID", "ID")
DEAL_NAME_HEADERS = ("Opportunity Name", "Deal Name")
NAME_HEADERS = ("Account Name", "Account: Account Name", "Associated Company", "Associated Company (Primary)",
                "Company name", "Company", "Account")
# A curated domain beats a website URL, which beats an e-mail address (as in columns.DOMAIN_COLUMNS).
KEY_HEADERS = ("Company Domain Name", "Account Domain", "Domain", "Account Website", "Account: Website", "Website",
               "Website URL", "Company Website", "URL", "Email", "E-mail", "Email Address", "Contact Email")
AMOUNT_HEADERS = ("Amount", "Opportunity Amount", "Deal Amount", "Amount (converted)", "Amount in company currency")
CURRENCY_HEADERS = ("Amount Currency", "Opportunity Currency", "Deal currency code", "Currency", "Currency Code",
                    "Currency ISO Code")
STAGE_HEADERS = ("Stage", "Opportunity Stage", "Stage Name", "Deal Stage")
CREATED_HEADERS = ("Created Date", "Create Date", "Opportunity Created Date", "Created", "Created On", "Date Created")
CLOSE_HEADERS = ("Close Date", "Closed Date", "Expected Close Date", "Close")
TYPE_HEADERS = ("Type", "Opportunity Type", "Deal Type")
COUNTRY_HEADERS = ("Billing Country", "Account: Billing Country", "Account Billing Country", "Country/Region",
                   "Country", "Shipping Country", "HQ Country")


def header_norm(text: str | None) -> str:
    """Case, spaces and punctuation do not matter in headers and coded values."""
    return re.sub(r"[\W_]+", "", (text or "").casefold())


class MissingColumn(InputError):
    """A required column is absent, or an explicitly named column does not exist."""


class CellError(InputError):
    """A value that cannot be used; the message names the file, 1-based data row, column and value."""

    def __init__(self, path: Path | str, row: int, column: str, value: str | None, problem: str, hint: str = "") -> None:
        self.path, self.row, self.column, self.value = str(path), row, column, value
        shown = "(empty)" if value is None or not str(value).strip() else repr(value)
        message = f"{path}: row {row}, column {column!r}: {problem} {shown}"
        super().__init__(message + (f"; {hint}" if hint else ""))


def find_column(columns: Sequence[str], source: str, wanted: str | None, candidates: Sequence[str], role: str,
                option: str, required: bool) -> int | None:
    """Index of the column for ``role``: the explicit ``wanted`` name, else the first candidate present."""
    normalised = [header_norm(c) for c in columns]
    if wanted is not None:
        if header_norm(wanted) not in normalised or not header_norm(wanted):
            raise MissingColumn(f"{source}: no column {wanted!r} for the {role}; columns found: {', '.join(columns)}")
        return normalised.index(header_norm(wanted))
    for candidate in map(header_norm, candidates):
        if candidate in normalised:
            return normalised.index(candidate)
    if required:
        looked = ", ".join(repr(c) for c in candidates[:6]) + (", ..." if len(candidates) > 6 else "")
        raise MissingColumn(
            f"{source}: no {role} column (looked for {looked}); columns found: {', '.join(columns)}; name it with --{option}"
        )
    return None


def key_columns(columns: Sequence[str], source: str, wanted: str | None, candidates: Sequence[str] = KEY_HEADERS) -> tuple[int, ...]:
    """Domain-like columns in precedence order (or just the explicit one)."""
    if wanted is not None:
        return (find_column(columns, source, wanted, (), "website/domain", "key-column", True),)  # type: ignore[arg-type]
    normalised = [header_norm(c) for c in columns]
    return tuple(dict.fromkeys(normalised.index(c) for c in map(header_norm, candidates) if c in normalised))


def cell(row: Row, index: int | None) -> str | None:
    if index is None or index >= len(row) or row[index] is None:
        return None
    return row[index].strip() or None


# --- keys --------------------------------------------------------------------------


def row_keys(row: Row, names: Sequence[str], keys: Sequence[int], name_index: int | None, country_index: int | None,
             name_key: bool) -> tuple[tuple[MatchKey, ...], str]:
    """(keys, "") or ((), reason): the canonical domain of the first usable key cell, plus the name key if asked.

    The same rules as accounts.load_accounts, so a deal and an account of one company get the same keys."""
    found: list[MatchKey] = []
    first: tuple[str, str, str] | None = None
    for index in keys:
        value = cell(row, index)
        if value is None:
            continue
        try:
            found.append(MatchKey("domain", canonical_domain(value)))
            break
        except DomainRejected as exc:
            if first is None or first[0] == "empty":
                first = (exc.reason, names[index], value)
    if name_key:
        name = cell(row, name_index)
        key = make_name_key(name, cell(row, country_index)) if name else None
        if key:
            found.append(MatchKey("name", key))
    if found:
        return tuple(found), ""
    if first is None:
        return (), REASONS["empty"]
    code, column, value = first
    return (), f"{REASONS.get(code, code)} (column {column!r}: {value!r})"


# --- amounts -----------------------------------------------------------------------

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


def _valid_currency(code: str) -> bool:
    return len(code) == 3 and code.isascii() and code.isalpha()


def _number(text: str) -> Decimal:
    """Digits with group and decimal separators (see the module docstring) -> Decimal; ValueError if not."""
    if _SCIENTIFIC.match(text):  # Excel writes big numbers as 1.25E+06 in CSV; Parquet floats as 1e+16
        return Decimal(format(Decimal(text), "f"))
    if _GROUP_SPACES.search(text):  # "1 200", "1'200.50", "1 200,50": spaces group, the rest is decimal
        head, *rest = _GROUP_SPACES.split(text)
        if not (re.fullmatch(r"\d{1,3}", head) and all(re.fullmatch(r"\d{3}", p) for p in rest[:-1])
                and re.fullmatch(r"\d{3}(?:[.,]\d+)?", rest[-1])):
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
        text = (text[: m.start()] + text[m.end():]).strip()
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
        allowed = SYMBOLS[amount.symbol][1] if amount.symbol else None
        written = amount.code or (SYMBOLS[amount.symbol][0] if allowed is not None else None)
        if (amount.code is not None and amount.code != column_code) or (allowed is not None and column_code not in allowed):
            raise AmountError(f"currency mismatch with column {column!r} ({column_code!r}) for amount", f"the amount is in {written}")
        return column_code
    if amount.code is not None:
        return amount.code
    if amount.symbol is not None:
        return SYMBOLS[amount.symbol][0]
    return default


# --- dates -------------------------------------------------------------------------

_TIME = r"(?:[T ,]\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})?)?"
_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})" + _TIME + "$")
_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})" + _TIME + "$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})\.?" + _TIME + "$")
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_MONTH = r"([A-Za-z]{3,9})\.?"
_NAMED_DMY = re.compile(r"^(\d{1,2})[ -]" + _MONTH + r"[ ,-]\s*(\d{4}|\d{2})" + _TIME + "$")
_NAMED_MDY = re.compile(r"^" + _MONTH + r" (\d{1,2}),? (\d{4})" + _TIME + "$")
DATE_HINT = "expected a date such as 2025-03-04, 3/4/2025 or 2025-03-04 10:00"


def _year(text: str) -> int:
    y = int(text)
    return y if len(text) == 4 else 2000 + y if y < 70 else 1900 + y


def _month(name: str) -> int | None:
    name = name.casefold()
    if name == "sept":
        name = "sep"
    month = _MONTHS.get(name[:3])
    full = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
    if month is None or not (len(name) == 3 or name == "sept" or full[month - 1] == name):
        return None
    return month


class DateReader:
    """Parses the date columns of one file with one slashed-date order (see the module docstring)."""

    def __init__(self, path: Path | str, day_first: bool | None = None) -> None:
        self.path = str(path)
        self.day_first = day_first
        self._cache: dict[str, date | None] = {}

    def settle(self, columns: Iterable[tuple[str, Iterable[tuple[int, str | None]]]]) -> None:
        """Decide the slashed-date order from (column name, (row, value)...) unless it was given."""
        if self.day_first is not None:
            return
        month_first: tuple[int, str, str] | None = None  # (row, column, value) showing month-first
        day_first: tuple[int, str, str] | None = None
        for column, values in columns:
            seen: set[str] = set()
            for row, value in values:
                if value is None or value in seen:
                    continue
                seen.add(value)
                m = _SLASH.match(value.strip())
                if not m:
                    continue
                a, b = int(m.group(1)), int(m.group(2))
                if a > 12 and b <= 12 and day_first is None:
                    day_first = (row, column, value)
                elif b > 12 and a <= 12 and month_first is None:
                    month_first = (row, column, value)
            if day_first and month_first:
                break
        if day_first and month_first:
            (r1, c1, v1), (r2, c2, v2) = month_first, day_first
            raise CellError(
                self.path, r2, c2, v2, "day-first date",
                f"but row {r1}, column {c1!r} has the month-first date {v1!r}; write dates in one order (ISO 2025-03-04 is never ambiguous)",
            )
        self.day_first = day_first is not None

    def parse(self, value: str) -> date | None:
        """The date, or None when the text is not a date this reader knows."""
        try:
            return self._cache[value]
        except KeyError:
            pass
        result = self._parse(value.strip())
        if len(self._cache) < 1 << 16:
            self._cache[value] = result
        return result

    def _parse(self, text: str) -> date | None:
        y = mo = d = None
        if m := _ISO.match(text):
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        elif m := _SLASH.match(text):
            a, b = int(m.group(1)), int(m.group(2))
            mo, d = (b, a) if self.day_first else (a, b)
            y = _year(m.group(3))
        elif m := _DOTTED.match(text):
            d, mo, y = int(m.group(1)), int(m.group(2)), _year(m.group(3))
        elif m := _NAMED_DMY.match(text):
            d, mo, y = int(m.group(1)), _month(m.group(2)), _year(m.group(3))
        elif m := _NAMED_MDY.match(text):
            mo, d, y = _month(m.group(1)), int(m.group(2)), int(m.group(3))
        if y is None or mo is None or d is None or not 1900 <= y <= 2999:
            return None
        try:
            return date(y, mo, d)
        except ValueError:
            return None

    def require(self, row: int, column: str, value: str | None) -> date:
        parsed = self.parse(value) if value is not None else None
        if parsed is None:
            if value is None:
                raise CellError(self.path, row, column, value, "missing date", DATE_HINT)
            order = "d/m/Y" if self.day_first else "m/d/Y"
            raise CellError(self.path, row, column, value, "unparseable date", f"{DATE_HINT} (slashed dates read as {order} in this file)")
        return parsed


# --- coded values: stages, types ---------------------------------------------------

STAGES: dict[str, str] = {
    # Salesforce standard opportunity stages
    "Prospecting": "open", "Qualification": "open", "Needs Analysis": "open", "Value Proposition": "open",
    "Id. Decision Makers": "open", "Perception Analysis": "open", "Proposal/Price Quote": "open",
    "Negotiation/Review": "open", "Closed Won": "won", "Closed Lost": "lost",
    # HubSpot default sales pipeline (internal values normalise to the same as these labels)
    "Appointment Scheduled": "open", "Qualified To Buy": "open", "Presentation Scheduled": "open",
    "Decision Maker Bought-In": "open", "Contract Sent": "open",
    # plain words and common custom open stages
    "Won": "won", "Lost": "lost", "Open": "open", "Discovery": "open", "Proposal": "open", "Negotiation": "open",
}
TYPES: dict[str, str] = {
    "New Business": "new", "New Customer": "new", "New": "new", "New Logo": "new",
    "Existing Business": "expansion", "Existing Business - Upgrade": "expansion", "Existing Business - Upsell": "expansion",
    "Existing Business - Cross-sell": "expansion", "Existing Customer - Upgrade": "expansion",
    "Existing Customer - Downgrade": "expansion", "Existing Customer - Replacement": "expansion",
    "Expansion": "expansion", "Upsell": "expansion", "Upgrade": "expansion", "Cross-sell": "expansion", "Add-on": "expansion",
    "Renewal": "renewal", "Existing Business - Renewal": "renewal", "Existing Customer - Renewal": "renewal",
}


class CodeMap:
    """Coded cell values (compared with case, spaces and punctuation ignored) -> one of ``allowed``."""

    def __init__(self, what: str, defaults: Mapping[str, str], allowed: Sequence[str], extra: Mapping[str, str] | None = None,
                 origin: str = "") -> None:
        self.what = what
        self._labels: dict[str, str] = {}
        self._codes: dict[str, str] = {}
        for label, code in {**defaults, **(extra or {})}.items():
            if code not in allowed:
                raise InputError(f"{origin or what + ' map'}: {label!r} maps to {code!r}; use one of {', '.join(allowed)}")
            if not header_norm(label):
                raise InputError(f"{origin or what + ' map'}: empty {what} value {label!r}")
            self._labels[header_norm(label)] = label.strip()
            self._codes[header_norm(label)] = code
        self._seen: dict[str | None, str | None] = {}  # raw value -> code: a file repeats a handful of values

    def get(self, value: str | None) -> str | None:
        try:
            return self._seen[value]
        except KeyError:
            if len(self._seen) > 4096:  # free text in a coded column: stop remembering
                self._seen.clear()
            found = self._seen[value] = self._codes.get(header_norm(value))
            return found

    def accepted(self) -> str:
        by_code: dict[str, list[str]] = {}
        for norm, label in self._labels.items():
            by_code.setdefault(self._codes[norm], []).append(label)
        listed = "; ".join(f"{code}: {', '.join(sorted(labels, key=str.casefold))}" for code, labels in by_code.items())
        return listed + "; case, spaces and punctuation ignored"


# --- the deals file ----------------------------------------------------------------


@dataclass(frozen=True)
class DealRow:
    row: int  # 1-based data row
    deal_id: str
    account_name: str | None
    keys: tuple[MatchKey, ...]  # () only in DealsResult.keyless
    amount: Decimal
    currency: str
    outcome: str  # won / lost / open
    stage: str  # as written in the file
    created: date
    closed: date | None
    deal_type: str  # new / expansion / renewal
    deal_name: str | None = None


@dataclass(frozen=True)
class DealColumns:
    """Which column (name as in the file) plays which part; None when absent."""

    keys: tuple[str, ...]
    account_name: str | None
    deal_id: str
    deal_name: str | None
    amount: str
    currency: str | None
    stage: str
    created: str
    close: str
    type: str | None
    country: str | None

    def describe(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class DealsResult:
    source: Path
    deals: list[DealRow]  # rows with at least one key, in file order
    rejected: list[Rejected]  # rows without a usable key, with the reason
    keyless: list[DealRow]  # the rejected rows, parsed (keys == ())
    rows_read: int
    columns: DealColumns
    empty_amounts: int = 0
    day_first: bool = False

    def totals(self) -> dict[str, object]:
        every = self.deals + self.keyless
        return {
            "rows": self.rows_read,
            "deals": len(self.deals),
            "rejected": len(self.rejected),
            "empty_amounts": self.empty_amounts,
            "by_outcome": dict(sorted(Counter(d.outcome for d in every).items())),
            "by_type": dict(sorted(Counter(d.deal_type for d in every).items())),
            "currencies": dict(sorted(Counter(d.currency for d in every).items())),
        }


def load_deals(
    path: Path | str,
    *,
    key_column: str | None = None,
    name_column: str | None = None,
    id_column: str | None = None,
    amount_column: str | None = None,
    currency_column: str | None = None,
    stage_column: str | None = None,
    created_column: str | None = None,
    close_column: str | None = None,
    type_column: str | None = None,
    country_column: str | None = None,
    stage_map: Mapping[str, str] | Path | str | None = None,
    type_map: Mapping[str, str] | Path | str | None = None,
    default_currency: str = "USD",
    default_type: str = "new",
    name_key: bool = False,
    day_first: bool | None = None,
) -> DealsResult:
    """Every deal in ``path`` (CSV, Parquet or XLSX), or a CellError / MissingColumn / InputError.

    ``stage_map`` / ``type_map``: extra {"value": "won|lost|open"} / {"value": "new|expansion|renewal"}
    entries, as a mapping or a JSON file. ``name_key`` adds the name + country key (as accounts do).
    ``day_first`` forces the order of slashed dates (default: decided from the file)."""
    given, default_currency = default_currency, (default_currency or "").strip().upper()
    if not _valid_currency(default_currency):
        raise InputError(f"default currency {given!r} must be a three-letter ISO code such as USD")
    if default_type not in DEAL_TYPES:
        raise InputError(f"default deal type {default_type!r}: use one of {', '.join(DEAL_TYPES)}")
    stages = CodeMap("stage", STAGES, OUTCOMES, *load_map(stage_map, "stage"))
    types = CodeMap("type", TYPES, DEAL_TYPES, *load_map(type_map, "type"))
    table = read_table(Path(path))
    source, names = str(table.path), table.columns

    def find(wanted: str | None, candidates: Sequence[str], role: str, option: str, required: bool) -> int | None:
        return find_column(names, source, wanted, candidates, role, option, required)

    i_id = find(id_column, ID_HEADERS, "deal id", "id-column", True)
    i_amount = find(amount_column, AMOUNT_HEADERS, "amount", "amount-column", True)
    i_stage = find(stage_column, STAGE_HEADERS, "stage", "stage-column", True)
    i_created = find(created_column, CREATED_HEADERS, "created date", "created-column", True)
    i_close = find(close_column, CLOSE_HEADERS, "close date", "close-column", True)
    i_currency = find(currency_column, CURRENCY_HEADERS, "currency", "currency-column", False)
    i_type = find(type_column, TYPE_HEADERS, "deal type", "type-column", False)
    i_name = find(name_column, NAME_HEADERS, "account name", "name-column", False)
    i_country = find(country_column, COUNTRY_HEADERS, "country", "country-column", False)
    i_deal_name = find(None, DEAL_NAME_HEADERS, "deal name", "", False)
    i_keys = key_columns(names, source, key_column)
    if not i_keys and not (name_key and i_name is not None):
        looked = ", ".join(repr(c) for c in KEY_HEADERS[:6])
        raise MissingColumn(f"{source}: no website/domain column for the account (looked for {looked}, ...); "
                            f"columns found: {', '.join(names)}; name it with --key-column")
    pick = lambda i: None if i is None else names[i]  # noqa: E731
    columns = DealColumns(
        keys=tuple(names[i] for i in i_keys), account_name=pick(i_name), deal_id=names[i_id], deal_name=pick(i_deal_name),  # type: ignore[index]
        amount=names[i_amount], currency=pick(i_currency), stage=names[i_stage], created=names[i_created],  # type: ignore[index]
        close=names[i_close], type=pick(i_type), country=pick(i_country),  # type: ignore[index]
    )
    dates = DateReader(source, day_first)
    dates.settle((names[i], ((n, cell(r, i)) for n, r in enumerate(table.rows, 1))) for i in (i_created, i_close))  # type: ignore[index]

    deals: list[DealRow] = []
    keyless: list[DealRow] = []
    rejected: list[Rejected] = []
    first_row_of: dict[str, int] = {}
    empty_amounts = 0
    for number, row in enumerate(table.rows, start=1):
        deal_id = cell(row, i_id)
        if deal_id is None:
            raise CellError(source, number, columns.deal_id, deal_id, "missing deal id", "every deal needs its CRM id")
        if deal_id in first_row_of:
            raise CellError(
                source, number, columns.deal_id, deal_id, "duplicate deal id",
                f"also on row {first_row_of[deal_id]} (a report with one row per product line? export one row per opportunity)",
            )
        first_row_of[deal_id] = number
        # amount and currency
        raw_amount = cell(row, i_amount)
        raw_currency = cell(row, i_currency)
        column_code = None
        if raw_currency is not None:
            column_code = raw_currency.upper()
            if not _valid_currency(column_code):
                raise CellError(source, number, columns.currency or "", raw_currency, "unknown currency",
                                "expected a three-letter ISO code such as USD or EUR")
        try:
            if raw_amount is None:
                empty_amounts += 1
                parsed = Amount(Decimal(0), None, None)
            else:
                parsed = parse_amount(raw_amount)
            currency = resolve_currency(parsed, columns.currency, column_code, default_currency)
        except AmountError as exc:
            raise CellError(source, number, columns.amount, raw_amount, exc.problem, exc.hint) from None
        # stage, type
        stage = cell(row, i_stage)
        outcome = stages.get(stage)
        if outcome is None:
            raise CellError(source, number, columns.stage, stage, "unknown stage" if stage else "missing stage",
                            f"accepted ({stages.accepted()}); add others with a stage map")
        raw_type = cell(row, i_type)
        deal_type = default_type if raw_type is None else types.get(raw_type)
        if deal_type is None:
            raise CellError(source, number, columns.type or "", raw_type, "unknown deal type",
                            f"accepted ({types.accepted()}); add others with a type map")
        # dates
        created = dates.require(number, columns.created, cell(row, i_created))
        raw_close = cell(row, i_close)
        if raw_close is None and outcome != "open":
            raise CellError(source, number, columns.close, raw_close, "missing close date",
                            f"a {outcome} deal needs the date it closed")
        closed = None if raw_close is None else dates.require(number, columns.close, raw_close)
        if closed is not None and closed < created:
            raise CellError(source, number, columns.close, raw_close, "close date before the created date",
                            f"{closed.isoformat()} is before {created.isoformat()} (column {columns.created!r}: {cell(row, i_created)!r})")
        keys, reason = row_keys(row, names, i_keys, i_name, i_country, name_key)
        deal = DealRow(number, deal_id, cell(row, i_name), keys, parsed.value, currency, outcome, stage,  # type: ignore[arg-type]
                       created, closed, deal_type, cell(row, i_deal_name))
        if keys:
            deals.append(deal)
        else:
            keyless.append(deal)
            rejected.append(Rejected(number, reason))
    return DealsResult(table.path, deals, rejected, keyless, len(table.rows), columns, empty_amounts, bool(dates.day_first))
