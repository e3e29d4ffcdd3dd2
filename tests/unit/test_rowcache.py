"""The row cache: a cached load equals an uncached one, and stale or damaged caches are never used.

Ground truth is always the uncached load of the same file (``cache=None``), the
path every other test of accounts.py checks; digests are checked against
hashlib's MD5 over the documented encoding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanroom.errors import InputError
from cleanroom_client.inputs import rowcache
from cleanroom_client.inputs.accounts import LoadResult, RowCache, load_accounts
from cleanroom_client.inputs.arrowcsv import read_clean_csv
from cleanroom_client.inputs.rowcache import MAGIC, outcomes_of, records_of
from cleanroom_client.inputs.rowdigest import row_digests
from cleanroom_client.inputs.rowkeys import MatchKey
from tests.csvfiles import write_csv

HEADER = ["Account Name", "Website", "Type", "Billing Country", "Notes"]
DOMAINS = ["acme.com", "www.acme.com", "globex.co.uk", "gmail.com", "n/a", "", "initech.io", "http://umbrella.org/x", "localhost"]
NAMES = ["Acme Inc", "Globex Ltd", "Initech", "", "Umbrella GmbH", 'Quote "Co", Ltd']
STAGES = ["Customer", "Prospect", "Opportunity", "Lead", "Partner", ""]
COUNTRIES = ["US", "GB", "Germany", ""]

row_strategy = st.tuples(
    st.sampled_from(NAMES),
    st.sampled_from(DOMAINS),
    st.sampled_from(STAGES),
    st.sampled_from(COUNTRIES),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5),  # NUL: refused by both
)


def write(path: Path, rows: list[tuple[str, ...]]) -> Path:
    return write_csv(path, HEADER, rows)


def summary(result: LoadResult) -> tuple[Any, ...]:
    """Everything a load returns, as plain values."""
    accounts = [(a.rows, a.keys, a.populations, a.name, a.domain, dict(a.fields)) for a in result.accounts]
    return accounts, result.rejected, result.rows_read, result.columns, result.read, result.source


def edited(rows: list[tuple[str, ...]], data: st.DataObject) -> list[tuple[str, ...]]:
    """The rows after a few edits of the kinds a CRM makes between exports."""
    rows = list(rows)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["insert", "delete", "modify", "reorder", "duplicate"]))
        at = data.draw(st.integers(0, max(len(rows) - 1, 0)))
        if kind == "insert" or not rows:
            rows.insert(at, data.draw(row_strategy))
        elif kind == "delete" and len(rows) > 1:
            del rows[at]
        elif kind == "modify":
            row = list(rows[at])
            column = data.draw(st.integers(0, len(row) - 1))
            row[column] = data.draw(st.sampled_from(DOMAINS + NAMES + STAGES))
            rows[at] = tuple(row)
        elif kind == "reorder":
            rows = data.draw(st.permutations(rows))
        else:  # the same account again: its rows merge into one account
            rows.insert(data.draw(st.integers(0, len(rows))), rows[at])
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(row_strategy, min_size=1, max_size=25),
    name_key=st.booleans(),
    keep_fields=st.booleans(),
    data=st.data(),
)
def test_cached_load_equals_uncached_after_edits(
    tmp_path: Path, rows: list[tuple[str, ...]], name_key: bool, keep_fields: bool, data: st.DataObject
) -> None:
    path = tmp_path / "accounts.csv"
    cache = RowCache(tmp_path / "cache" / "rows.bin")
    cache.path.unlink(missing_ok=True)
    options = {"name_key": name_key, "keep_fields": keep_fields, "default_population": "prospect"}
    write(path, rows)
    first = load_accounts(path, cache=cache, **options)
    assert summary(first) == summary(load_accounts(path, **options))
    assert first.normalised == first.rows_read  # nothing was cached yet
    again = load_accounts(path, cache=cache, **options)
    assert summary(again) == summary(first)
    assert again.normalised == 0
    changed = edited(rows, data)
    write(path, changed)
    warm = load_accounts(path, cache=cache, **options)
    assert summary(warm) == summary(load_accounts(path, **options))
    # Only data rows whose read cells (all but Notes) were not in the previous file are normalised.
    before = {row[:4] for row in rows}
    assert warm.normalised == sum(row[:4] not in before for row in changed if any(row))


def test_digest_is_md5_of_salt_and_length_prefixed_cells() -> None:
    got = row_digests([pa.array(["acme.com", None, "é"]), pa.array(["Customer", "", "x"])], "salt")
    expected = [b"salt8:acme.com8:Customer", b"salt0:0:", "salt2:é1:x".encode()]
    assert [bytes(d) for d in got] == [hashlib.md5(e).digest() for e in expected]


def test_cells_never_run_together() -> None:
    a, b = row_digests([pa.array(["ab", "a"]), pa.array(["c", "bc"])], "")
    assert bytes(a) != bytes(b)


@pytest.fixture
def accounts_csv(tmp_path: Path) -> Path:
    return write(
        tmp_path / "accounts.csv",
        [
            ("Acme Inc", "acme.com", "Partner", "US", ""),
            ("Globex", "globex.com", "Customer", "GB", ""),
            ("", "gmail.com", "Lead", "", ""),
        ],
    )


def test_changed_population_map_never_reuses_rows(tmp_path: Path, accounts_csv: Path) -> None:
    cache = RowCache(tmp_path / "cache" / "rows.bin")
    before = load_accounts(accounts_csv, cache=cache)
    assert [r.row for r in before.rejected] == [1, 3]  # "Partner" is not a known stage
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"Partner": "customer"}))
    after = load_accounts(accounts_csv, cache=cache, population_map=mapping)
    assert summary(after) == summary(load_accounts(accounts_csv, population_map=mapping))
    assert after.normalised == 3
    assert [a.populations for a in after.accounts] == [("customer",), ("customer",)]


@pytest.mark.parametrize("option", [{"name_key": True}, {"default_population": "prospect", "population_column": "Notes"}])
def test_other_options_renormalise(tmp_path: Path, accounts_csv: Path, option: dict[str, Any]) -> None:
    cache = RowCache(tmp_path / "cache" / "rows.bin")
    load_accounts(accounts_csv, cache=cache)
    result = load_accounts(accounts_csv, cache=cache, **option)
    assert result.normalised == 3
    assert summary(result) == summary(load_accounts(accounts_csv, **option))


def header_of(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return dict(json.loads(data[len(MAGIC) : data.index(b"\n", len(MAGIC))]))


def test_other_normaliser_version_is_ignored_and_replaced(
    tmp_path: Path, accounts_csv: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RowCache(tmp_path / "cache" / "rows.bin")
    with monkeypatch.context() as patched:
        patched.setattr(rowcache, "NORMALISER_VERSION", "0")
        load_accounts(accounts_csv, cache=cache)
    assert header_of(cache.path)["normaliser"] == "0"
    with caplog.at_level(logging.DEBUG, logger=rowcache.__name__):
        result = load_accounts(accounts_csv, cache=cache)
    assert result.normalised == 3
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "version '0'" in caplog.records[0].getMessage()
    assert header_of(cache.path)["normaliser"] == "1"
    assert load_accounts(accounts_csv, cache=cache).normalised == 0


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_cache_is_ignored_with_a_warning_and_rebuilt(
    tmp_path: Path, accounts_csv: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RowCache(tmp_path / "cache" / "rows.bin")
    expected = summary(load_accounts(accounts_csv, cache=cache))
    data = cache.path.read_bytes()
    broken = {
        "truncate": data[: len(data) // 2],
        "flip": data[:-40] + bytes([data[-40] ^ 1]) + data[-39:],
        "garbage": b"not a cache at all",
        "empty": b"",
    }[damage]
    cache.path.write_bytes(broken)
    with caplog.at_level(logging.WARNING, logger=rowcache.__name__):
        result = load_accounts(accounts_csv, cache=cache)
    assert summary(result) == expected
    assert result.normalised == 3
    assert any(r.levelno == logging.WARNING and "corrupt" in r.getMessage() for r in caplog.records)
    assert cache.path.read_bytes() == data  # rebuilt: the same rows give the same file
    assert load_accounts(accounts_csv, cache=cache).normalised == 0


def test_cache_file_is_private_and_written_by_rename(tmp_path: Path, accounts_csv: Path) -> None:
    cache = RowCache(tmp_path / "profile" / "cache" / "rows.bin")
    load_accounts(accounts_csv, cache=cache)
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
    assert [p.name for p in cache.path.parent.iterdir()] == ["rows.bin"]  # no temporary file left behind


def test_cache_keeps_only_the_latest_read(tmp_path: Path) -> None:
    cache = RowCache(tmp_path / "cache" / "rows.bin")
    path = tmp_path / "accounts.csv"
    sizes = []
    for start in range(0, 500, 100):  # each export shares no row with the one before
        rows = [(f"Co {i:03d}", f"co{i:03d}.com", "Customer", "US", "") for i in range(start, start + 200)]
        write(path, rows + rows[:50])  # 50 duplicate rows: one cache entry each
        load_accounts(path, cache=cache)
        assert header_of(cache.path)["rows"] == 200
        sizes.append(cache.path.stat().st_size)
    assert max(sizes) - min(sizes) < 64  # the same number of rows of the same widths: the same size, give or take


def test_one_cache_file_per_set_of_options_whatever_the_file(tmp_path: Path) -> None:
    """Each day's export under a new name shares the cache of the last: the rows, not the name, are the key."""
    a = RowCache.for_options(tmp_path, {"name_key": False})
    assert a.path.parent == tmp_path
    assert a.path.name.startswith("rows-") and a.path.name.endswith(".bin")
    assert a.path == RowCache.for_options(tmp_path, {"name_key": False}).path
    assert a.path != RowCache.for_options(tmp_path, {"name_key": True}).path


