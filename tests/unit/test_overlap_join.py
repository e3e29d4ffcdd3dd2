"""overlap_counts(): the DuckDB join and component counting, against a brute force.

The reference below is written independently of cleanroom.coordinator.overlap:
plain Python sets for "which accounts share a token", a BFS over the bipartite
account graph for connected components, and a component counted in cell (i, j)
when some A account in it has population i and some B account has population j
(an account's populations are the union of its tokens' masks).
"""

from __future__ import annotations

import os
from collections import defaultdict, deque

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanroom.coordinator.overlap import SideTokens, overlap_counts

# A fixed table of random 32-byte tokens (the tests index into it).
TOKENS = [os.urandom(32) for _ in range(64)]


def side(entries: list[tuple[int, bytes, int]], total_accounts: int) -> SideTokens:
    """entries: (account, token, population mask), in upload order."""
    return SideTokens(
        tokens=b"".join(t for _, t, _ in entries),
        accounts=np.array([a for a, _, _ in entries], dtype=np.uint32),
        populations=np.array([m for _, _, m in entries], dtype=np.uint16),
        total_accounts=total_accounts,
    )


def brute_force(a_entries, b_entries, n_a_pops, n_b_pops):
    a_mask, b_mask = defaultdict(int), defaultdict(int)
    a_tokens, b_tokens = defaultdict(set), defaultdict(set)
    for acc, tok, mask in a_entries:
        a_mask[acc] |= mask
        a_tokens[tok].add(acc)
    for acc, tok, mask in b_entries:
        b_mask[acc] |= mask
        b_tokens[tok].add(acc)
    adj = defaultdict(set)
    pairs = set()
    for tok in set(a_tokens) & set(b_tokens):
        for x in a_tokens[tok]:
            for y in b_tokens[tok]:
                pairs.add((x, y))
                adj[("a", x)].add(("b", y))
                adj[("b", y)].add(("a", x))
    seen: set = set()
    matrix = [[0] * n_b_pops for _ in range(n_a_pops)]
    n_components = 0
    for start in list(adj):
        if start in seen:
            continue
        n_components += 1
        seen.add(start)
        queue = deque([start])
        am = bm = 0
        while queue:
            node = queue.popleft()
            if node[0] == "a":
                am |= a_mask[node[1]]
            else:
                bm |= b_mask[node[1]]
            for nxt in adj[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        for i in range(n_a_pops):
            for j in range(n_b_pops):
                if am >> i & 1 and bm >> j & 1:
                    matrix[i][j] += 1
    return matrix, n_components, sorted(pairs)


def transpose(m):
    return [list(r) for r in zip(*m, strict=True)] if m and m[0] else []


def check(a_entries, b_entries, n_a, n_b, pa, pb):
    a, b = side(a_entries, n_a), side(b_entries, n_b)
    got = overlap_counts(a, b, pa, pb)
    matrix, overlap, pairs = brute_force(a_entries, b_entries, pa, pb)
    assert got.matrix == matrix
    assert got.overlap == overlap
    assert sorted(map(tuple, got.pairs.tolist())) == pairs
    assert (got.a_accounts, got.b_accounts) == (n_a, n_b)
    swapped = overlap_counts(b, a, pb, pa)
    assert swapped.matrix == [list(r) for r in zip(*got.matrix, strict=True)]
    assert swapped.overlap == got.overlap
    return got


# -- hand-worked -----------------------------------------------------------------------

CUSTOMER, PROSPECT, OPPORTUNITY = 1, 2, 4


def test_hand_worked_multi_key_components():
    T = TOKENS
    # A (2 populations): account 0 has a domain token T0 and a name token T1.
    a_entries = [
        (0, T[0], CUSTOMER),
        (0, T[1], CUSTOMER),
        (1, T[2], PROSPECT),
        (2, T[3], CUSTOMER | PROSPECT),
        (3, T[4], CUSTOMER),
        (4, T[10], PROSPECT),  # no match
    ]
    # B (3 populations): A's account 0 links B's accounts 0 (by domain) and 1 (by name);
    # B's account 2 links A's accounts 1 and 2.
    b_entries = [
        (0, T[0], CUSTOMER),
        (1, T[1], PROSPECT),
        (2, T[2], CUSTOMER),
        (2, T[3], CUSTOMER),
        (3, T[4], OPPORTUNITY),
        (4, T[11], CUSTOMER),  # no match
    ]
    # Components: {A0, B0, B1}: A {cust}, B {cust, prosp}
    #             {A1, A2, B2}: A {cust, prosp}, B {cust}
    #             {A3, B3}:     A {cust}, B {opp}
    expected = [
        [2, 1, 1],  # A customer
        [1, 0, 0],  # A prospect
    ]
    got = overlap_counts(side(a_entries, 5), side(b_entries, 5), 2, 3)
    assert got.matrix == expected
    assert got.overlap == 3
    assert got.pairs.tolist() == [[0, 0], [0, 1], [1, 2], [2, 2], [3, 3]]
    swapped = overlap_counts(side(b_entries, 5), side(a_entries, 5), 3, 2)
    assert swapped.matrix == [[2, 1], [1, 0], [1, 0]]
    assert swapped.overlap == 3
    check(a_entries, b_entries, 5, 5, 2, 3)


def test_hand_worked_one_key_per_account():
    T = TOKENS
    a_entries = [(0, T[0], CUSTOMER), (1, T[1], PROSPECT), (2, T[2], CUSTOMER), (3, T[3], CUSTOMER)]
    b_entries = [(0, T[2], PROSPECT), (1, T[0], CUSTOMER), (2, T[1], PROSPECT), (3, T[9], CUSTOMER)]
    got = overlap_counts(side(a_entries, 4), side(b_entries, 4), 2, 2)
    # pairs: A0-B1 (cust, cust), A1-B2 (prosp, prosp), A2-B0 (cust, prosp)
    assert got.matrix == [[1, 1], [0, 1]]
    assert got.overlap == 3


def test_account_mask_is_union_over_its_tokens():
    T = TOKENS
    # A's account 0 is a customer by one row and a prospect by another; only T0 matches.
    a_entries = [(0, T[0], CUSTOMER), (0, T[5], PROSPECT)]
    b_entries = [(0, T[0], CUSTOMER)]
    got = overlap_counts(side(a_entries, 1), side(b_entries, 1), 2, 1)
    assert got.matrix == [[1], [1]]
    assert got.overlap == 1


def test_duplicate_tokens_count_once():
    T = TOKENS
    a_entries = [(0, T[0], CUSTOMER), (0, T[0], CUSTOMER)]
    b_entries = [(0, T[0], CUSTOMER), (0, T[0], CUSTOMER)]
    got = overlap_counts(side(a_entries, 1), side(b_entries, 1), 1, 1)
    assert got.matrix == [[1]] and got.overlap == 1 and got.pairs.tolist() == [[0, 0]]


def test_no_overlap():
    T = TOKENS
    got = overlap_counts(side([(0, T[0], 1)], 1), side([(0, T[1], 1)], 1), 1, 1)
    assert got.matrix == [[0]] and got.overlap == 0 and len(got.pairs) == 0


def test_tokens_differing_in_one_byte_do_not_match():
    base = bytearray(TOKENS[0])
    for pos in (0, 8, 16, 31):  # one byte in each 8-byte word the join compares
        other = bytearray(base)
        other[pos] ^= 1
        got = overlap_counts(side([(0, bytes(base), 1)], 1), side([(0, bytes(other), 1)], 1), 1, 1)
        assert got.overlap == 0, pos


# -- randomised ------------------------------------------------------------------------


def _random_instance(rng: np.random.Generator, n_a: int, n_b: int, pa: int, pb: int, shared: int):
    # Returns (a_entries, b_entries, n_a, number of B accounts), B's count >= n_b.
    """Companies with a domain token and (sometimes) a name token; `shared` of them on both sides.

    Some companies on B are split into two accounts (one holding the domain key, one the
    name key), so one A account links two B accounts; and some name tokens collide
    across companies, which joins components.
    """
    companies = [(rng.bytes(32), rng.bytes(32)) for _ in range(n_a + n_b)]
    a_entries, b_entries = [], []
    for acc in range(n_a):
        dom, name = companies[acc]
        mask = int(rng.integers(1, 1 << pa))
        a_entries.append((acc, dom, mask))
        if rng.random() < 0.5:
            a_entries.append((acc, name, mask))
    b_acc = 0
    b_companies = list(range(shared)) + list(range(n_a, n_a + n_b - shared))
    for company in b_companies:
        dom, name = companies[company]
        if rng.random() < 0.3:  # this company is two accounts on B
            b_entries.append((b_acc, dom, int(rng.integers(1, 1 << pb))))
            b_entries.append((b_acc + 1, name, int(rng.integers(1, 1 << pb))))
            b_acc += 2
        else:
            b_entries.append((b_acc, dom, int(rng.integers(1, 1 << pb))))
            if rng.random() < 0.2:  # a name key that collides with another A company's name
                b_entries.append((b_acc, companies[int(rng.integers(0, n_a))][1], int(rng.integers(1, 1 << pb))))
            b_acc += 1
    order_a = rng.permutation(len(a_entries))
    order_b = rng.permutation(len(b_entries))
    return [a_entries[i] for i in order_a], [b_entries[i] for i in order_b], n_a, b_acc


@pytest.mark.parametrize("seed", range(5))
def test_random_instances_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    a_entries, b_entries, n_a, n_b = _random_instance(rng, 400, 300, 3, 4, shared=150)
    got = check(a_entries, b_entries, n_a, n_b, 3, 4)
    assert got.overlap > 0


def test_one_company_linking_two_accounts_counts_once():
    rng = np.random.default_rng(123)
    dom, name = rng.bytes(32), rng.bytes(32)
    a_entries = [(0, dom, CUSTOMER), (0, name, CUSTOMER)]
    b_entries = [(0, dom, CUSTOMER), (1, name, PROSPECT)]
    got = check(a_entries, b_entries, 1, 2, 1, 2)
    assert got.overlap == 1
    assert got.matrix == [[1, 1]]


@st.composite
def instances(draw):
    pa = draw(st.integers(1, 3))
    pb = draw(st.integers(1, 3))
    n_a = draw(st.integers(1, 8))
    n_b = draw(st.integers(1, 8))
    pool = draw(st.integers(1, 12))

    def entries(n, p):
        out = []
        for acc in range(n):
            for tok in draw(st.lists(st.integers(0, pool - 1), min_size=1, max_size=3)):
                out.append((acc, TOKENS[tok], draw(st.integers(1, (1 << p) - 1))))
        return draw(st.permutations(out))

    return entries(n_a, pa), entries(n_b, pb), n_a, n_b, pa, pb


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_property_matches_brute_force_and_transposes(instance):
    a_entries, b_entries, n_a, n_b, pa, pb = instance
    check(a_entries, b_entries, n_a, n_b, pa, pb)


@pytest.mark.parametrize("n", [0, 1, 2, 5_000])
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_distinct_sorted_is_the_sorted_set_of_values(n, dtype):
    from cleanroom.distinct import distinct_sorted

    values = np.random.default_rng(n).integers(0, max(n // 3, 1), n).astype(dtype)  # many repeats
    assert distinct_sorted(values).tolist() == sorted(set(values.tolist()))
