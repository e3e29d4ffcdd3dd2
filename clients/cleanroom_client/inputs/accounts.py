"""From a CRM export to deduplicated accounts with canonical match keys.

Each data row yields at most one account candidate: its canonical domain (the
first usable domain-like column, in headers.KEY_HEADERS order), optionally
its name + country key (rowkeys.row_keys, as for deals and touches), and its
population from the CRM stage. Rows that share any key are the same account
(grouping.KeyGroups), so duplicates merge and their
populations add up. Rows that yield no key are reported with the reason,
never silently dropped.
"""

from __future__ import annotations

import gc
import logging
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cleanroom.errors import InputError
from cleanroom_client.inputs.account import NO_FIELDS, Account
from cleanroom_client.inputs.account_table import AccountTable
from cleanroom_client.inputs.arrowcsv import ArrowCsv, read_clean_csv
from cleanroom_client.inputs.columnar import load_lines, load_table
from cleanroom_client.inputs.columns import ColumnMap, no_population_column, resolve_columns
from cleanroom_client.inputs.csvlines import NotByLines, read_csv_lines
from cleanroom_client.inputs.grouping import KeyGroups
from cleanroom_client.inputs.populations import StageMap, valid_population
from cleanroom_client.inputs.readers import Row, TableStream, check_file
from cleanroom_client.inputs.readreport import ReadReport
from cleanroom_client.inputs.rowcache import RowCache
from cleanroom_client.inputs.rowdigest import digest_columns
from cleanroom_client.inputs.rowkeys import REASONS, MatchKey, Rejected
from cleanroom_client.inputs.rowoutcomes import Batch, RowOutcomes, arrow_batches, row_batches

log = logging.getLogger(__name__)

__all__ = ["REASONS", "Account", "LoadResult", "MatchKey", "Rejected", "RowCache", "load_accounts"]


@dataclass
class LoadResult:
    source: Path
    accounts: Sequence[Account]  # a list, or an AccountTable (columnar.py) when read through the row cache
    rejected: Sequence[Rejected]  # a list, or RejectedRows (account_table.py) when read through the row cache
    rows_read: int
    columns: ColumnMap
    read: ReadReport = field(default_factory=ReadReport)  # encoding, skipped lines, formulas without a value
    normalised: int = 0  # rows normalised by this load; the other rows' outcomes came from the row cache
    custom: tuple[str, ...] = ()  # populations set by a filter (custom_populations.py), not by the stage column

    def totals(self) -> dict[str, object]:
        accounts = self.accounts
        if isinstance(accounts, AccountTable):
            by_population = accounts.population_counts()
        else:
            by_population = Counter(p for a in accounts for p in a.populations)
        return {
            "rows": self.rows_read,
            "accounts": len(self.accounts),
            "rejected": len(self.rejected),
            # rows that became part of an account already started by an earlier row
            "duplicates_merged": self.rows_read - len(self.rejected) - len(self.accounts),
            "by_population": dict(sorted(by_population.items())),
        }


@dataclass(slots=True)
class _Candidate:
    row: int
    keys: tuple[MatchKey, ...]
    population: str
    name: str | None
    domain: str | None
    cells: Row | None  # None unless the caller keeps the fields


