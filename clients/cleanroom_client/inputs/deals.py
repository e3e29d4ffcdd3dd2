"""The vendor's deals file (Salesforce opportunity report, HubSpot deal export) -> DealRows.

One data row is one deal: its id, the account it belongs to (website/domain,
name), amount and currency, stage (-> outcome won/lost/open), created and close
dates and type (-> new/expansion/renewal). Headers are recognised for both CRMs
with the vocabulary every file kind shares (headers.py), in deal_columns.py;
explicit ``*_column`` arguments win.

Keys are computed exactly as for accounts (rowkeys.row_keys): the first usable
domain-like cell gives the canonical domain key, and with ``name_key=True``
the company name + country key is added. A deal whose row yields no key is
not an error: it is listed in ``rejected`` with the reason, and kept, fully
parsed, in ``keyless`` (it can never match a partner, but it still counts as a
deal without partner involvement).

Everything else wrong in a cell is a hard error (``CellError``) naming the
file, the 1-based data row, the column and the value; nothing partial is ever
returned. Amounts are read by amounts.py, dates by dates.py (one slashed-date
order per file), stages and types through codes.py.

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

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from cleanroom.attribution.records import DEAL_TYPES, OUTCOMES
from cleanroom.errors import InputError
from cleanroom_client.inputs.amounts import Amount, AmountError, parse_amount, resolve_currency, valid_currency
from cleanroom_client.inputs.cells import CellError
from cleanroom_client.inputs.codes import STAGES, TYPES, CodeMap
from cleanroom_client.inputs.dates import DateReader
from cleanroom_client.inputs.deal_columns import DealColumns, DealWhere, locate_deal_columns
from cleanroom_client.inputs.mapfile import load_map
from cleanroom_client.inputs.readers import Row, read_table
from cleanroom_client.inputs.readreport import ReadReport
from cleanroom_client.inputs.rowkeys import MatchKey, Rejected, cell, row_keys

__all__ = ["DealRow", "DealsResult", "load_deals"]


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
    read: ReadReport = field(default_factory=ReadReport)  # encoding, skipped lines, formulas without a value

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


class _DealParser:
    """One deals file's rows -> DealRows, with the file's columns, code maps and date order."""

    def __init__(
        self,
        source: str,
        where: DealWhere,
        stages: CodeMap,
        types: CodeMap,
        dates: DateReader,
        default_currency: str,
        default_type: str,
        name_key: bool,
    ) -> None:
        self.source, self.where, self.columns = source, where, where.columns()
        self.stages, self.types, self.dates = stages, types, dates
        self.default_currency, self.default_type, self.name_key = default_currency, default_type, name_key
        self.empty_amounts = 0
        self._first_row_of: dict[str, int] = {}  # deal id -> the row it is on

    def parse(self, number: int, row: Row) -> tuple[DealRow, str]:
        """The deal on data row ``number`` and, when it has no key, the reason; CellError for a bad cell."""
        deal_id = self._deal_id(number, row)
        amount, currency = self._money(number, row)
        outcome, stage, deal_type = self._codes(number, row)
        created, closed = self._dates(number, row, outcome)
        keys, reason = row_keys(row, self.where.account, self.name_key)
        deal = DealRow(
            number,
            deal_id,
            cell(row, self.where.account.name),
            keys,
            amount,
            currency,
            outcome,
            stage,
            created,
            closed,
            deal_type,
            cell(row, self.where.deal_name),
        )
        return deal, reason

    def _deal_id(self, number: int, row: Row) -> str:
        deal_id = cell(row, self.where.deal_id)
        if deal_id is None:
            raise CellError(self.source, number, self.columns.deal_id, deal_id, "missing deal id", "every deal needs its CRM id")
        if deal_id in self._first_row_of:
            raise CellError(
                self.source,
                number,
                self.columns.deal_id,
                deal_id,
                "duplicate deal id",
                f"also on row {self._first_row_of[deal_id]} (a report with one row per product line? export one row per opportunity)",
            )
        self._first_row_of[deal_id] = number
        return deal_id

    def _money(self, number: int, row: Row) -> tuple[Decimal, str]:
        raw_amount = cell(row, self.where.amount)
        raw_currency = cell(row, self.where.currency)
        column_code = None
        if raw_currency is not None:
            column_code = raw_currency.upper()
            if not valid_currency(column_code):
                raise CellError(
                    self.source,
                    number,
                    self.columns.currency or "",
                    raw_currency,
                    "unknown currency",
                    "expected a three-letter ISO code such as USD or EUR",
                )
        try:
            if raw_amount is None:
                self.empty_amounts += 1
                parsed = Amount(Decimal(0), None, None)
            else:
                parsed = parse_amount(raw_amount)
            return parsed.value, resolve_currency(parsed, self.columns.currency, column_code, self.default_currency)
        except AmountError as exc:
            raise CellError(self.source, number, self.columns.amount, raw_amount, exc.problem, exc.hint) from None

    def _codes(self, number: int, row: Row) -> tuple[str, str, str]:
        stage = cell(row, self.where.stage)
        outcome = self.stages.get(stage)
        if outcome is None or stage is None:
            raise CellError(
                self.source,
                number,
                self.columns.stage,
                stage,
                "unknown stage" if stage else "missing stage",
                f"accepted ({self.stages.accepted()}); add others with a stage map",
            )
        raw_type = cell(row, self.where.type)
        deal_type = self.default_type if raw_type is None else self.types.get(raw_type)
        if deal_type is None:
            raise CellError(
                self.source,
                number,
                self.columns.type or "",
                raw_type,
                "unknown deal type",
                f"accepted ({self.types.accepted()}); add others with a type map",
            )
        return outcome, stage, deal_type

    def _dates(self, number: int, row: Row, outcome: str) -> tuple[date, date | None]:
        columns = self.columns
        created = self.dates.require(number, columns.created, cell(row, self.where.created))
        raw_close = cell(row, self.where.close)
        if raw_close is None and outcome != "open":
            raise CellError(
                self.source, number, columns.close, raw_close, "missing close date", f"a {outcome} deal needs the date it closed"
            )
        closed = None if raw_close is None else self.dates.require(number, columns.close, raw_close)
        if closed is not None and closed < created:
            raise CellError(
                self.source,
                number,
                columns.close,
                raw_close,
                "close date before the created date",
                f"{closed.isoformat()} is before {created.isoformat()} "
                f"(column {columns.created!r}: {cell(row, self.where.created)!r})",
            )
        return created, closed


def _default_currency(value: str, default_type: str) -> str:
    """The default currency as an upper-case ISO code; InputError for a bad default currency or type."""
    code = (value or "").strip().upper()
    if not valid_currency(code):
        raise InputError(f"default currency {value!r} must be a three-letter ISO code such as USD")
    if default_type not in DEAL_TYPES:
        raise InputError(f"default deal type {default_type!r}: use one of {', '.join(DEAL_TYPES)}")
    return code


def _parse_rows(parser: _DealParser, rows: list[Row]) -> tuple[list[DealRow], list[DealRow], list[Rejected]]:
    """Every row parsed, as (deals with a key, keyless deals, the keyless rows' reasons)."""
    deals: list[DealRow] = []
    keyless: list[DealRow] = []
    rejected: list[Rejected] = []
    for number, row in enumerate(rows, start=1):
        deal, reason = parser.parse(number, row)
        if deal.keys:
            deals.append(deal)
        else:
            keyless.append(deal)
            rejected.append(Rejected(number, reason))
    return deals, keyless, rejected


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
    default_currency = _default_currency(default_currency, default_type)
    stages = CodeMap("stage", STAGES, OUTCOMES, *load_map(stage_map, "stage"))
    types = CodeMap("type", TYPES, DEAL_TYPES, *load_map(type_map, "type"))
    table = read_table(Path(path))
    source = str(table.path)
    wanted = {
        "key": key_column,
        "name": name_column,
        "deal_id": id_column,
        "amount": amount_column,
        "currency": currency_column,
        "stage": stage_column,
        "created": created_column,
        "close": close_column,
        "type": type_column,
        "country": country_column,
    }
    where = locate_deal_columns(table.columns, source, wanted, name_key)
    dates = DateReader(source, day_first)
    parser = _DealParser(source, where, stages, types, dates, default_currency, default_type, name_key)
    try:
        dates.settle_rows(table.columns, table.rows, (where.created, where.close))
        deals, keyless, rejected = _parse_rows(parser, table.rows)
    except CellError as exc:  # rows are data rows: name the line too where lines were skipped
        raise exc.at_line(table.report.line_of(exc.row)) from None
    rows, empty, day_first = len(table.rows), parser.empty_amounts, bool(dates.day_first)
    return DealsResult(table.path, deals, rejected, keyless, rows, parser.columns, empty, day_first, table.report)
