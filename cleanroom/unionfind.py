"""Disjoint sets over nodes 0, 1, 2, ...: the one union-find of the project.

Two places merge things that share a key, transitively: the client groups rows
that share a match key into accounts (``cleanroom_client.inputs.grouping``) and
the coordinator groups matched token pairs into overlapping accounts
(``cleanroom.coordinator.overlap``). Both need the same structure; the smaller
node stays its set's root, so the earliest row represents its group and the
result does not depend on the order of unions.
"""

from __future__ import annotations


class UnionFind:
    """Nodes 0..size-1 (``add`` appends one); ``find`` compresses paths, ``union`` keeps the smaller root."""

    __slots__ = ("parent",)

    def __init__(self, size: int = 0) -> None:
        self.parent: list[int] = list(range(size))

    def __len__(self) -> int:
        return len(self.parent)

    def add(self) -> int:
        """A new singleton set; its node number."""
        node = len(self.parent)
        self.parent.append(node)
        return node

    def find(self, x: int) -> int:
        """The root (smallest node) of ``x``'s set."""
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> int:
        """Merge the sets of ``a`` and ``b``; the merged set's root."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        low, high = (ra, rb) if ra < rb else (rb, ra)
        self.parent[high] = low
        return low
