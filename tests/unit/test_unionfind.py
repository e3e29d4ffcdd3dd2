"""The one union-find, against an independent grouping (repeated merging of overlapping sets)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from cleanroom.unionfind import UnionFind


def _groups_by_merging(n: int, edges: list[tuple[int, int]]) -> set[frozenset[int]]:
    """Independent truth: start with singletons, merge any two sets an edge touches until nothing changes."""
    sets = [{i} for i in range(n)]
    for a, b in edges:
        sa = next(s for s in sets if a in s)
        sb = next(s for s in sets if b in s)
        if sa is not sb:
            sa |= sb
            sets.remove(sb)
    return {frozenset(s) for s in sets}


@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))
    )
)
def test_sets_match_repeated_merging_and_the_root_is_the_smallest(case):
    n, edges = case
    uf = UnionFind(n)
    for a, b in edges:
        uf.union(a, b)
    by_root: dict[int, set[int]] = {}
    for node in range(n):
        by_root.setdefault(uf.find(node), set()).add(node)
    assert {frozenset(s) for s in by_root.values()} == _groups_by_merging(n, edges)
    assert all(root == min(members) for root, members in by_root.items())


def test_add_appends_singletons_and_union_order_does_not_matter():
    edges = [(0, 5), (5, 9), (2, 3), (9, 1)]
    roots = []
    for seed in range(5):
        shuffled = edges[:]
        random.Random(seed).shuffle(shuffled)
        uf = UnionFind()
        assert [uf.add() for _ in range(10)] == list(range(10))
        for a, b in shuffled:
            uf.union(b, a)
        roots.append([uf.find(i) for i in range(10)])
    assert all(r == roots[0] for r in roots)
    assert roots[0] == [0, 0, 2, 2, 4, 0, 6, 7, 8, 0]
