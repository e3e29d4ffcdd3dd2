"""CSV files as people export them: any encoding (encoding.py), any of , ; tab |, footers and short lines skipped.

Python's csv module rather than DuckDB's reader: a line with fewer fields than
the header (a Salesforce report footer, a half-filled line) must be skipped
and reported by its line number, and DuckDB's sniffer instead guesses a
different shape for the whole file. The rule, per record after the header:
- every field empty: a blank line, skipped;
- fewer fields than the header: a short line, skipped;
- more fields than the header: an error naming the line, unless the extra
  fields are empty (spreadsheets pad lines with trailing separators);
- a "Grand Totals (N records)" row: skipped as a footer.
Skipped lines are reported (readreport.py); data rows carry every cell as
text, an empty cell as None.
"""

from __future__ import annotations

import csv
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from cleanroom.errors import InputError
from cleanroom_client.inputs.encoding import Encoding, first_bad_line
from cleanroom_client.inputs.readreport import BLANK_REASON, FOOTER_REASON, ReadReport, is_footer_text, is_totals_row

DELIMITERS = (",", ";", "\t", "|")
FIELD_LIMIT = 16 << 20  # a CRM notes field can be long; csv's default limit is 128 KiB
csv.field_size_limit(min(sys.maxsize, max(csv.field_size_limit(), FIELD_LIMIT)))

Row = tuple[str | None, ...]


def sniff_delimiter(line: str) -> str:
    """The separator of the header line: the candidate found most often outside quotes (',' on a tie or none)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


FOOTER_STARTS = frozenset({"grand", "copyr", "confi", "gener"})  # a cheap test before the regular expressions


def _footer_row(fields: list[str]) -> bool:
    """A row as wide as the header that is a footer line: "Grand Totals (N records)", or a one-column file's footer."""
    return is_totals_row(fields) or (len(fields) == 1 and is_footer_text(fields[0]))


def _unique(names: list[str]) -> list[str]:
    """Header names made unique as DuckDB's reader made them (a second "Name" is "Name_1"), so that no cell is lost."""
    seen: set[str] = set()
    unique = []
    for name in names:
        candidate, n = name, 0
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


class CsvRows:
    """A CSV file's header now and its data rows once; skipped lines go to ``report``."""

    def __init__(self, path: Path, encoding: Encoding, report: ReadReport) -> None:
        self.path, self.report = path, report
        self._encoding = encoding
        self._fh: TextIO = path.open(encoding=encoding.codec, errors=encoding.errors, newline="")
        self._offset = self._line = 0
        try:
            first = self._first_line()
            self.delimiter = sniff_delimiter(first)
            self._reader = csv.reader(itertools.chain([first], self._fh), delimiter=self.delimiter, quotechar='"')
            self.columns = self._header()
        except UnicodeDecodeError:
            self.close()
            raise self._not_text() from None
        except csv.Error as exc:
            self.close()
            raise self._not_csv(self._offset + 1, exc) from None
        except BaseException:
            self.close()
            raise

    def _first_line(self) -> str:
        """The first non-blank line (blank lines before the header are reported skipped)."""
        number = 0
        for number, line in enumerate(self._fh, start=1):
            if line.strip():
                self._offset = number - 1
                return line
            self.report.skip(number, BLANK_REASON, [])
        self._offset = number
        return ""

    def _header(self) -> list[str]:
        fields = next(self._reader, None)
        self._line = self._offset + self._reader.line_num  # the header's last line
        if not fields:
            return []
        width = max((i + 1 for i, h in enumerate(fields) if h.strip()), default=0)
        return _unique([h.strip() or f"column{i}" for i, h in enumerate(fields[:width])])

    @property
    def header_lines(self) -> tuple[int, int]:
        """The header's first and last line (1-based): (1, 1) unless blank lines precede it or a name spans lines."""
        return self._offset + 1, self._line

    def _not_text(self) -> InputError:
        line = first_bad_line(self.path, self._encoding)
        return InputError(
            f"{self.path}: line {line}: not valid {self._encoding.label} text; export the file again as CSV (UTF-8)"
        )

    def rows(self) -> Iterator[Row]:
        """Every data row, in file order (once)."""
        width, report, offset = len(self.columns), self.report, self._offset
        line, row, shift = self._line, 0, -1
        try:
            for fields in self._reader:
                start, line = line + 1, offset + self._reader.line_num
                count = len(fields)
                if count == width and any(fields) and not (fields[0][:5].lower() in FOOTER_STARTS and _footer_row(fields)):
                    row += 1
                    if start - row != shift:  # a line skipped, or a value over several lines: remember where
                        shift = start - row
                        report.data_row(row, start)
                    yield tuple([f or None for f in fields])
                elif not any(f.strip() for f in fields):
                    report.skip(start, BLANK_REASON, fields)
                elif count < width and line - start > 1 and any("\n" in f or "\r" in f for f in fields):
                    raise self._unclosed_quote(start, line)
                elif count < width:
                    report.skip(start, f"short line: {count} of {width} fields", fields)
                elif count > width and any(f.strip() for f in fields[width:]):
                    raise self._too_long(start, fields)
                elif _footer_row(fields):
                    report.skip(start, FOOTER_REASON, fields)
                else:  # longer than the header by empty fields only
                    row += 1
                    shift = start - row
                    report.data_row(row, start)
                    yield tuple(f or None for f in fields[:width])
        except UnicodeDecodeError:
            raise self._not_text() from None
        except csv.Error as exc:
            raise self._not_csv(line + 1, exc) from None
        finally:
            report.last_data_line = row + shift if row else 0
            report.finish()
            self.close()

    def _not_csv(self, line: int, exc: csv.Error) -> InputError:
        return InputError(
            f"{self.path}: line {line}: cannot be read as CSV: {exc}; export the file again as CSV (UTF-8) from the CRM"
        )

    def _unclosed_quote(self, start: int, end: int) -> InputError:
        """A quote opened and never closed swallows every line after it into one value (csv reads on to the end)."""
        return InputError(
            f"{self.path}: line {start}: a double quote opened on this line is not closed before line {end}, so "
            f'lines {start}-{end} read as one value; close the quote (a quote inside a value is written twice: "") '
            "or export the file again"
        )

    def _too_long(self, line: int, fields: list[str]) -> InputError:
        extra = next(i for i in range(len(self.columns), len(fields)) if fields[i].strip())
        return InputError(
            f"{self.path}: line {line}: {len(fields)} fields but the header has {len(self.columns)}; "
            f"field {extra + 1} ({fields[extra].strip()[:40]!r}) has no column. A separator inside a value "
            'needs the value in double quotes ("Acme, Inc"); fix the line or add a column name to the header'
        )

    def close(self) -> None:
        self._fh.close()
