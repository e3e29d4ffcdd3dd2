"""Reading a clean CSV file by lines (inputs/csvlines.py): only lines the row cache has not seen are parsed,
and the accounts are always those of the file read whole.

Ground truth is the uncached load of the same file (``cache=None``, the csvtext/arrowcsv reads the other
tests check). A file read by lines is read with ``keep_fields=False`` and a row cache, as the incremental
map reads it. The hostile cases put a line the cache knows inside a quoted value a changed line opens,
rewrite the file while it is read, and change lines only in a column nobody reads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cleanroom.errors import InputError
from cleanroom_client.inputs import columnar, csvlines, rowcache
from cleanroom_client.inputs.accounts import LoadResult, RowCache, load_accounts
from cleanroom_client.inputs.arrowcsv import read_clean_csv

HEADER = "Account Name,Website,Type,Billing Country,Notes"
ROWS = [f"Company {i},company{i}.com,{('Customer', 'Prospect', 'Opportunity')[i % 3]},US,n{i}" for i in range(40)]


def text(lines: list[str], end: str = "\n", final: bool = True, bom: bool = False) -> bytes:
    body = end.join([HEADER, *lines]) + (end if final else "")
    return (b"\xef\xbb\xbf" if bom else b"") + body.encode()


def summary(result: LoadResult) -> tuple[Any, ...]:
    accounts = [(a.rows, a.keys, a.populations, a.name, a.domain) for a in result.accounts]
    return accounts, result.rejected, result.rows_read, result.read


def outcome(path: Path, cache: RowCache | None) -> tuple[Any, ...]:
    """What a load gives, or the error it raises (the cached load must refuse what the uncached one refuses)."""
    try:
        return ("ok", summary(load_accounts(path, keep_fields=False, cache=cache)))
    except InputError as exc:
        return ("refused", str(exc))


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lines each parse of a read by lines was given."""
    seen: list[int] = []
    original = csvlines.CsvLines.parse

    def counting(self: csvlines.CsvLines, at: np.ndarray, wanted: Any) -> Any:
        seen.append(len(at))
        return original(self, at, wanted)

    monkeypatch.setattr(csvlines.CsvLines, "parse", counting)
    return seen


@pytest.mark.parametrize(
    ("end", "final", "bom"), [("\n", True, False), ("\r\n", True, False), ("\n", False, False), ("\n", True, True)]
)
def test_only_changed_lines_are_parsed(tmp_path: Path, parsed: list[int], end: str, final: bool, bom: bool) -> None:
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    path.write_bytes(text(ROWS, end, final, bom))
    assert outcome(path, cache) == outcome(path, None)  # first read: every line new, the file parsed whole
    assert parsed == []
    changed = [*ROWS[:5], "Newco,newco.io,Customer,GB,x", *ROWS[6:], "Company 3,company3.com,Customer,US,dup"]
    path.write_bytes(text(changed, end, final, bom))
    warm = load_accounts(path, keep_fields=False, cache=cache)
    assert summary(warm) == outcome(path, None)[1]
    # The new row and the new last line; without a final LF the old last line gained one, so it is new too.
    assert parsed == [2 if final else 3]
    assert warm.normalised == 1  # the last line's read cells are Company 3's (Notes is not read): only Newco's are new


def test_a_known_line_inside_a_quoted_value_is_not_taken_for_a_row(tmp_path: Path, parsed: list[int]) -> None:
    """A changed line opens a quoted value and the next line, one the cache knows, is part of that value:
    read whole, the file has no such row; read by lines it must not either. (The changed lines parsed
    together are fewer rows than lines; the last line of a file, left open, would swallow our own line.)"""
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    path.write_bytes(text(ROWS))
    load_accounts(path, keep_fields=False, cache=cache)
    # A quote inside an unquoted field (literal) and one opening the Notes value: an even count, still open.
    opened = 'Acme "Inc",acme.com,Customer,US,"note'
    for lines in ([*ROWS[:10], opened, ROWS[10], 'end"', *ROWS[11:]], [*ROWS[:-1], opened, ROWS[-1]]):
        path.write_bytes(text(lines))
        expected = outcome(path, None)
        assert outcome(path, cache) == expected
        if expected[0] == "ok":
            domains = {a[4] for a in expected[1][0]}
            assert "company10.com" not in domains or lines[-1] == ROWS[-1]


