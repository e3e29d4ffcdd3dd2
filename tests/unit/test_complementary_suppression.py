"""Suppression survives subtraction (issue 13, finding 5): a viewer that sees the total overlap and the
shown cells cannot recover a suppressed count. The attacker here is independent of the policy's code: it
knows the populations are exclusive (each company in one population per side), so the total minus the
shown cells is exactly the sum of the hidden cells, and it tries that on every release."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from cleanroom.coordinator.release_policy import complementary_suppression, overlap_release, reveal_cells
from cleanroom.terms import parse_terms

K = 5


def _terms(mine: list[str], theirs: list[str], min_count: int = K, reveal: list[list[str]] | None = None):
    release = {"vendor": {"overlap_cells": "all", "totals": True}, "partner": {"overlap_cells": "all", "totals": True}}
    if reveal:
        release["vendor"]["reveal"] = reveal
    raw = {
        "schema": "cleanroom.terms/v1",
        "parties": ["vendor", "partner"],
        "populations": {"vendor": mine, "partner": theirs},
        "key_kinds": ["domain"],
        "guardrails": {"min_count": min_count, "min_set_size": 1},
        "release": release,
        "retention_seconds": 0,
    }
    if reveal:
        raw["share"] = {"partner": ["Owner"]}
    return parse_terms(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode())


def _result(matrix: list[list[int]], mine: list[str], theirs: list[str]) -> dict:
    total = sum(map(sum, matrix))  # exclusive populations: every company in exactly one cell
    return {
        "parties": ["vendor", "partner"],
        "populations": {"vendor": mine, "partner": theirs},
        "accounts": {"vendor": total + 100, "partner": total + 50},
        "overlap": total,
        "matrix": matrix,
    }


def _recoverable(release: dict) -> int | None:
    """What subtraction gives the attacker: the hidden cells' sum, when something is hidden and the total shown."""
    hidden = [c for c in release["cells"] if c["suppressed"]]
    if not hidden or release["totals"]["overlap_suppressed"]:
        return None
    return release["totals"]["overlap"] - sum(c["count"] for c in release["cells"] if not c["suppressed"])


def test_the_reported_case_no_longer_gives_the_hidden_cell_away():
    """'< 5', 40 and a total of 43 told the viewer the hidden cell was 3."""
    mine, theirs = ["customer"], ["customer", "prospect"]
    release = overlap_release(_terms(mine, theirs), "vendor", _result([[3, 40]], mine, theirs))
    assert [c["count"] for c in release["cells"]] == [None, None]  # 40 hides as the complement
    assert release["totals"]["overlap"] == 43
    assert _recoverable(release) == 43  # all the attacker learns: the two cells add up to 43


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_no_release_lets_subtraction_recover_a_count_below_k(rows: int, cols: int, data):
    mine, theirs = [f"m{i}" for i in range(rows)], [f"t{j}" for j in range(cols)]
    matrix = [[data.draw(st.integers(0, 30)) for _ in range(cols)] for _ in range(rows)]
    result = _result(matrix, mine, theirs)
    for viewer in ("vendor", "partner"):
        release = overlap_release(_terms(mine, theirs), viewer, result)
        truth = {
            (c["mine"], c["theirs"]): (
                matrix[mine.index(c["mine"])][theirs.index(c["theirs"])]
                if viewer == "vendor"
                else matrix[mine.index(c["theirs"])][theirs.index(c["mine"])]
            )
            for c in release["cells"]
        }
        for c in release["cells"]:
            if c["suppressed"]:
                assert c["count"] is None
            else:
                assert c["count"] == truth[(c["mine"], c["theirs"])] >= K
        recovered = _recoverable(release)
        assert recovered is None or not 0 <= recovered < K, (matrix, viewer, release)
        if not release["totals"]["overlap_suppressed"]:
            assert release["totals"]["overlap"] == result["overlap"]
        # nothing is hidden that needs no hiding: with no small cell, every cell and the total show
        if all(v >= K for row in matrix for v in row):
            assert not any(c["suppressed"] for c in release["cells"]) and not release["totals"]["overlap_suppressed"]


def test_overlapping_populations_leave_cells_shown_when_subtraction_says_nothing():
    """Companies in several populations: the cells add up to more than the total, so the residual is
    negative and gives no suppressed count away; nothing beyond the small cell is hidden."""
    assert complementary_suppression([12, 4, 7, 30], total=41, min_count=K) == ({1}, False)


def test_complements_are_the_smallest_shown_cells_and_only_as_many_as_needed():
    # 3 is hidden; 100 - (6 + 40 + 51) = 3 would give it back; hiding 6 leaves 9 >= 5: 40 and 51 stay
    assert complementary_suppression([3, 6, 40, 51], total=100, min_count=K) == ({0, 1}, False)
    # a total below k is suppressed whatever the cells
    assert complementary_suppression([2, 1], total=3, min_count=K) == ({0, 1}, True)
    # no total granted: nothing to subtract from
    assert complementary_suppression([3, 40], total=None, min_count=K) == ({0}, False)


def test_a_pair_suppressed_as_a_complement_reveals_no_account():
    mine, theirs = ["customer", "prospect"], ["customer"]
    terms = _terms(mine, theirs, reveal=[["customer", "customer"], ["prospect", "customer"]])
    result = _result([[3], [40]], mine, theirs)
    cells = {(c["mine"], c["theirs"]): c["suppressed"] for c in reveal_cells(terms, "vendor", result)}
    assert cells == {("customer", "customer"): True, ("prospect", "customer"): True}
    overlap = overlap_release(terms, "vendor", result)
    assert {(c["mine"], c["theirs"]): c["suppressed"] for c in overlap["cells"]} == cells