def test_lookup_needs_the_whole_digest(tmp_path: Path) -> None:
    """Two digests sharing their first 8 bytes: only the exact one is found."""
    stored = np.zeros((1, 16), dtype=np.uint8)
    stored[0, 15] = 1
    cache = RowCache(tmp_path / "rows.bin")
    outcome = ((MatchKey("domain", "acme.com"), MatchKey("name", "acme|us")), "customer")
    cache.save("fp", stored, records_of([outcome], ["Acme"]))
    rows = cache.open("fp")
    probe = np.zeros((2, 16), dtype=np.uint8)
    probe[1, 15] = 1
    assert rows.find(probe).tolist() == [-1, 0]
    assert outcomes_of(rows.take(np.array([0]))) == [outcome]
    assert len(cache.open("other fingerprint")) == 0


MESSY = {
    "clean": b"Website,Type,Name\nacme.com,Customer,Acme\nglobex.com,Prospect,Globex\n",
    "crlf, no final newline": b"Website,Type,Name\r\nacme.com,Customer,Acme\r\nglobex.com,Prospect,Globex",
    "bom": b"\xef\xbb\xbfWebsite,Type,Name\nacme.com,Customer,Acme\n",
    "semicolons, quotes": b'Website;Type;Name\nacme.com;Customer;"Acme; ""Inc"""\n"ab"c.com;Lead;a"b\n',
    "footer": b"Website,Type,Name\nacme.com,Customer,Acme\n\nGrand Totals (1 records),,\n",
    "short line": b"Website,Type,Name\nacme.com,Customer,Acme\nnotes\nglobex.com,Prospect,x\n",
    "blank line inside": b"Website,Type,Name\nacme.com,Customer,Acme\n\nglobex.com,Prospect,x\n",
    "all-empty row": b"Website,Type,Name\nacme.com,Customer,Acme\n,,\nglobex.com,Prospect,x\n",
    "value over lines": b'Website,Type,Name\nacme.com,Customer,"Acme\nCorp"\nglobex.com,Prospect,x\n',
    "lone CR in value": b'Website,Type,Name\nacme.com,Customer,"Acme\rCorp"\nglobex.com,Prospect,x\n',
    "padded line": b"Website,Type,Name\nacme.com,Customer,Acme,,\nglobex.com,Prospect,x\n",
    "blank before header": b"\n\nWebsite,Type,Name\nacme.com,Customer,Acme\n",
    "windows-1252": b"Website,Type,Name\nacme.com,Customer,Caf\xe9\n",
    "whitespace cells": b"Website,Type,Name\n  acme.com , Customer ,  \n \t,Lead,x\n",
}


