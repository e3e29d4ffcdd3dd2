"""A partner's touchpoints file -> TouchRows: which account, which role, which day.

Headers recognised: the account's website/domain ("Website", "Domain",
"Company Domain Name", ...), its name ("Account Name", "Company name"), the
role ("Role", "Partner Role", "Touch Type") and the date ("Date", "Touch
Date", "Activity Date"): the vocabulary every file kind shares (headers.py);
explicit ``*_column`` arguments win. Keys are the same as for accounts and
deals (rowkeys.row_keys). A row without any usable key is reported in
``rejected`` with the reason; every other problem (empty or unknown role,
missing or unparseable date) is a hard error (cells.CellError)
naming the file, 1-based row, column and value, and nothing is returned.

Roles, compared with case, spaces and punctuation ignored (``ROLES``):
sourcing (also source, sourced, referral, referred, partner sourced),
co-sell (cosell, co sell, co-selling), technical (tech, technical validation,
integration), influence (influenced, influencer). ``role_map`` adds values.
Dates follow dates.DateReader (ISO, m/d/Y or d/m/Y decided from the file,
d.m.Y, month names; the time of day is dropped).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cleanroom.attribution.records import ROLES as ROLE_NAMES
from cleanroom_client.inputs.cells import CellError
from cleanroom_client.inputs.codes import ROLES, CodeMap
from cleanroom_client.inputs.dates import DateReader
from cleanroom_client.inputs.headers import DATE_HEADERS, ROLE_HEADERS, column_name, require_column
from cleanroom_client.inputs.mapfile import load_map
from cleanroom_client.inputs.readers import Row, read_table
from cleanroom_client.inputs.readreport import ReadReport
from cleanroom_client.inputs.rowkeys import KeyColumns, MatchKey, Rejected, account_columns, cell, row_keys

__all__ = ["ROLES", "TouchColumns", "TouchRow", "TouchesResult", "load_touches"]


@dataclass(frozen=True)
class TouchRow:
    row: int  # 1-based data row
    keys: tuple[MatchKey, ...]
    role: str  # sourcing / co-sell / technical / influence
    day: date


@dataclass(frozen=True)
class TouchColumns:
    keys: tuple[str, ...]
    name: str | None
    role: str
    date: str
    country: str | None

    def describe(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class TouchesResult:
    source: Path
    touches: list[TouchRow]  # rows with at least one key, in file order
    rejected: list[Rejected]
    rows_read: int
    columns: TouchColumns
    day_first: bool = False
    read: ReadReport = field(default_factory=ReadReport)  # encoding, skipped lines, formulas without a value

    def totals(self) -> dict[str, object]:
        return {
            "rows": self.rows_read,
            "touches": len(self.touches),
            "rejected": len(self.rejected),
            "by_role": dict(sorted(Counter(t.role for t in self.touches).items())),
        }


def load_touches(
    path: Path | str,
    *,
    key_column: str | None = None,
    name_column: str | None = None,
    role_column: str | None = None,
    date_column: str | None = None,
    country_column: str | None = None,
    role_map: Mapping[str, str] | Path | str | None = None,
    name_key: bool = False,
    day_first: bool | None = None,
) -> TouchesResult:
    """Every touch in ``path`` (CSV, Parquet or XLSX), or a CellError / MissingColumn / InputError.

    ``role_map``: extra {"value": "sourcing|co-sell|technical|influence"} entries (mapping or JSON file).
    ``name_key`` adds the name + country key; ``day_first`` forces the order of slashed dates."""
    roles = CodeMap("role", ROLES, ROLE_NAMES, *load_map(role_map, "role"))
    table = read_table(Path(path))
    source, names = str(table.path), table.columns
    i_role = require_column(names, source, role_column, ROLE_HEADERS, "role", "role-column")
    i_date = require_column(names, source, date_column, DATE_HEADERS, "touch date", "date-column")
    account = account_columns(
        names, source, key_column=key_column, name_column=name_column, country_column=country_column, name_key=name_key
    )
    columns = TouchColumns(
        keys=tuple(names[i] for i in account.keys),
        name=column_name(names, account.name),
        role=names[i_role],
        date=names[i_date],
        country=column_name(names, account.country),
    )
    dates = DateReader(source, day_first)
    try:
        dates.settle_rows(names, table.rows, (i_date,))
        touches, rejected = _touch_rows(table.rows, source, columns, (i_role, i_date), account, roles, dates, name_key)
    except CellError as exc:  # rows are data rows: name the line too where lines were skipped
        raise exc.at_line(table.report.line_of(exc.row)) from None
    return TouchesResult(table.path, touches, rejected, len(table.rows), columns, bool(dates.day_first), table.report)


def _touch_rows(
    rows: list[Row],
    source: str,
    columns: TouchColumns,
    where: tuple[int, int],
    account: KeyColumns,
    roles: CodeMap,
    dates: DateReader,
    name_key: bool,
) -> tuple[list[TouchRow], list[Rejected]]:
    i_role, i_date = where
    accepted = f"accepted ({roles.accepted()}); add others with a role map"
    touches: list[TouchRow] = []
    rejected: list[Rejected] = []
    for number, row in enumerate(rows, start=1):
        raw_role = cell(row, i_role)
        role = roles.get(raw_role)
        if role is None:
            raise CellError(source, number, columns.role, raw_role, "unknown role" if raw_role else "missing role", accepted)
        day = dates.require(number, columns.date, cell(row, i_date))
        keys, reason = row_keys(row, account, name_key)
        if keys:
            touches.append(TouchRow(number, keys, role, day))
        else:
            rejected.append(Rejected(number, reason))
    return touches, rejected
