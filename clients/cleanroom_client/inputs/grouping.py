"""Rows that share a match key are one account: the labels that travel with deals and touches.

Deals on one company (several opportunities) and a partner's repeated touches
on one company must reach the coordinator as one account with all its keys,
so that a join on any key finds every row. This is the same union-find rule
as accounts.load_accounts (any shared key merges, transitively); it is kept
here as a small public helper rather than reaching into accounts.py's
private one.

Labels are 0..n-1 in order of each account's first row, so the same file
always yields the same labels.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import NamedTuple, Protocol

from cleanroom_client.inputs.accounts import MatchKey


class _Keyed(Protocol):
    keys: tuple[MatchKey, ...]


class Grouping(NamedTuple):
    account_keys: list[tuple]  # per account label: its keys, sorted
    label_of_row: list[int]  # per input row (in input order): its account label

    def as_text(self) -> tuple[list[list[str]], list[int]]:
        """The same grouping with every key written as text ("domain:acme.com")."""
        return [[str(k) for k in keys] for keys in self.account_keys], self.label_of_row


def group_keys(rows: Iterable[Sequence[Hashable]]) -> Grouping:
    """Union-find over rows' key lists (MatchKeys, or any hashable, orderable keys); every row needs a key."""
    parent: list[int] = []
    by_key: dict[Hashable, int] = {}
    row_keys: list[Sequence[Hashable]] = []

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for node, keys in enumerate(rows):
        if not keys:
            raise ValueError(f"row {node + 1} (input position) has no match key; rejected rows cannot be grouped")
        parent.append(node)
        row_keys.append(keys)
        for key in keys:
            other = by_key.setdefault(key, node)
            if other != node:
                a, b = find(other), find(node)
                if a != b:
                    parent[max(a, b)] = min(a, b)  # the earliest row stays the representative
    label_of_root: dict[int, int] = {}
    labels: list[int] = []
    members: list[set] = []
    for node, keys in enumerate(row_keys):
        root = find(node)
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
