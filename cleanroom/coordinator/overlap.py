"""The join: double-blinded tokens of both sides -> the overlap matrix.

A side's upload is a list of points, each labelled with a pseudonymous account
number and the account's population bit mask; an account with several match
keys (domain, name) has several points. Two accounts match when they share a
double-blinded token. Matches are counted as connected components of the
bipartite match graph, so that one company counts once on both sides even when
its keys link several rows: the vendor's view and the partner's view are then
exact transposes of each other. With one key per account (the default) every
component is a single pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from cleanroom.distinct import distinct_sorted
from cleanroom.unionfind import UnionFind


@dataclass(frozen=True)
class SideTokens:
    """One side's double-blinded tokens, in upload order, with their labels."""

    tokens: bytes  # packed 32-byte tokens
    accounts: np.ndarray  # uint32, one per token
    populations: np.ndarray  # uint16 bit mask, one per token
    total_accounts: int


@dataclass(frozen=True)
class OverlapCounts:
    a_accounts: int
    b_accounts: int
    overlap: int
    # matrix[i][j]: matched companies with A-population i and B-population j.
    matrix: list[list[int]]
    # Matched (a_account, b_account) pairs, for account-level reveal.
    pairs: np.ndarray
    # The company (connected component, numbered 0..overlap-1) of each pair: what the counts count.
    component: np.ndarray


def _arrow(side: SideTokens) -> pa.Table:
    words = np.frombuffer(side.tokens, dtype="<u8").reshape(-1, 4)
    return pa.table(
        {
            "t0": words[:, 0],
            "t1": words[:, 1],
            "t2": words[:, 2],
            "t3": words[:, 3],
            "account": side.accounts.astype(np.uint32, copy=False),
        }
    )


def match_pairs(a: SideTokens, b: SideTokens) -> np.ndarray:
    """Distinct (a_account, b_account) pairs sharing a token, joined in DuckDB."""
    con = duckdb.connect(":memory:")
    try:
        con.register("a_tokens", _arrow(a))
        con.register("b_tokens", _arrow(b))
        result = con.execute(
            """
            SELECT DISTINCT a.account AS a_acc, b.account AS b_acc
            FROM a_tokens a JOIN b_tokens b
              ON a.t0 = b.t0 AND a.t1 = b.t1 AND a.t2 = b.t2 AND a.t3 = b.t3
            ORDER BY a_acc, b_acc
            """
        ).fetchnumpy()
    finally:
        con.close()
    return (
        np.stack([result["a_acc"].astype(np.int64), result["b_acc"].astype(np.int64)], axis=1)
        if len(result["a_acc"])
        else np.zeros((0, 2), dtype=np.int64)
    )


