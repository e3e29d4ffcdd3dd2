"""Records of a read's rows, picked from record tables (rowcache.RECORDS) without copying them.

A warm read of a million-row file takes nearly every row's record from the row cache. Copying them
out in the file's order (an Arrow ``take`` of every string column) cost more than the rest of the
read, and the accounts are grouped and told apart by fixed-width values: each record's domain
identity, its population code, whether it has a domain or a name key. Those are gathered by NumPy
here; the string cells are taken later, for the rows that need them (account_table.RowCells).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom_client.inputs.account_ids import ID_SIZE
from cleanroom_client.inputs.account_table import CELL_COLUMNS, RowCells


@dataclass(frozen=True)
class Picked:
    """Some records of ``table``, in the order of the rows they are of."""

    table: pa.Table  # rowcache.RECORDS (the text column may be dictionary-encoded)
    at: np.ndarray | None = None  # int64: the records picked; None: every record, in order

    def __len__(self) -> int:
        return self.table.num_rows if self.at is None else len(self.at)

    def _gather(self, values: np.ndarray) -> np.ndarray:
        return values if self.at is None else values[self.at]

    def indexes(self) -> np.ndarray:
        """The records picked, as positions in ``table``."""
        return np.arange(self.table.num_rows, dtype=np.int64) if self.at is None else self.at

    def domain_ids(self) -> np.ndarray:
        """Each picked record's domain identity (S16; zeros when it has no domain key)."""
        column = self.table.column("domain_id").combine_chunks()
        if not len(column):
            return np.zeros(len(self), f"S{ID_SIZE}")
        data = np.frombuffer(column.buffers()[1], dtype=f"S{ID_SIZE}")[column.offset : column.offset + len(column)]
        return self._gather(data)

    def non_empty(self, column: str) -> np.ndarray:
        """Whether each picked record's string ``column`` is not empty."""
        values = self.table.column(column)
        return self._gather(pc.greater(pc.binary_length(values), 0).to_numpy()) if len(values) else np.zeros(len(self), bool)

    def texts(self) -> tuple[np.ndarray, list[str]]:
        """Each picked record's text (its population, or why its row was rejected) as a code into the words
        returned: the row cache's text is dictionary-encoded already, a fresh record's is encoded here."""
        column = self.table.column("text").combine_chunks()
        encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
        return self._gather(encoded.indices.to_numpy(zero_copy_only=False)), encoded.dictionary.to_pylist()

    def taken(self) -> pa.Table:
        """The picked records, copied out in order."""
        return self.table if self.at is None else self.table.take(pa.array(self.at, type=pa.int64()))


def row_cells(parts: Sequence[Picked]) -> RowCells:
    """The string cells of every picked record, in the parts' order (their tables are not copied)."""
    tables = [part.table.select(list(CELL_COLUMNS)) for part in parts]
    offsets = np.cumsum([0, *(t.num_rows for t in tables)])
    at = [part.indexes() + offset for part, offset in zip(parts, offsets.tolist(), strict=False)]
    empty = pa.schema([(name, pa.string()) for name in CELL_COLUMNS]).empty_table()
    return RowCells(pa.concat_tables(tables) if tables else empty, np.concatenate(at) if at else np.zeros(0, np.int64))


def joined(parts: Sequence[np.ndarray], dtype: str | type) -> np.ndarray:
    """The parts' values end to end (an empty array of ``dtype`` when there are none)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype)
