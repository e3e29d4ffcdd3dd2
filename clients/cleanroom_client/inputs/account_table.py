"""A file's accounts held as columns, not as a Python object each.

A million-row export re-read for an incremental map changes in a few rows: building a million
``Account`` objects to find them would cost more than the rest of the cycle (seconds, and most of the
client's memory). ``AccountTable`` keeps every account as Arrow and NumPy columns: the accounts of one
row (nearly all) a row each, the accounts of several rows (duplicates merged by a shared key) as their
member rows. It is a ``Sequence[Account]``: an account is built when it is asked for, so every caller
works unchanged; ``take`` builds many at once, and ``key_texts``/``masks`` give what the protocol
derives from every account without building any. A row's string cells stay in the records they came
from (the row cache's, most of them: ``RowCells``) until something reads them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom.distinct import distinct_sorted
from cleanroom_client.inputs.account import NO_FIELDS, Account
from cleanroom_client.inputs.duck import querying
from cleanroom_client.inputs.rowkeys import MatchKey, Rejected

Item = TypeVar("Item")
_BUILD_BATCH = 65_536  # accounts built per step when iterating: bounded memory, few Arrow round trips


@dataclass
class RowCells:
    """Rows' string cells (domain key, name key, name cell), taken from their records only when asked for: a
    million rows re-read for an incremental map need them for the few accounts that changed."""

    records: pa.Table  # the columns CELL_COLUMNS of every record the rows are of (chunked: not copied)
    at: np.ndarray  # int64: each row's record in ``records``

    def take(self, at: np.ndarray) -> RowCells:
        return RowCells(self.records, self.at[at])

    def column(self, name: str) -> pa.Array:
        """The rows' cells of column ``name`` (one of CELL_COLUMNS), in row order. Taken chunk by chunk: Arrow's
        take from a chunked column joined the whole column first (0.1 s for a million strings, however few taken)."""
        chunks = self.records.column(name).chunks
        if len(chunks) == 1:
            return chunks[0].take(pa.array(self.at, type=pa.int64()))
        bounds = np.cumsum([0, *(len(c) for c in chunks)])
        chunk = (np.searchsorted(bounds, self.at, side="right") - 1).astype(np.int16 if len(chunks) < 1 << 15 else np.int64)
        order = np.argsort(chunk, kind="stable")  # a radix sort of the chunk numbers
        pieces, start = [], 0
        for number, count in enumerate(np.bincount(chunk, minlength=len(chunks)).tolist()):
            if count:
                local = self.at[order[start : start + count]] - bounds[number]
                pieces.append(chunks[number].take(pa.array(local, type=pa.int64())))
                start += count
        joined = pa.concat_arrays(pieces) if pieces else pa.array([], pa.string())
        if not len(chunk) or bool((np.diff(chunk.astype(np.int64)) >= 0).all()):
            return joined  # the rows were in chunk order already (a first read's accounts): nothing to reorder
        back = np.empty(len(order), dtype=np.int64)
        back[order] = np.arange(len(order))
        return joined.take(pa.array(back, type=pa.int64()))


CELL_COLUMNS = ("domain", "name", "account_name")


class BuiltOnDemand(Sequence[Item]):
    """A sequence held as columns whose items are built when asked for (``built``: the items at positions)."""

    def built(self, at: np.ndarray) -> list[Item]:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> list[Item]: ...

    def __getitem__(self, index: int | slice) -> Item | list[Item]:
        if isinstance(index, slice):
            return self.built(np.arange(len(self))[index])
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"{type(self).__name__} index out of range")
        return self.built(np.array([index]))[0]


@dataclass(eq=False)
class RejectedRows(BuiltOnDemand[Rejected]):
    """Rejected rows held as columns (a cached read of a big export rejects tens of thousands of rows, and most
    callers only count them): each ``Rejected`` is built when asked for. Equal to any sequence of the same."""

    rows: np.ndarray  # int64, 1-based, ascending
    codes: np.ndarray  # int32 into ``words``: why each was rejected
    words: list[str]

    def __len__(self) -> int:
        return len(self.rows)

    def built(self, at: np.ndarray) -> list[Rejected]:
        return [Rejected(int(self.rows[i]), self.words[self.codes[i]]) for i in at.tolist()]

    def __iter__(self) -> Iterator[Rejected]:
        words = self.words
        for row, code in zip(self.rows.tolist(), self.codes.tolist(), strict=True):
            yield Rejected(row, words[code])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(other) == len(self) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # rowcache.RECORDS' string columns, as RowCells holds them


@dataclass
class Rows:
    """Rows as normalised: data row number, population code and domain identity, and their string cells (``cells``:
    domain key, name key ("" when none) and raw name cell), taken when first read."""

    numbers: np.ndarray  # int64, 1-based data rows
    population_codes: np.ndarray  # int32 into the table's population_words
    domain_ids: np.ndarray  # S16: the identity of each row's domain key alone (inputs/account_ids.domain_ids), or zeros
    cells: RowCells
    has_names: bool  # whether the file has a name column (else ``names`` is None)

    @cached_property
    def domains(self) -> pa.Array:
        return self.cells.column("domain")

    @cached_property
    def name_keys(self) -> pa.Array:
        return self.cells.column("name")

    @cached_property
    def names(self) -> pa.Array | None:
        return self.cells.column("account_name") if self.has_names else None

    def take(self, at: np.ndarray) -> Rows:
        return Rows(self.numbers[at], self.population_codes[at], self.domain_ids[at], self.cells.take(at), self.has_names)


@dataclass
class AccountTable(BuiltOnDemand[Account]):
    """Accounts in first-row order. ``first`` holds each account's first row; the accounts of several
    rows (``merged``: their positions, ascending) have all their rows in ``members``, grouped by account
    (``starts``: where each one's rows begin, then the end)."""

    first: Rows
    population_words: list[str]
    merged: np.ndarray  # int64 account positions
    starts: np.ndarray  # int64, len(merged) + 1
    members: Rows
    # Whether any row has a name key. Without one, rows merge only on a shared domain: an account's rows
    # all have its one domain, and its first row's domain identity is the account's.
    name_keyed: bool = True
    # Without name keys: the accounts that have a domain, sorted by its identity (first 8 bytes, big-endian),
    # from the grouping's sort; the protocol then searches them against what it sent without sorting again.
    id_order: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._populations = [(word,) for word in self.population_words]  # one shared tuple per population

    def __len__(self) -> int:
        return len(self.first.numbers)

    def built(self, at: np.ndarray) -> list[Account]:
        return self.take(at)

    def __iter__(self) -> Iterator[Account]:
        for start in range(0, len(self), _BUILD_BATCH):
            yield from self.take(np.arange(start, min(start + _BUILD_BATCH, len(self))))

    def take(self, indexes: np.ndarray | Sequence[int]) -> list[Account]:
        """The accounts at these positions, built in one pass over the columns."""
        at = np.asarray(indexes, dtype=np.int64)
        rows = self.first.take(at)
        domains, name_keys = rows.domains.to_pylist(), rows.name_keys.to_pylist()
        names = rows.names.to_pylist() if rows.names is not None else [None] * len(at)
        group, several = self._groups(at)
        out: list[Account] = []
        for k in range(len(at)):
            if several[k]:
                out.append(self._merged(int(group[k])))
                continue
            domain, name_key, name = domains[k], name_keys[k], names[k]
            keys = (MatchKey("domain", domain),) if domain else ()
            if name_key:
                keys = (*keys, MatchKey("name", name_key))  # sorted: "domain" < "name", as inputs.accounts sorts
            populations = self._populations[rows.population_codes[k]]
            out.append(
                Account((int(rows.numbers[k]),), keys, populations, (name or "").strip() or None, domain or None, NO_FIELDS)
            )
        return out

    def subset(self, indexes: np.ndarray) -> AccountTable:
        """The accounts at these positions (ascending), still as columns."""
        at = np.asarray(indexes, dtype=np.int64)
        group, several = self._groups(at)
        groups = group[several]
        sizes = np.diff(self.starts)[groups]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        rows = np.arange(starts[-1]) - np.repeat(starts[:-1], sizes) + np.repeat(self.starts[groups], sizes)
        return AccountTable(
            self.first.take(at), self.population_words, np.flatnonzero(several), starts, self.members.take(rows), self.name_keyed
        )

    def _groups(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For positions ``at``: the merged group each would be, and whether it is one."""
        group = np.searchsorted(self.merged, at)
        several = np.zeros(len(at), dtype=bool)
        if len(self.merged):
            several = (group < len(self.merged)) & (self.merged[np.minimum(group, len(self.merged) - 1)] == at)
        return group, several

    def _merged(self, group: int) -> Account:
        """The ``group``-th account of several rows, as ``inputs.accounts`` merges rows."""
        rows = self.members.take(np.arange(self.starts[group], self.starts[group + 1]))
        domains, name_keys = rows.domains.to_pylist(), rows.name_keys.to_pylist()
        keys = {MatchKey("domain", d) for d in domains if d} | {MatchKey("name", n) for n in name_keys if n}
        names = [(n or "").strip() for n in rows.names.to_pylist()] if rows.names is not None else []
        return Account(
            rows=tuple(rows.numbers.tolist()),
            keys=tuple(sorted(keys)),
            populations=tuple(sorted({self.population_words[c] for c in rows.population_codes.tolist()})),
            name=next((n for n in names if n), None),
            domain=next((d for d in domains if d), None),
            fields=NO_FIELDS,
        )

    def population_counts(self) -> Counter[str]:
        """How many accounts each population has (an account of several populations counts in each)."""
        words = len(self.population_words)
        counts = np.bincount(self.first.population_codes, minlength=words)
        if len(self.merged):  # an account of several rows counts once per population of its rows
            counts -= np.bincount(self.first.population_codes[self.merged], minlength=words)
            account = np.repeat(np.arange(len(self.merged)), np.diff(self.starts))
            pairs = distinct_sorted(account * words + self.members.population_codes)
            counts += np.bincount(pairs % words, minlength=words)
        return Counter({w: int(c) for w, c in zip(self.population_words, counts, strict=True) if c})

    def masks(self, index: Mapping[str, int]) -> np.ndarray:
        """uint16 per account: bit i set when the account is in the population ``index`` numbers i."""
        bits = np.array([1 << index[w] if w in index else 0 for w in self.population_words] or [0], dtype=np.uint16)
        masks = bits[self.first.population_codes]
        if len(self.merged):
            masks[self.merged] = np.bitwise_or.reduceat(bits[self.members.population_codes], self.starts[:-1])
        return masks

    def keys_of(self, kind: str) -> tuple[np.ndarray, pa.Array]:
        """Every (account position, key value) of this kind, ordered by position then value, as ``Account.keys``."""
        column = self.first.domains if kind == "domain" else self.first.name_keys
        single = pc.greater(pc.binary_length(column), 0).to_numpy(zero_copy_only=False)
        single[self.merged] = False
        positions, values = np.flatnonzero(single), column.filter(pa.array(single))
        if not len(self.merged):
            return positions, values
        groups, merged_values = _merged_keys(self.members, self.starts, kind)
        positions = np.concatenate([positions, self.merged[groups]])
        order = np.argsort(positions, kind="stable")  # the merged pairs come sorted by value within each account
        return positions[order], pa.concat_arrays([values, merged_values]).take(pa.array(order, type=pa.int64()))

    def merged_key_texts(self, kinds: Sequence[str]) -> list[str | None]:
        """``key_text`` of each account of several rows, in ``merged``'s order (None: no key of these kinds)."""
        return _merged_texts(self.members, self.starts, kinds) if len(self.merged) else []

    def key_texts(self, kinds: Sequence[str]) -> pa.Array:
        """Per account, ``account.key_text`` of its keys of these kinds (null when it has none of them)."""
        texts = _texts(self.first, kinds)
        if not len(self.merged):
            return texts
        replaced = np.zeros(len(texts), dtype=bool)
        replaced[self.merged] = True
        # The merged accounts are few: their texts replace the first rows' in order of position (merged is sorted).
        return pc.replace_with_mask(texts, pa.array(replaced), pa.array(self.merged_key_texts(kinds), pa.string()))


def _texts(rows: Rows, kinds: Sequence[str]) -> pa.Array:
    """Each row's ``key_text`` of its keys of these kinds, or null: built by Arrow, not row by row."""
    parts = []
    if "domain" in kinds:
        parts.append(_part("domain", rows.domains))
    if "name" in kinds:
        parts.append(_part("name", rows.name_keys))
    if not parts:
        return pa.nulls(len(rows.numbers), pa.string())
    if len(parts) == 1:
        return parts[0]
    both = pc.binary_join_element_wise(parts[0], parts[1], "\x1f")  # null when either is missing
    return pc.coalesce(both, parts[0], parts[1])


def _part(kind: str, values: pa.Array) -> pa.Array:
    """ "kind\\x1evalue" where the value is present, null where it is ""."""
    text = pc.binary_join_element_wise(pa.scalar(kind), values, "\x1e")
    return pc.if_else(pc.greater(pc.binary_length(values), 0), text, pa.scalar(None, pa.string()))


def _merged_texts(members: Rows, starts: np.ndarray, kinds: Sequence[str]) -> list[str | None]:
    """Per account of several rows (``members`` grouped by ``starts``): the ``key_text`` of its distinct keys."""
    group = np.repeat(np.arange(len(starts) - 1, dtype=np.int64), np.diff(starts))
    parts = [(kind, members.domains if kind == "domain" else members.name_keys) for kind in ("domain", "name") if kind in kinds]
    keys = pa.table(
        {
            "g": pa.array(np.concatenate([group] * len(parts)) if parts else np.zeros(0, np.int64)),
            "k": pa.concat_arrays([_part(kind, values) for kind, values in parts]) if parts else pa.array([], pa.string()),
        }
    )
    # Sorted as Python sorts MatchKeys, by kind then value: DuckDB compares strings by their UTF-8 bytes
    # (code point order, as Python does), and kinds differ in their first letter.
    with querying(keys=keys) as con:
        found = con.sql(
            "SELECT g, array_to_string(list_sort(list_distinct(list(k))), chr(31)) AS t FROM keys WHERE k IS NOT NULL GROUP BY g"
        ).fetchnumpy()
    texts: list[str | None] = [None] * (len(starts) - 1)
    for g, text in zip(found["g"].tolist(), found["t"].tolist(), strict=True):
        texts[g] = text
    return texts


def _merged_keys(members: Rows, starts: np.ndarray, kind: str) -> tuple[np.ndarray, pa.Array]:
    """The distinct key values of this kind of each account of several rows: (its group, value), sorted."""
    group = np.repeat(np.arange(len(starts) - 1, dtype=np.int64), np.diff(starts))
    keys = pa.table({"g": pa.array(group), "k": members.domains if kind == "domain" else members.name_keys})
    with querying(keys=keys) as con:
        found = con.sql("SELECT DISTINCT g, k FROM keys WHERE k <> '' ORDER BY g, k").to_arrow_table()
    return found.column("g").to_numpy(), found.column("k").combine_chunks()
