"""Rows that share a match key are one account (over the shared ``cleanroom.unionfind``).

Duplicate rows of an accounts file, deals on one company (several
opportunities) and a partner's repeated touches on one company must each
become one account with all its keys, so that a join on any key finds every
row. The rule is the same everywhere: any shared key merges, transitively,
and the earliest row stays the group's representative (its root), so the
same file always yields the same groups in the same order.

``KeyGroups`` is fed one row at a time (accounts are streamed); ``group_keys``
and ``group_rows`` label the accounts of rows already in memory (deals,
touches), 0..n-1 in order of each account's first row.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any, NamedTuple, Protocol

from cleanroom.unionfind import UnionFind
from cleanroom_client.inputs.rowkeys import MatchKey


class KeyGroups:
    """Rows (nodes 0, 1, ... in the order added) joined by any shared key, over the shared union-find."""

    def __init__(self) -> None:
        self._sets = UnionFind()
        self._by_key: dict[Hashable, int] = {}

    @property
    def parent(self) -> list[int]:
        return self._sets.parent

    def add(self, keys: Iterable[Hashable]) -> int:
        """Add the next row with its keys; its node number."""
        node = self._sets.add()
        for key in keys:
            other = self._by_key.setdefault(key, node)
            if other != node:
                self._sets.union(other, node)  # the earliest row stays the representative
        return node

    def find(self, x: int) -> int:
        """The root (earliest row) of ``x``'s group."""
        return self._sets.find(x)


class _Keyed(Protocol):
    @property
    def keys(self) -> tuple[MatchKey, ...]: ...


class Grouping(NamedTuple):
    account_keys: list[tuple[Any, ...]]  # per account label: its keys, sorted
    label_of_row: list[int]  # per input row (in input order): its account label

    def as_text(self) -> tuple[list[list[str]], list[int]]:
        """The same grouping with every key written as text ("domain:acme.com")."""
        return [[str(k) for k in keys] for keys in self.account_keys], self.label_of_row


def group_keys(rows: Iterable[Sequence[Hashable]]) -> Grouping:
    """Accounts of rows' key lists (MatchKeys, or any hashable, orderable keys); every row needs a key."""
    groups = KeyGroups()
    row_keys: list[Sequence[Hashable]] = []
    for node, keys in enumerate(rows):
        if not keys:
            raise ValueError(f"row {node + 1} (input position) has no match key; rejected rows cannot be grouped")
        groups.add(keys)
        row_keys.append(keys)
    label_of_root: dict[int, int] = {}
    labels: list[int] = []
    members: list[set[Any]] = []
    for node, keys in enumerate(row_keys):
        root = groups.find(node)
        label = label_of_root.get(root)
        if label is None:
            label = label_of_root[root] = len(members)
            members.append(set(keys))
        else:
            members[label].update(keys)
        labels.append(label)
    return Grouping([tuple(sorted(m)) for m in members], labels)


def group_rows(rows: Iterable[_Keyed]) -> Grouping:
    """Accounts of DealRows or TouchRows (anything with ``.keys``): (MatchKeys per label, label per row)."""
    return group_keys(r.keys for r in rows)