@pytest.mark.parametrize("name", sorted(MESSY))
@pytest.mark.parametrize("keep_fields", [True, False])
def test_fast_csv_path_reads_what_the_python_reader_reads(tmp_path: Path, name: str, keep_fields: bool) -> None:
    """A cached load reads clean CSV files through Arrow: the result, skipped lines and line numbers must not change."""
    path = tmp_path / "accounts.csv"
    path.write_bytes(MESSY[name])
    cache = RowCache(tmp_path / "cache" / "rows.bin")
    reference = load_accounts(path, keep_fields=keep_fields)
    for _ in range(2):  # cold, then warm
        cached = load_accounts(path, cache=cache, keep_fields=keep_fields)
        assert summary(cached) == summary(reference)
        assert [cached.read.line_of(r) for r in range(1, cached.rows_read + 1)] == [
            reference.read.line_of(r) for r in range(1, reference.rows_read + 1)
        ]


BAD = {
    "surplus field": (b"Website,Type\nacme.com,Customer\nglobex.com,Prospect,surplus\n", "line 3"),
    "unclosed quote": (b'Website,Type,Name\nacme.com,"Customer,x\nglobex.com,Prospect,y\n', "line 2"),
    "NUL bytes": (b"Website,Type\nacme.com,Cust\x00omer\n", "NUL"),
    "no data rows": (b"Website,Type\n", "no data rows"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_fast_csv_path_keeps_the_exact_error(tmp_path: Path, name: str) -> None:
    content, where = BAD[name]
    path = tmp_path / "accounts.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as reference:
        load_accounts(path)
    with pytest.raises(InputError) as cached:
        load_accounts(path, cache=RowCache(tmp_path / "rows.bin"))
    assert str(cached.value) == str(reference.value)
    assert where in str(cached.value)


ARROW_READS = {"bom", "clean", "crlf, no final newline", "semicolons, quotes", "whitespace cells"}


@pytest.mark.parametrize("name", sorted(MESSY))
def test_only_clean_files_take_the_arrow_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(MESSY[name])
    assert (read_clean_csv(path) is not None) == (name in ARROW_READS)


def test_a_cache_that_cannot_be_written_costs_only_a_warning(
    tmp_path: Path, accounts_csv: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    cache = RowCache(tmp_path / "not-a-folder" / "rows.bin")
    with caplog.at_level(logging.WARNING):
        result = load_accounts(accounts_csv, cache=cache)
    assert summary(result) == summary(load_accounts(accounts_csv))
    assert any("cannot be written" in r.getMessage() for r in caplog.records)


def test_a_read_that_changes_a_few_rows_leaves_the_cache_as_it_was(tmp_path: Path) -> None:
    """Rewriting a whole cache for a few changed rows costs more than normalising them again next time."""
    cache = RowCache(tmp_path / "cache" / "rows.bin")
    path = tmp_path / "accounts.csv"
    rows = [(f"Co {i}", f"co{i}.com", "Customer", "US", "") for i in range(1000)]
    write(path, rows)
    load_accounts(path, cache=cache, keep_fields=False)
    written = cache.path.read_bytes()
    few = rows[:-10] + [(f"New {i}", f"new{i}.com", "Prospect", "GB", "") for i in range(10)]  # 1% changed
    write(path, few)
    read = load_accounts(path, cache=cache, keep_fields=False)
    assert read.normalised == 10 and cache.path.read_bytes() == written
    assert summary(read) == summary(load_accounts(path, keep_fields=False))
    assert load_accounts(path, cache=cache, keep_fields=False).normalised == 10  # normalised again, not cached
    many = [(f"More {i}", f"more{i}.com", "Prospect", "GB", "") for i in range(30)] + few[30:]  # 3% more
    write(path, many)
    assert load_accounts(path, cache=cache, keep_fields=False).normalised == 40
    assert cache.path.read_bytes() != written
    assert load_accounts(path, cache=cache, keep_fields=False).normalised == 0  # rewritten: every row cached