def _merge(candidates: list[_Candidate | None], roots: array[int], names: tuple[str, ...]) -> list[Account]:
    """Accounts from the candidates and each one's group root (consumes the candidates list).

    Roots are the earliest row of their group, so emitting each group at its root keeps the accounts
    in first-row order. Most rows are an account of their own and skip the grouping: a million rows
    of a CRM export must fit in memory as accounts.
    """
    root_of = np.frombuffer(roots, dtype=np.int64) if len(roots) else np.zeros(0, np.int64)
    size = np.bincount(root_of, minlength=len(candidates))
    members_of: dict[int, list[_Candidate]] = {}
    for node in np.flatnonzero(size[root_of] > 1).tolist():  # the few rows that share their account
        member = candidates[node]
        if member is not None:
            members_of.setdefault(roots[node], []).append(member)
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # one object per distinct populations tuple

    def fields_of(cells: Row | None) -> Mapping[str, str]:
        return NO_FIELDS if cells is None else {c: v for c, v in zip(names, cells, strict=False) if v not in (None, "")}

    accounts: list[Account] = []
    append = accounts.append
    single: dict[str, tuple[str, ...]] = {}  # population -> its one-population tuple, shared
    populations: tuple[str, ...]
    for node, cand in enumerate(candidates):
        if cand is None or roots[node] != node:
            continue
        candidates[node] = None  # each candidate is freed once its account exists
        members = members_of.pop(node, None) if members_of else None
        if members is None:  # most accounts: one row (positional arguments: this loop runs a million times)
            found = single.get(cand.population)
            if found is None:
                populations = (cand.population,)
                found = single[cand.population] = shared.setdefault(populations, populations)
            keys = cand.keys if len(cand.keys) == 1 else tuple(sorted(set(cand.keys)))
            fields = NO_FIELDS if cand.cells is None else fields_of(cand.cells)
            append(Account((cand.row,), keys, found, cand.name, cand.domain, fields))
            continue
        populations = tuple(sorted({m.population for m in members}))
        append(
            Account(
                rows=tuple(m.row for m in members),
                keys=tuple(sorted({k for m in members for k in m.keys})),
                populations=shared.setdefault(populations, populations),
                name=next((m.name for m in members if m.name), None),
                domain=next((m.domain for m in members if m.domain), None),
                fields=fields_of(members[0].cells),
            )
        )
    candidates.clear()
    return accounts


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Loading creates millions of small objects and no cycles: the cyclic collector would rescan them over and over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_accounts(
    path: Path | str,
    *,
    key_column: str | None = None,
    name_column: str | None = None,
    population_column: str | None = None,
    country_column: str | None = None,
    population_map: Path | str | None = None,
    default_population: str | None = None,
    name_key: bool = False,
    keep_fields: bool = True,
    cache: RowCache | None = None,
) -> LoadResult:
    """Read ``path`` and return its deduplicated accounts and the rows rejected (with reasons).

    ``name_key`` adds the "name|cc" key for rows with a company name; without
    it only the canonical domain is a key. A file with no population column is
    refused unless ``default_population`` is given: then every account is in it
    (silently calling every account a customer would misstate the overlap).
    ``keep_fields=False`` leaves ``Account.fields`` empty and keeps only the keys. With a ``cache``
    (rowcache.py) rows read before under the same options are not normalised again, and a clean CSV
    file's accounts come back as columns (columnar.py); the accounts are the same either way.
    """
    if default_population is not None and not valid_population(default_population):
        raise InputError(f"default population {default_population!r} must be a lower-case word like 'customer' or 'prospect'")
    source = Path(path)

    def resolved(names: list[str]) -> ColumnMap:
        chosen = (key_column, name_column, population_column, country_column)
        return resolve_columns(names, str(source), *chosen, require_key=not name_key)

    def outcomes_of(names: list[str]) -> RowOutcomes:  # the file's columns resolved, and its rows' outcomes to come
        columns = resolved(names)
        if columns.population_column is None and default_population is None:
            raise no_population_column(str(source), names)
        stages = StageMap.load(Path(population_map) if population_map is not None else None, deal_stages=columns.deal_stages)
        return RowOutcomes(columns, stages, default_population or "", name_key, cache)

    # With a cache the read itself is most of the time left: a clean CSV file is read by lines (csvlines.py)
    # where its accounts' keys are all that is kept, else through Arrow (arrowcsv.py).
    csv = cache is not None and check_file(source) == "csv"
    if csv and not keep_fields and (by_lines := _load_by_lines(source, outcomes_of)) is not None:
        return by_lines
    # Without the fields, only the cells normalisation reads are kept in memory.
    keep = None if keep_fields else (lambda names: digest_columns(resolved(names)))
    return _load_read(source, (csv and read_clean_csv(source, keep)) or TableStream(source), outcomes_of, keep_fields)


