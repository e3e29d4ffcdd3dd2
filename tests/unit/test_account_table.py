"""Accounts held as columns (inputs/account_table.py, columnar.py) are the accounts the row-by-row load builds.

Ground truth is the load without a cache (the streamed reader, union-find grouping, one ``Account``
per account), and for the grouping alone ``cleanroom.unionfind`` over the same keys; identities are
compared with those the protocol computes from ``Account`` objects.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanroom.terms import build_terms, canonical_json, parse_terms
from cleanroom.unionfind import UnionFind
from cleanroom_client.inputs.account_table import CELL_COLUMNS, AccountTable, RowCells
from cleanroom_client.inputs.accounts import RowCache, load_accounts
from cleanroom_client.inputs.columnar import group_roots, identity_groups
from cleanroom_client.protocol.continuous import identities
from cleanroom_client.protocol.prepare import prepare
from tests.csvfiles import write_csv

HEADER = ["Account Name", "Website", "Type", "Billing Country"]
# Names shared between domains make name keys chain accounts of different domains together.
NAMES = ["Acme Inc", "Acme", "Globex Ltd", "Initech", "", "Ümbrella GmbH", "Zeta"]
DOMAINS = ["acme.com", "www.acme.com", "globex.co.uk", "gmail.com", "", "initech.io", "umbrella.org", "zeta.de", "b.com"]
STAGES = ["Customer", "Prospect", "Opportunity", "Lead", ""]
COUNTRIES = ["US", "GB", "Germany", ""]
rows_strategy = st.lists(
    # A row of empty cells is a blank line: such a file is read by the Python reader, as a list of accounts.
    st.tuples(st.sampled_from(NAMES), st.sampled_from(DOMAINS), st.sampled_from(STAGES), st.sampled_from(COUNTRIES)).filter(any),
    min_size=1,
    max_size=40,
)


def write(path: Path, rows: list[tuple[str, ...]]) -> Path:
    return write_csv(path, HEADER, rows)


def columnar(path: Path, tmp: Path, name_key: bool) -> AccountTable:
    loaded = load_accounts(path, keep_fields=False, name_key=name_key, cache=RowCache(tmp / "rows.bin"))
    assert isinstance(loaded.accounts, AccountTable)
    return loaded.accounts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, name_key=st.booleans())
def test_columnar_accounts_equal_the_row_by_row_load(tmp_path: Path, rows: list[tuple[str, ...]], name_key: bool) -> None:
    path = write(tmp_path / "accounts.csv", rows)
    reference = load_accounts(path, keep_fields=False, name_key=name_key)
    for _ in range(2):  # cold (every row normalised) and warm (every row from the cache)
        loaded = load_accounts(path, keep_fields=False, name_key=name_key, cache=RowCache(tmp_path / "rows.bin"))
        assert isinstance(loaded.accounts, AccountTable)
        got = [(a.rows, a.keys, a.populations, a.name, a.domain, dict(a.fields)) for a in loaded.accounts]
        assert got == [(a.rows, a.keys, a.populations, a.name, a.domain, dict(a.fields)) for a in reference.accounts]
        assert loaded.rejected == reference.rejected
        assert loaded.totals() == reference.totals()
        by_population = Counter(p for a in reference.accounts for p in a.populations)
        assert loaded.accounts.population_counts() == by_population


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, kinds=st.sampled_from([("domain",), ("name",), ("domain", "name")]), data=st.data())
def test_identities_by_columns_equal_those_of_account_objects(
    tmp_path: Path, rows: list[tuple[str, ...]], kinds: tuple[str, ...], data: st.DataObject
) -> None:
    table = columnar(write(tmp_path / "accounts.csv", rows), tmp_path, name_key="name" in kinds)
    populations = data.draw(st.lists(st.sampled_from(["customer", "prospect", "opportunity"]), min_size=1, unique=True))
    terms = parse_terms(canonical_json(build_terms("vendor", "partner", populations, min_set_size=1, key_kinds=list(kinds))))
    by_columns = identities(table, terms, "vendor")
    by_objects = identities(list(table), terms, "vendor")
    if by_columns.order is not None:  # the grouping's sort, reused: it must sort exactly these ids
        assert sorted(by_columns.order.tolist()) == list(range(len(by_columns.ids)))
        assert by_columns.ids[by_columns.order].tolist() == sorted(by_columns.ids.tolist())
    assert by_columns.ids.tobytes() == by_objects.ids.tobytes()  # every byte (tolist drops trailing NULs)
    assert by_columns.masks.tolist() == by_objects.masks.tolist()
    assert by_columns.index.tolist() == by_objects.index.tolist()


def test_indexing_builds_the_same_account_every_way(tmp_path: Path) -> None:
    rows = [("Acme", "acme.com", "Customer", "US"), ("", "acme.com", "Prospect", ""), ("Initech", "initech.io", "Lead", "")]
    table = columnar(write(tmp_path / "a.csv", rows), tmp_path, name_key=False)
    every = list(table)
    assert len(every) == len(table) == 2
    assert table[0] == every[0] and table[-1] == every[-1] and table[0:2] == every
    assert every[0].rows == (1, 2) and every[0].populations == ("customer", "prospect")  # merged by the shared domain
    with pytest.raises(IndexError):
        table[2]


@given(st.lists(st.tuples(st.integers(-1, 6), st.integers(-1, 6)), max_size=40))
def test_group_roots_are_the_union_find_roots(keys: list[tuple[int, int]]) -> None:
    sets = UnionFind(len(keys))
    seen: dict[tuple[int, int], int] = {}
    for row, pair in enumerate(keys):
        for kind, code in enumerate(pair):
            if code >= 0:
                sets.union(seen.setdefault((kind, code), row), row)
    columns = [np.array([pair[k] for pair in keys], dtype=np.int64) for k in range(2)]
    assert group_roots(columns, np.arange(len(keys))).tolist() == [sets.find(row) for row in range(len(keys))]
    # Labels need not be positions: the records of a file come in any order, labelled by their rows.
    order = np.random.default_rng(len(keys)).permutation(len(keys))
    shuffled = [c[order] for c in columns]
    assert group_roots(shuffled, order).tolist() == [sets.find(int(row)) for row in order]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, kinds=st.sampled_from([("domain",), ("name",), ("domain", "name")]), data=st.data())
def test_an_upload_prepared_from_columns_is_the_upload_prepared_from_objects(
    tmp_path: Path, rows: list[tuple[str, ...]], kinds: tuple[str, ...], data: st.DataObject
) -> None:
    table = columnar(write(tmp_path / "accounts.csv", rows), tmp_path, name_key="name" in kinds)
    some = np.array(sorted(data.draw(st.sets(st.integers(0, len(table) - 1)))) if len(table) else [], dtype=np.int64)
    subset = table.subset(some)
    assert list(subset) == table.take(some)
    terms = parse_terms(
        canonical_json(build_terms("vendor", "partner", ["customer", "prospect"], min_set_size=1, key_kinds=list(kinds)))
    )
    by_columns = prepare(subset, terms, "vendor", "agr_1", b"s" * 32, show_progress=False)
    by_objects = prepare(list(subset), terms, "vendor", "agr_1", b"s" * 32, show_progress=False)
    assert by_columns.points == by_objects.points
    assert by_columns.accounts.tolist() == by_objects.accounts.tolist()
    assert by_columns.populations.tolist() == by_objects.populations.tolist()
    assert by_columns.label_to_account == by_objects.label_to_account
    assert (by_columns.total_accounts, by_columns.excluded) == (by_objects.total_accounts, by_objects.excluded)


def test_rows_missing_from_the_cache_are_normalised_a_batch_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cleanroom_client.inputs import rowoutcomes

    monkeypatch.setattr(rowoutcomes, "BATCH_ROWS", 3)  # 10 rows: four batches, the last of one row
    rows = [(f"Co {i}", DOMAINS[i % 7], STAGES[i % 5], "US") for i in range(10)]  # repeats merge; "" is rejected
    path = write(tmp_path / "accounts.csv", rows)
    reference = load_accounts(path, keep_fields=False)
    loaded = load_accounts(path, keep_fields=False, cache=RowCache(tmp_path / "rows.bin"))
    assert loaded.normalised == 10
    assert [(a.rows, a.keys, a.populations) for a in loaded.accounts] == [
        (a.rows, a.keys, a.populations) for a in reference.accounts
    ]
    assert loaded.rejected == reference.rejected


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 7), max_size=6), data=st.data())
def test_row_cells_are_taken_from_every_chunk_in_row_order(sizes: list[int], data: st.DataObject) -> None:
    """RowCells takes chunk by chunk (Arrow's take joined a chunked column whole first): the same cells as
    indexing the column's values, for rows in any order, repeated, across any chunks."""
    values = [f"d{i}.com" for i in range(sum(sizes))]
    starts = np.cumsum([0, *sizes]).tolist()
    chunks = [pa.array(values[s:e], pa.string()) for s, e in itertools.pairwise(starts)]
    records = pa.table({name: pa.chunked_array(chunks, pa.string()) for name in CELL_COLUMNS})
    at = data.draw(st.lists(st.integers(0, len(values) - 1), max_size=30)) if values else []
    cells = RowCells(records, np.array(at, dtype=np.int64))
    assert cells.column("domain").to_pylist() == [values[i] for i in at]
    some = np.array(data.draw(st.lists(st.integers(0, len(at) - 1), max_size=10)) if at else [], dtype=np.int64)
    assert cells.take(some).column("name").to_pylist() == [values[at[i]] for i in some.tolist()]


def test_identity_groups_tell_apart_identities_that_share_their_first_8_bytes() -> None:
    """Identities are sorted by their first 8 bytes: ones that share them but differ after must not be
    one group, wherever the sort puts them. Ground truth: group_roots over codes NumPy's unique gives."""
    rng = np.random.default_rng(7)
    prefixes = rng.integers(0, 256, size=(3, 8), dtype=np.uint8)
    suffixes = rng.integers(0, 256, size=(4, 8), dtype=np.uint8)
    n = 500
    ids = np.concatenate([prefixes[rng.integers(0, 3, n)], suffixes[rng.integers(0, 4, n)]], axis=1).reshape(-1).view("S16")
    present = rng.random(n) < 0.9
    labels = rng.permutation(n).astype(np.int64)
    codes, label, order = identity_groups(ids, present, labels)
    _, reference = np.unique(np.ascontiguousarray(ids).view(np.uint8).reshape(n, 16), axis=0, return_inverse=True)
    reference = np.where(present, reference.reshape(-1), -1)
    assert label.tolist() == group_roots([reference], labels).tolist()
    same = codes[:, None] == codes[None, :]
    assert (same[present][:, present] == (reference[:, None] == reference[None, :])[present][:, present]).all()
    assert (codes[~present] == -1).all() and len(set(codes[present].tolist())) == len(set(reference[present].tolist()))
    assert sorted(order.tolist()) == np.flatnonzero(present).tolist()  # every record with an identity, once
    prefix = np.ascontiguousarray(ids[order]).view(">u8").reshape(-1, 2)[:, 0]
    assert (prefix[1:] >= prefix[:-1]).all()  # sorted by the first 8 bytes, as locate searches


def test_rejected_rows_held_as_columns_are_the_rejected_rows(tmp_path: Path) -> None:
    """A cached read gives its rejected rows as columns: every way of reading them gives what the row-by-row
    load lists (rows with no usable key, and rows whose stage maps to no population)."""
    rows = [("Acme", "acme.com", "Customer", "US"), ("", "", "Customer", ""), ("X", "gmail.com", "Prospect", "")]
    rows += [("Y", f"y{i}.com", "Lead", "") for i in range(3)] + [("Z", "z.com", "Customer", "")]
    path = write(tmp_path / "a.csv", rows)
    reference = load_accounts(path, keep_fields=False).rejected
    loaded = load_accounts(path, keep_fields=False, cache=RowCache(tmp_path / "rows.bin")).rejected
    assert isinstance(reference, list) and len(reference) >= 2
    assert loaded == reference and reference == loaded and len(loaded) == len(reference)
    assert list(loaded) == reference and loaded[:2] == reference[:2] and loaded[-1] == reference[-1]
    assert [loaded[i] for i in range(len(loaded))] == reference
    assert loaded != reference[:-1]
    with pytest.raises(IndexError):
        loaded[len(reference)]