def pairs_of_matches(
    matches: np.ndarray, accounts: tuple[np.ndarray, np.ndarray], keep: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """What ``match_pairs`` gives, from the (a position, b position) of every pair of equal tokens
    (store.tokens): ``accounts`` holds each side's account label by position, ``keep`` which positions
    count (canaries do not). Distinct (a_account, b_account) pairs, sorted."""
    if len(matches) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    a_pos, b_pos = matches[:, 0], matches[:, 1]
    counted = keep[0][a_pos] & keep[1][b_pos]
    a_acc = accounts[0][a_pos[counted]].astype(np.uint64)
    b_acc = accounts[1][b_pos[counted]].astype(np.uint64)
    # Labels are uint32: one 64-bit key per pair sorts as (a, b) and makes DISTINCT one sort.
    keys = distinct_sorted((a_acc << np.uint64(32)) | b_acc)
    return np.stack([(keys >> np.uint64(32)).astype(np.int64), (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)], axis=1)


def account_masks(side: SideTokens) -> np.ndarray:
    masks = np.zeros(side.total_accounts, dtype=np.uint16)
    np.bitwise_or.at(masks, side.accounts.astype(np.int64), side.populations.astype(np.uint16))
    return masks


def components(pairs: np.ndarray, n_a: int) -> np.ndarray:
    """Component of every pair (a-accounts and b-accounts joined by the pairs), named by its smallest
    a-account, as a union-find keeping the smaller root names it. A pair whose two accounts are in no
    other pair is a component alone; among the others the smallest a-account spreads through shared
    accounts (NumPy passes) until nothing changes. A Python union-find took ~1 s for a quarter of a
    million pairs, each continuous completion."""
    if len(pairs) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(distinct_sorted(pairs[:, 0])) == len(pairs) and len(distinct_sorted(pairs[:, 1])) == len(pairs):
        return np.arange(len(pairs), dtype=np.int64)  # one key per account: every pair is its own component
    a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    _, a_at, a_count = np.unique(a, return_inverse=True, return_counts=True)  # by sorting (numpy 2.4)
    _, b_at, b_count = np.unique(b, return_inverse=True, return_counts=True)
    shared = (a_count[a_at] > 1) | (b_count[b_at] > 1)
    label = a.copy()
    label[shared] = _smallest_a(a[shared], a_at[shared], b_at[shared], max(n_a, int(a.max()) + 1))
    return label


# Passes of the NumPy spread before the union-find takes over: a component as long as a chain of accounts
# that each share a key with the next (a party can make such keys) would otherwise take a pass a link.
SPREAD_PASSES = 32


def _smallest_a(a: np.ndarray, a_at: np.ndarray, b_at: np.ndarray, ceiling: int) -> np.ndarray:
    """For pairs of a-accounts ``a`` (indexed ``a_at``) and b-accounts (indexed ``b_at``): the smallest
    a-account of each pair's component."""
    label = a.copy()
    for _ in range(SPREAD_PASSES):
        by_b = np.full(int(b_at.max()) + 1, ceiling, dtype=np.int64)
        np.minimum.at(by_b, b_at, label)
        by_a = np.full(int(a_at.max()) + 1, ceiling, dtype=np.int64)
        np.minimum.at(by_a, a_at, by_b[b_at])
        new = np.minimum(label, by_a[a_at])
        if np.array_equal(new, label):
            return label
        label = new
    n_a = int(a_at.max()) + 1
    sets = UnionFind(n_a + int(b_at.max()) + 1)  # a-accounts, then b-accounts after them
    for x, y in zip(a_at.tolist(), b_at.tolist(), strict=True):
        sets.union(x, n_a + y)
    smallest = np.full(len(sets), ceiling, dtype=np.int64)
    roots = np.array([sets.find(x) for x in a_at.tolist()], dtype=np.int64)
    np.minimum.at(smallest, roots, a)
    return smallest[roots]


def overlap_counts(a: SideTokens, b: SideTokens, a_populations: int, b_populations: int) -> OverlapCounts:
    pairs = match_pairs(a, b)
    return counts_of_pairs(
        pairs, (account_masks(a), account_masks(b)), (a.total_accounts, b.total_accounts), (a_populations, b_populations)
    )


def counts_of_pairs(
    pairs: np.ndarray, masks: tuple[np.ndarray, np.ndarray], accounts: tuple[int, int], populations: tuple[int, int]
) -> OverlapCounts:
    """The overlap matrix of matched (a_label, b_label) pairs: ``masks`` holds each side's population mask by
    label, ``accounts`` each side's set size (released as is), ``populations`` how many each side brings."""
    a_masks, b_masks = masks
    a_populations, b_populations = populations
    comp = components(pairs, len(a_masks))
    matrix = [[0] * b_populations for _ in range(a_populations)]
    n_components = 0
    inverse = np.zeros(0, dtype=np.int64)
    if len(pairs):
        if np.array_equal(comp, np.arange(len(comp))):  # every pair its own component (components' fast path)
            n_components, inverse = len(comp), comp
        else:
            ids, inverse = np.unique(comp, return_inverse=True)
            n_components = len(ids)
        comp_a = np.zeros(n_components, dtype=np.uint16)
        comp_b = np.zeros(n_components, dtype=np.uint16)
        np.bitwise_or.at(comp_a, inverse, a_masks[pairs[:, 0]])
        np.bitwise_or.at(comp_b, inverse, b_masks[pairs[:, 1]])
        for i in range(a_populations):
            has_a = (comp_a >> i) & 1 == 1
            for j in range(b_populations):
                matrix[i][j] = int(np.count_nonzero(has_a & ((comp_b >> j) & 1 == 1)))
    return OverlapCounts(
        a_accounts=accounts[0],
        b_accounts=accounts[1],
        overlap=n_components,
        matrix=matrix,
        pairs=pairs,
        component=inverse.astype(np.int64).reshape(-1),
    )