def _load_read(
    source: Path, opened: ArrowCsv | TableStream, outcomes_of: Callable[[list[str]], RowOutcomes], keep_fields: bool
) -> LoadResult:
    """The accounts of a file read row by row (TableStream), or through Arrow (a clean CSV file)."""
    with _gc_paused(), nullcontext(opened) if isinstance(opened, ArrowCsv) else opened as table:
        outcomes = outcomes_of(table.columns)
        columns = outcomes.columns
        if isinstance(table, ArrowCsv) and not keep_fields:  # the incremental map's read: no object per account
            loaded, refused, rows_read = load_table(table, outcomes, columns.name_column)
            outcomes.finish()
            return LoadResult(source, loaded, refused, rows_read, columns, table.report, outcomes.normalised)
        if isinstance(table, ArrowCsv):
            batches = arrow_batches(table, outcomes, columns.name_column, keep_fields)
        else:
            batches = row_batches(table.rows(), outcomes, columns.name_column, keep_fields)
        rejected, candidates, roots, rows_read = _candidates(batches)
        # The cache is written, and the file's Arrow table let go, before the accounts are built: their
        # copies would otherwise add to the peak of a million-row read (measured: 1.2 GB instead of 0.8).
        outcomes.finish()
        report, normalised = table.report, outcomes.normalised
        if isinstance(table, ArrowCsv):  # the caller holds it still: its cells go here
            table.table = table.table.slice(0, 0)
    del opened, table, batches, outcomes
    with _gc_paused():
        accounts = _merge(candidates, roots, columns.names)
    return LoadResult(source, accounts, rejected, rows_read, columns, report, normalised)


def _load_by_lines(source: Path, outcomes_of: Callable[[list[str]], RowOutcomes]) -> LoadResult | None:
    """The file's accounts read by lines (columnar.load_lines); None when it cannot be read so."""
    lines = read_csv_lines(source)
    if lines is None:
        return None
    outcomes = outcomes_of(lines.columns)
    with _gc_paused():
        try:
            accounts, rejected, rows_read = load_lines(lines, outcomes)
        except NotByLines as exc:
            log.debug("%s is read whole: %s", source, exc)
            return None
    return LoadResult(source, accounts, rejected, rows_read, outcomes.columns, lines.report(), outcomes.normalised)


def _candidates(batches: Iterator[Batch]) -> tuple[list[Rejected], list[_Candidate | None], array[int], int]:
    """The rows' account candidates and, for each, the root of its group (union-find over shared keys).

    While every row has one domain key only (no name keys), a group is the rows of one domain and its
    root the first of them: a dictionary of domains gives the same roots as the union-find, faster.
    """
    rejected: list[Rejected] = []
    candidates: list[_Candidate | None] = []
    keep = candidates.append  # bound once: this loop runs once per row
    first: dict[str, int] | None = {}  # domain -> its first candidate: the root while every row has one domain key only
    roots: array[int] = array("q")
    root = roots.append
    number = 0
    for outcomes, names, rows in batches:
        for at, (keys, text) in enumerate(outcomes, start=number):
            if not keys:
                rejected.append(Rejected(at + 1, text))
                continue
            domain = keys[0].value if keys[0].kind == "domain" else None  # rowkeys.domain_of, inline
            if domain is not None and len(keys) == 1 and first is not None:
                root(first.setdefault(domain, len(candidates)))
            else:
                first = None  # a name key: groups are no longer one key each
            keep(_Candidate(at + 1, keys, text, names[at - number], domain, None if rows is None else rows[at - number]))
        number += len(outcomes)
    if first is None:  # union-find over every key (grouping.KeyGroups)
        groups = KeyGroups()
        for cand in candidates:
            groups.add(cand.keys if cand is not None else ())
        roots = array("q", map(groups.find, range(len(candidates))))
    return rejected, candidates, roots, number