@pytest.mark.parametrize(
    "changed",
    [
        "",  # a blank line
        "Grand Totals,,,,",  # a footer
        "Newco,newco.io,Customer,GB,x,extra",  # wider than the header
        "Newco,newco.io,Customer",  # narrower
        "Bad\rCo,bad.io,Customer,GB,x",  # a CR that does not end a line
    ],
)
def test_a_changed_line_that_is_not_a_clean_row_is_read_whole(tmp_path: Path, changed: str) -> None:
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    path.write_bytes(text(ROWS))
    load_accounts(path, keep_fields=False, cache=cache)
    path.write_bytes(text([*ROWS[:7], changed, *ROWS[7:]]))
    assert outcome(path, cache) == outcome(path, None)


def test_lines_changed_only_in_an_unread_column_are_parsed_not_normalised(tmp_path: Path, parsed: list[int]) -> None:
    """A CRM export's "last activity" changes every day: the line changes, the row's record does not."""
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    path.write_bytes(text(ROWS))
    load_accounts(path, keep_fields=False, cache=cache)
    touched = [row.rsplit(",", 1)[0] + ",touched" if i % 4 == 0 else row for i, row in enumerate(ROWS)]
    path.write_bytes(text(touched))
    warm = load_accounts(path, keep_fields=False, cache=cache)
    assert summary(warm) == outcome(path, None)[1]
    assert parsed == [10] and warm.normalised == 0


def test_a_changed_header_keeps_the_rows_but_not_the_lines(tmp_path: Path, parsed: list[int]) -> None:
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    path.write_bytes(text(ROWS))
    load_accounts(path, keep_fields=False, cache=cache)
    swapped = "Website,Account Name,Type,Billing Country,Notes\n" + "".join(
        ",".join([r.split(",")[1], r.split(",")[0], *r.split(",")[2:]]) + "\n" for r in ROWS
    )
    path.write_text(swapped)
    warm = load_accounts(path, keep_fields=False, cache=cache)
    assert summary(warm) == outcome(path, None)[1]
    assert parsed == [] and warm.normalised == 0  # every line new (read whole), every row's cells known


def test_a_file_rewritten_while_it_is_read_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first read digests the file's bytes, then parses it whole from its path: if it changed in between,
    the lines' digests would be kept with another file's cells."""
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    path.write_bytes(text(ROWS))
    swapped = [row.replace("Customer", "Prospect") for row in ROWS]
    rewrites = []

    def rewriting(source: Path, keep: Any = None) -> Any:
        if not rewrites:  # the export job writes the next file just now
            rewrites.append(source)
            source.write_bytes(text(swapped))
        return read_clean_csv(source, keep)

    monkeypatch.setattr(columnar, "read_clean_csv", rewriting)
    first = load_accounts(path, keep_fields=False, cache=cache)
    assert rewrites and summary(first) == outcome(path, None)[1]  # the file as it now is, read the usual way
    monkeypatch.undo()
    # Had the first file's line digests been kept with the second file's records, the first file's lines
    # would now come back as the second file's rows (prospects, not customers).
    path.write_bytes(text(ROWS))
    assert outcome(path, cache) == outcome(path, None)


def test_a_file_replaced_while_its_header_is_read_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The columns come from the header read, the lines from the bytes read after it: an export job that renames
    tomorrow's file (the same names, in another order) into place between the two must not get the new
    file's changed lines parsed under the old columns, nor kept in the cache so (found by a review)."""
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    swapped_header = "Website,Account Name,Type,Billing Country,Notes"
    reordered = [",".join([r.split(",")[1], r.split(",")[0], *r.split(",")[2:]]) for r in ROWS]
    path.write_bytes((swapped_header + "\n" + "".join(line + "\n" for line in reordered)).encode())
    load_accounts(path, keep_fields=False, cache=cache)  # the line index holds the reordered file's lines
    path.write_bytes(text(ROWS))
    changed = [*reordered[:5], "newco.io,Newco,Customer,GB,x", *reordered[6:]]
    tomorrow = (swapped_header + "\n" + "".join(line + "\n" for line in changed)).encode()
    original = csvlines.CsvRows

    class Replacing(original):  # type: ignore[misc,valid-type]
        def close(self) -> None:
            super().close()
            (tmp_path / "next.csv").write_bytes(tomorrow)
            (tmp_path / "next.csv").replace(path)

    monkeypatch.setattr(csvlines, "CsvRows", Replacing)
    racing = outcome(path, cache)
    monkeypatch.undo()
    assert racing == outcome(path, None)
    assert outcome(path, cache) == outcome(path, None)  # and nothing wrong was kept


