"""Each row's outcome (its match keys and population, or why it is rejected), through the row cache when there is one.

``RowOutcomes`` is fed a read's rows a batch at a time, in file order: rows
whose digest the cache holds are decoded, the others normalised
(``row_keys`` and the stage map) and remembered; ``finish`` saves the read's
rows as the cache (only when something changed). Without a cache it is the
plain normaliser.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from cleanroom_client.inputs.columns import ColumnMap
from cleanroom_client.inputs.populations import StageMap
from cleanroom_client.inputs.readers import Row
from cleanroom_client.inputs.rowcache import Outcome, RowCache, decode, encode
from cleanroom_client.inputs.rowdigest import DIGEST_BYTES, digest_columns, fingerprint, row_digests
from cleanroom_client.inputs.rowkeys import cell, row_keys


class RowOutcomes:
    """One read's row outcomes, in file order (see the module docstring)."""

    def __init__(
        self, columns: ColumnMap, stages: StageMap, default_population: str, name_key: bool, cache: RowCache | None = None
    ) -> None:
        self._columns, self._stages, self._default, self._name_key = columns, stages, default_population, name_key
        self._where = columns.keys()
        self._cache = cache
        self._fingerprint = fingerprint(columns, stages, default_population, name_key)
        self._cached = cache.open(self._fingerprint) if cache is not None else None
        self._digests: list[np.ndarray] = []
        self._records: list[bytes | None] = []
        self._seen = np.zeros(len(self._cached) if self._cached is not None else 0, dtype=bool)  # cached rows still in the file
        self.normalised = 0  # rows that were not in the cache

    def outcome(self, row: Row) -> Outcome:
        """The row normalised: (keys, population), or ((), why it is rejected)."""
        keys, reason = row_keys(row, self._where, self._name_key)
        if not keys:
            return (), reason
        column = self._columns.population_column
        if column is None:
            return keys, self._default
        stage = cell(row, column)
        population = self._stages.population(stage)
        if population is None:
            return (), self._stages.unmapped_reason(stage, self._columns.names[column])
        return keys, population

    def batch(self, rows: Sequence[Row]) -> list[Outcome]:
        """The outcomes of the next rows of the read."""
        if self._cached is None:
            self.normalised += len(rows)
            return [self.outcome(row) for row in rows]
        cells = [
            pa.array([row[i] if i < len(row) else None for row in rows], type=pa.string()) for i in digest_columns(self._columns)
        ]
        return self.digested(rows, row_digests(cells, self._fingerprint))

    def digested(self, rows: Sequence[Row], digests: np.ndarray) -> list[Outcome]:
        """The outcomes of rows whose digests are already known (``rowdigest.row_digests`` with ``salt``)."""
        assert self._cached is not None
        found = self._cached.find(digests)
        self._digests.append(digests)
        self._seen[found[found >= 0]] = True
        outcomes: list[Outcome] = []
        record = self._cached.record
        raw: bytes | None
        for row, index in zip(rows, found.tolist(), strict=True):
            if index >= 0:
                raw = record(index)
                outcomes.append(decode(raw))
            else:
                outcome = self.outcome(row)
                raw = encode(outcome)
                self.normalised += 1
                outcomes.append(outcome)
            self._records.append(raw)
        return outcomes

    @property
    def salt(self) -> str:
        """What the digests of this read are salted with (the options fingerprint)."""
        return self._fingerprint

    def finish(self) -> None:
        """Save this read's rows as the cache, unless it already holds exactly them."""
        if self._cache is None or self._cached is None:
            return
        if self.normalised == 0 and self._seen.all():
            return  # every row came from the cache and every cached row is still in the file
        digests = np.concatenate(self._digests) if self._digests else np.zeros((0, DIGEST_BYTES), np.uint8)
        self._cache.save(self._fingerprint, digests, self._records)
