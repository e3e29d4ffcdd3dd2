"""Each row's outcome (its match keys and population, or why it is rejected), through the row cache when there is one.

``RowOutcomes`` is fed a read's rows a batch at a time, in file order: rows
whose digest the cache holds are decoded, the others normalised
(``row_keys`` and the stage map) and remembered; ``finish`` saves the read's
rows as the cache (only when something changed). Without a cache it is the
plain normaliser.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from cleanroom_client.inputs.arrowcsv import ArrowCsv
from cleanroom_client.inputs.columns import ColumnMap
from cleanroom_client.inputs.populations import StageMap
from cleanroom_client.inputs.readers import BATCH_ROWS, Row
from cleanroom_client.inputs.records import Picked
from cleanroom_client.inputs.rowcache import RECORDS, CachedRows, Outcome, RowCache, outcomes_of, records_of
from cleanroom_client.inputs.rowdigest import DIGEST_BYTES, digest_columns, fingerprint, row_digests
from cleanroom_client.inputs.rowkeys import cell, row_keys

# A batch of rows: their outcomes, their (stripped) names, and the rows themselves when the caller keeps fields.
Batch = tuple[list[Outcome], list[str | None], Sequence[Row] | None]


log = logging.getLogger(__name__)

# A read rewrites the cache only when more than this share of it changed (rows normalised, or cached rows
# gone from the file). Rewriting a million rows costs ~0.7 s; normalising a row again ~30 us: a daily 1%
# change rewrites it every other day or so.
REWRITE_SHARE = 0.02
LINE_REWRITE_SHARE = 0.10


class RowOutcomes:
    """One read's row outcomes, in file order (see the module docstring)."""

    def __init__(
        self, columns: ColumnMap, stages: StageMap, default_population: str, name_key: bool, cache: RowCache | None = None
    ) -> None:
        self.columns, self._stages, self._default, self._name_key = columns, stages, default_population, name_key
        self._where = columns.keys()
        self._cache = cache
        self._fingerprint = fingerprint(columns, stages, default_population, name_key)
        self._cached = cache.open(self._fingerprint) if cache is not None else None
        self._hits: list[np.ndarray] = []  # per batch: the cached rows found, and their digests
        self._hit_digests: list[np.ndarray] = []
        self._fresh: list[pa.Table] = []  # per batch: the records of the rows normalised, and their digests
        self._fresh_digests: list[np.ndarray] = []
        self._hit_records: list[Picked] = []  # the cached rows' records, when digested_records picked them
        self._hit_lines: list[np.ndarray] = []  # a read by lines (lined_records): the line digests of the hits and
        self._fresh_lines: list[np.ndarray] = []  # of the rows normalised, as _hit_digests and _fresh_digests
        self._line_header: str | None = None  # the header of a read by lines
        self._seen = np.zeros(len(self._cached) if self._cached is not None else 0, dtype=bool)  # cached rows still in the file
        self.normalised = 0  # rows that were not in the cache
        self.lines_parsed = 0  # in a read by lines: lines that were not in the cache's line index

    def outcome(self, row: Row) -> Outcome:
        """The row normalised: (keys, population), or ((), why it is rejected)."""
        keys, reason = row_keys(row, self._where, self._name_key)
        if not keys:
            return (), reason
        column = self.columns.population_column
        if column is None:
            return keys, self._default
        stage = cell(row, column)
        population = self._stages.population(stage)
        if population is None:
            return (), self._stages.unmapped_reason(stage, self.columns.names[column])
        return keys, population

    def records(self, rows: Sequence[Row]) -> pa.Table:
        """The records of rows normalised (rowcache.RECORDS)."""
        return records_of([self.outcome(row) for row in rows], self._names(rows))

    def _names(self, rows: Sequence[Row]) -> list[str | None]:
        """Each row's name cell as read (what its record keeps for the account's name)."""
        name = self.columns.name_column
        return [None if name is None or name >= len(row) else row[name] for row in rows]

    def batch(self, rows: Sequence[Row]) -> list[Outcome]:
        """The outcomes of the next rows of the read."""
        if self._cached is None:
            self.normalised += len(rows)
            return [self.outcome(row) for row in rows]
        where = digest_columns(self.columns)
        cells = [pa.array([row[i] if i < len(row) else None for row in rows], type=pa.string()) for i in where]
        return self.digested(row_digests(cells, self._fingerprint), lambda misses: [rows[i] for i in misses])

    def _look_up(self, digests: np.ndarray) -> tuple[CachedRows, np.ndarray, np.ndarray]:
        """The cached rows, each digest's record among them (-1: none) and whether there is one; the hits are
        remembered for ``finish``."""
        if self._cached is None:
            raise ValueError("digested rows need a cache")
        found = self._cached.find(digests)
        hits = found >= 0
        self._seen[found[hits]] = True
        self._hits.append(found[hits])
        self._hit_digests.append(digests[hits])
        return self._cached, found, hits

    def digested(self, digests: np.ndarray, rows_at: Callable[[list[int]], Sequence[Row]]) -> list[Outcome]:
        """The outcomes of the next rows, by their digests (``row_digests`` salted with ``salt``).

        ``rows_at`` gives the rows at the positions the cache does not hold: only those are read as rows.
        """
        held, found, hits = self._look_up(digests)
        missing = np.flatnonzero(~hits).tolist()
        if not missing:
            return outcomes_of(held.take(found))
        missed = rows_at(missing)
        fresh = [self.outcome(row) for row in missed]
        self._fresh.append(records_of(fresh, self._names(missed)))
        self._fresh_digests.append(digests[~hits])
        self.normalised += len(missing)
        cached = iter(outcomes_of(held.take(found[hits])))
        new = iter(fresh)
        return [next(cached) if hit else next(new) for hit in hits.tolist()]

    def digested_records(
        self, digests: np.ndarray, rows_at: Callable[[list[int]], Sequence[Row]], lines: np.ndarray | None = None
    ) -> tuple[list[Picked], np.ndarray]:
        """``digested``, as records: the cached rows' (picked from the cache, not copied), then the normalised
        rows', and the row (0-based) each record is of. Not turned into a Python object per row.
        ``lines``: the rows' line digests, in a read by lines (``lined_records``)."""
        held, found, hits = self._look_up(digests)
        cached = held.pick(found[hits])
        self._hit_records.append(cached)
        missing = np.flatnonzero(~hits)
        if lines is not None:
            self._hit_lines.append(lines[hits])
            self._fresh_lines.append(lines[missing])
        if not len(missing):
            return [cached], np.flatnonzero(hits)
        # A batch at a time: a cold read of a million rows must not hold a million Python rows at once.
        for start in range(0, len(missing), BATCH_ROWS):
            self._fresh.append(self.records(rows_at(missing[start : start + BATCH_ROWS].tolist())))
        self._fresh_digests.append(digests[missing])
        self.normalised += len(missing)
        fresh = [Picked(t) for t in self._fresh[-((len(missing) + BATCH_ROWS - 1) // BATCH_ROWS) :]]
        return [cached, *fresh], np.concatenate([np.flatnonzero(hits), missing])

    def lined_records(
        self,
        lines: np.ndarray,
        header: str,
        parse: Callable[[np.ndarray], tuple[np.ndarray, Callable[[list[int]], Sequence[Row]]]],
    ) -> tuple[list[Picked], np.ndarray]:
        """``digested_records`` for a read by lines (csvlines.py): ``lines`` are the line digests of a file with
        this header. Lines the cache holds take their record without being parsed; ``parse(at)`` gives the
        others' row digests and rows (it raises to abandon the read), which are then looked up as any row's."""
        held = self._cached
        if held is None:
            raise ValueError("a read by lines needs a cache")
        self._line_header = header
        found = held.find_lines(lines, header)
        hits = found >= 0
        self._seen[found[hits]] = True
        self._hits.append(found[hits])
        self._hit_digests.append(held.digests[found[hits]])
        self._hit_lines.append(lines[hits])
        self._hit_records.append(held.pick(found[hits]))
        parts, rows = [self._hit_records[-1]], np.flatnonzero(hits)
        missing = np.flatnonzero(~hits)
        if len(missing):
            digests, rows_at = parse(missing)
            more, at = self.digested_records(digests, rows_at, lines[missing])
            parts, rows = [*parts, *more], np.concatenate([rows, missing[at]])
        self.lines_parsed += len(missing)
        return parts, rows

    @property
    def salt(self) -> str:
        """What the digests of this read are salted with (the options fingerprint)."""
        return self._fingerprint

    def finish(self) -> None:
        """Save this read's rows as the cache, unless it holds them all but a few (``REWRITE_SHARE``)."""
        if self._cache is None or self._cached is None:
            return
        stale, cached = len(self._seen) - int(self._seen.sum()), len(self._cached)
        few = REWRITE_SHARE * cached
        # A changed line whose cells are cached costs a parse (~3 us), not a normalisation (~30 us).
        lines_kept = self._line_header is None or self.lines_parsed <= LINE_REWRITE_SHARE * cached
        if cached and self.normalised <= few and stale <= few and lines_kept:
            return  # the next read normalises these few rows again, for less than the rewrite costs
        hits = np.concatenate(self._hits) if self._hits else np.zeros(0, np.int64)
        kept = [p.taken().cast(RECORDS) for p in self._hit_records] or [self._cached.take(hits).cast(RECORDS)]
        records = pa.concat_tables([*kept, *self._fresh])
        digests = (
            np.concatenate([*self._hit_digests, *self._fresh_digests]) if len(records) else np.zeros((0, DIGEST_BYTES), np.uint8)
        )
        lines = None
        if self._line_header is not None:
            lines = (
                np.concatenate([*self._hit_lines, *self._fresh_lines]) if len(records) else np.zeros((0, DIGEST_BYTES), np.uint8)
            )
        try:
            self._cache.save(self._fingerprint, digests, records, lines, self._line_header or "")
        except OSError as exc:  # the read is done and right: a cache that cannot be kept only costs the next read
            log.warning(
                "row cache %s cannot be written (%s); the next read normalises every row", self._cache.path, exc.strerror or exc
            )


def row_batches(rows: Iterator[Row], outcomes: RowOutcomes, name_column: int | None, keep_rows: bool) -> Iterator[Batch]:
    """A read's rows (from readers.TableStream) a batch at a time, with their outcomes."""
    while batch := list(itertools.islice(rows, BATCH_ROWS)):
        yield outcomes.batch(batch), [cell(row, name_column) for row in batch], batch if keep_rows else None


def arrow_batches(csv: ArrowCsv, outcomes: RowOutcomes, name_column: int | None, keep_rows: bool) -> Iterator[Batch]:
    """A clean CSV file's rows (arrowcsv.py) a batch at a time: digested in Arrow, rows built only where needed.

    Without ``keep_rows`` only the cells normalisation reads are kept (``csv.table`` loses the other
    columns: a million rows' notes and owners are memory the accounts need), and the rows the cache
    misses are built with the other cells empty.
    """
    where = digest_columns(outcomes.columns)
    # One query over the whole file: DuckDB spreads it over every core.
    digests = row_digests([csv.table.column(i) for i in where], outcomes.salt)
    width = csv.table.num_columns
    used = list(range(width)) if keep_rows else sorted({*where, *([] if name_column is None else [name_column])})
    csv.table = csv.table.select(used)
    for offset in range(0, csv.table.num_rows, BATCH_ROWS):
        part = csv.table.slice(offset, BATCH_ROWS)
        rows: list[Row] | None = list(zip(*(c.to_pylist() for c in part.columns), strict=True)) if keep_rows else None

        def rows_at(at: list[int], part: pa.Table = part, rows: list[Row] | None = rows) -> Sequence[Row]:
            return [rows[i] for i in at] if rows is not None else rows_of(part, at, used, width)

        found = outcomes.digested(digests[offset : offset + BATCH_ROWS], rows_at)
        names = [] if name_column is None else [v.strip() or None for v in part.column(used.index(name_column)).to_pylist()]
        yield found, names or [None] * part.num_rows, rows


def rows_of(table: pa.Table, at: list[int], used: Sequence[int], width: int) -> list[Row]:
    """The rows at ``at`` of a table holding only the columns ``used`` of ``width``: the others as empty cells."""
    cells = [c.to_pylist() for c in table.take(pa.array(at, type=pa.int64())).columns]
    built = []
    for k in range(len(at)):
        row: list[str | None] = [None] * width
        for j, i in enumerate(used):
            row[i] = cells[j][k]
        built.append(tuple(row))
    return built
