"""Components of the matched pairs, by NumPy passes (and the union-find past SPREAD_PASSES), against an
independent breadth-first search: each pair is named by the smallest a-account of its component."""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np
import pytest

from cleanroom.coordinator import overlap
from cleanroom.coordinator.overlap import components


def _by_search(pairs: np.ndarray) -> list[int]:
    """The smallest a-account reachable from each pair's a-account (BFS over a- and b-accounts)."""
    edges: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
    for x, y in pairs.tolist():
        edges[("a", x)].append(("b", y))
        edges[("b", y)].append(("a", x))
    smallest: dict[tuple[str, int], int] = {}
    for start in edges:
        if start in smallest:
            continue
        seen, queue = {start}, deque([start])
        while queue:
            for nxt in edges[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        least = min(n for side, n in seen if side == "a")
        smallest.update(dict.fromkeys(seen, least))
    return [smallest[("a", x)] for x in pairs[:, 0].tolist()]


@pytest.mark.parametrize("passes", [overlap.SPREAD_PASSES, 1])  # 1: the union-find finishes nearly every case
def test_components_are_the_breadth_first_searchs(monkeypatch, passes: int):
    monkeypatch.setattr(overlap, "SPREAD_PASSES", passes)
    rng = np.random.default_rng(8)
    for _ in range(300):
        n_a, n_b = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        pairs = np.unique(np.stack([rng.integers(0, n_a, 40), rng.integers(0, n_b, 40)], axis=1), axis=0)
        got = components(pairs, n_a)
        if len(np.unique(pairs[:, 0])) == len(pairs) and len(np.unique(pairs[:, 1])) == len(pairs):
            assert got.tolist() == list(range(len(pairs)))  # each its own component, numbered as they come
        else:
            assert got.tolist() == _by_search(pairs)


def test_a_chain_longer_than_the_passes_is_finished_by_the_union_find():
    k = 500  # a0-b0-a1-b1-...: one component k links long, in a shuffled order
    pairs = np.array([(i, i) for i in range(k)] + [(i + 1, i) for i in range(k - 1)])
    pairs = pairs[np.random.default_rng(2).permutation(len(pairs))]
    assert components(pairs, k).tolist() == [0] * len(pairs)
