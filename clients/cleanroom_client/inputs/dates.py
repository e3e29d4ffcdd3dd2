"""Date cells of deals and touches files -> dates, with one slashed-date order per file.

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
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from cleanroom_client.inputs.cells import CellError
from cleanroom_client.inputs.readers import Row
from cleanroom_client.inputs.rowkeys import cell

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
    full = (
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    )
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
                self.path,
                r2,
                c2,
                v2,
                "day-first date",
                f"but row {r1}, column {c1!r} has the month-first date {v1!r}; write dates in one order (ISO 2025-03-04 is never ambiguous)",
            )
        self.day_first = day_first is not None

    def settle_rows(self, names: Sequence[str], rows: Sequence[Row], indexes: Iterable[int]) -> None:
        """settle() over the date columns ``indexes`` of a file's rows."""
        self.settle((names[i], ((n, cell(r, i)) for n, r in enumerate(rows, 1))) for i in indexes)

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
            raise CellError(
                self.path, row, column, value, "unparseable date", f"{DATE_HINT} (slashed dates read as {order} in this file)"
            )
        return parsed