def test_a_file_replaced_after_its_encoding_is_checked_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    rows = ["Müller,mueller.de,Customer,DE,n", *ROWS]
    path.write_bytes(text(rows))
    load_accounts(path, keep_fields=False, cache=cache)
    latin = text(rows).replace(b",n0\n", b",caf\xe9\n")  # not UTF-8 any more: read as Windows-1252
    original = csvlines.detect_encoding

    def replacing(source: Path) -> Any:
        found = original(source)
        source.write_bytes(latin)
        return found

    monkeypatch.setattr(csvlines, "detect_encoding", replacing)
    racing = outcome(path, cache)
    monkeypatch.undo()
    assert racing == outcome(path, None)


def test_a_bom_file_with_a_bad_byte_in_an_unread_column_is_refused_as_the_uncached_read_refuses(tmp_path: Path) -> None:
    """A file with a BOM is checked at its start only by detect_encoding, and Arrow checks only the columns it
    reads: a bad byte 8 KB in, in Notes, must not be accepted by a cached read (found by a review)."""
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    many = [f"Company {i},company{i}.com,Customer,US,n{i}" for i in range(400)]
    path.write_bytes(text(many, bom=True))
    load_accounts(path, keep_fields=False, cache=cache)
    path.write_bytes(text(many, bom=True).replace(b",n399\n", b",caf\xe9\n"))
    expected = outcome(path, None)
    assert expected[0] == "refused"
    assert outcome(path, cache) == expected  # by lines (one line changed)
    cache.path.unlink()
    assert outcome(path, cache) == expected  # and a first read through Arrow


def test_an_earlier_cache_layout_is_ignored_quietly_and_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    path.write_bytes(text(ROWS))
    cache.path.write_bytes(b"CLEANROOM-ROWCACHE\n{}\n" + bytes(64))
    with caplog.at_level(logging.DEBUG, logger=rowcache.__name__):
        first = load_accounts(path, keep_fields=False, cache=cache)
    assert first.normalised == len(ROWS)
    assert [r.levelno for r in caplog.records if r.name == rowcache.__name__] == [logging.DEBUG]
    assert cache.path.read_bytes().startswith(rowcache.MAGIC)
    assert load_accounts(path, keep_fields=False, cache=cache).normalised == 0


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64])
def test_line_ends_are_found_across_scan_blocks(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """The file is scanned a block at a time: line ends, and CRs that must end a line, are found wherever a
    block boundary falls (against Python's own split of the bytes)."""
    monkeypatch.setattr(csvlines, "_SCAN_BYTES", block)
    data = b"a,b\r\nc\td,e\r\n\r\nf,g\nh"
    ends = csvlines._line_ends(data)
    assert ends is not None
    expected, at = [], 0
    for line in data.split(b"\n")[:-1]:
        at += len(line) + 1
        expected.append(at)
    assert ends.tolist() == expected
    for lone in (b"a,b\rc\n", b"a,b\r\n\r", b"a\r\r\nb\n"):  # a CR inside a line, at the end, before a CRLF
        assert csvlines._line_ends(lone) is None


def test_a_line_index_made_by_another_digest_function_is_not_used(
    tmp_path: Path, parsed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Line digests are DuckDB's hashes, named with DuckDB's version: an index another version made must not
    map today's lines (its digests mean nothing to ours). The file is then parsed whole, and rightly."""
    path, cache = tmp_path / "accounts.csv", RowCache(tmp_path / "rows.bin")
    path.write_bytes(text(ROWS))
    load_accounts(path, keep_fields=False, cache=cache)
    path.write_bytes(text([*ROWS[:5], "Newco,newco.io,Customer,GB,x", *ROWS[6:]]))
    monkeypatch.setattr(csvlines, "LINE_DIGEST", "duckdb-hash-2x64/another")
    warm = load_accounts(path, keep_fields=False, cache=cache)
    assert summary(warm) == outcome(path, None)[1]
    assert parsed == []  # no line known: the whole file went to the usual read, not a parse of "changed" lines
