"""Greenfield and population sizes at the coordinator: hand-worked counts, suppression, terms, noise.

Every expected number is worked out by hand in the comments, never taken from the code under test.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from cleanroom.coordinator.noise import privatise, scale_for, sensitivity
from cleanroom.coordinator.population_counts import (
    close_to_another,
    population_sizes,
    too_small_populations,
    unmatched_sizes,
)
from cleanroom.coordinator.release_policy import overlap_release
from cleanroom.errors import InvalidArgument
from cleanroom.terms import Terms, build_terms, canonical_json, parse_terms


def _terms(min_count: int = 5, vendor_release: dict[str, Any] | None = None, **extra: Any) -> Terms:
    raw: dict[str, Any] = {
        "schema": "cleanroom.terms/v1",
        "parties": ["vendor", "partner"],
        "populations": {"vendor": ["customer", "prospect"], "partner": ["customer", "icp"]},
        "key_kinds": ["domain"],
        "guardrails": {"min_count": min_count, "min_set_size": 20},
        "release": {
            "vendor": vendor_release or {"overlap_cells": "all", "totals": True, "greenfield": ["icp", "customer"]},
            "partner": {"overlap_cells": "all", "totals": True},
        },
        "retention_seconds": 0,
        "population_filters": {"partner": {"icp": "[Annual Revenue] >= 1000000"}},
        **extra,
    }
    return parse_terms(canonical_json(raw))


# Partner masks by label (bit 0 customer, bit 1 icp):  label 0: 0b01, 1: 0b11, 2: 0b10, 3: 0b10, 4: 0b11, 5: 0b01
PARTNER_MASKS = np.array([1, 3, 2, 2, 3, 1], dtype=np.uint16)
# Matched partner labels 1 and 2 (label 1 twice: two vendor accounts share its company).
MATCHED = np.array([1, 2, 1])


def test_sizes_and_unmatched_by_hand() -> None:
    assert population_sizes(PARTNER_MASKS, 2) == [4, 4]  # customer: 0, 1, 4, 5; icp: 1, 2, 3, 4
    # Unmatched labels 0, 3, 4, 5 -> customer: 0, 4, 5 = 3; icp: 3, 4 = 2.
    assert unmatched_sizes(PARTNER_MASKS, MATCHED, 2) == [3, 2]


def _result(greenfield: dict[str, int], matrix: list[list[int]] | None = None, overlap: int = 40) -> dict[str, Any]:
    return {
        "parties": ["vendor", "partner"],
        "accounts": {"vendor": 100, "partner": 90},
        "overlap": overlap,
        "matrix": matrix or [[12, 9], [20, 15]],
        "greenfield": {"partner": greenfield},
    }


def test_greenfield_is_released_to_the_granted_viewer_only_with_min_count() -> None:
    terms = _terms()
    release = overlap_release(terms, "vendor", _result({"icp": 33, "customer": 4}))
    assert release["greenfield"] == [
        {"theirs": "icp", "count": 33, "suppressed": False},
        {"theirs": "customer", "count": None, "suppressed": True},  # 4 < 5
    ]
    assert "greenfield" not in overlap_release(terms, "partner", _result({"icp": 33, "customer": 4}))


def test_greenfield_is_suppressed_with_a_suppressed_cell_of_its_column_or_the_total() -> None:
    # Vendor (customer, icp) = 3 < 5 is suppressed; icp's greenfield would rebuild it from the partner's set size.
    release = overlap_release(_terms(), "vendor", _result({"icp": 33, "customer": 30}, matrix=[[12, 3], [20, 15]]))
    assert release["greenfield"] == [
        {"theirs": "icp", "count": None, "suppressed": True},
        {"theirs": "customer", "count": 30, "suppressed": False},
    ]
    # A total below the minimum hides every greenfield count (and every cell).
    low = overlap_release(_terms(), "vendor", _result({"icp": 33, "customer": 30}, matrix=[[1, 0], [0, 1]], overlap=2))
    assert all(g["suppressed"] for g in low["greenfield"])


def test_terms_check_grants_and_filters() -> None:
    built = build_terms(
        "vendor",
        "partner",
        ["customer"],
        ["customer", "icp"],
        greenfield=["icp"],
        their_filters={"icp": "Employees >= 1000"},
    )
    assert built["population_filters"] == {"partner": {"icp": "Employees >= 1000"}}
    assert built["release"]["vendor"]["greenfield"] == ["icp"]
    with pytest.raises(InvalidArgument, match="greenfield of vendor must list populations of partner"):
        build_terms("vendor", "partner", ["customer"], ["customer"], greenfield=["icp"])
    with pytest.raises(InvalidArgument, match="'icp' is not one of its populations"):
        build_terms("vendor", "partner", ["customer"], ["customer"], their_filters={"icp": "a = 1"})
    with pytest.raises(InvalidArgument, match="population 'icp': position 12"):
        build_terms("vendor", "partner", ["customer"], ["customer", "icp"], their_filters={"icp": "Employees >"})
    with pytest.raises(InvalidArgument, match="needs its grant of every overlap cell and the totals"):
        _terms(vendor_release={"overlap_cells": [["customer", "icp"]], "totals": True, "greenfield": ["icp"]})
    with pytest.raises(InvalidArgument, match="not available on continuous agreements"):
        _terms(continuous={"epoch_seconds": 86400})


def test_filter_defined_populations_are_refused_on_continuous_agreements() -> None:
    # The coordinator's guardrails on them (too small, too close to another: population_counts.py) run at a
    # one-off run's completion only; a continuous agreement's runs would release their cells unchecked.
    with pytest.raises(InvalidArgument, match="population_filters are not available on continuous agreements"):
        _terms(vendor_release={"overlap_cells": "all", "totals": True}, continuous={"epoch_seconds": 86400})


def test_population_size_guardrail() -> None:
    terms = _terms()
    # The vendor's populations are its own (stage or custom: the coordinator cannot tell): not checked here.
    assert too_small_populations(terms, "vendor", [1, 2]) == 0
    # The partner's icp (bit 1) is defined by the vendor's filter: under the minimum set size (20) it counts as empty.
    assert too_small_populations(terms, "partner", [50, 19]) == 0b10
    assert too_small_populations(terms, "partner", [1, 1]) == 0b10
    assert too_small_populations(terms, "partner", [1, 20]) == 0
    assert too_small_populations(terms, "partner", [1, 0]) == 0  # empty: tells nothing


def test_a_filter_defined_population_close_to_another_or_to_the_whole_set() -> None:
    terms = _terms()  # partner: customer (bit 0), icp (bit 1, the vendor's filter); min_set_size 20
    # 40 customers only, 40 icp only: icp differs from customer by 80, from the whole set (80) by 40.
    assert close_to_another(terms, "partner", np.array([1] * 40 + [2] * 40, dtype=np.uint16)) == 0
    # icp = every account but one (59 of 60): it differs from the whole set by 1.
    both = np.array([3] * 59 + [1], dtype=np.uint16)
    assert close_to_another(terms, "partner", both) == 0b10
    # icp = customer minus one, inside a larger set: differs from customer by 1.
    bigger = np.array([3] * 59 + [1] + [0] * 40, dtype=np.uint16)
    assert close_to_another(terms, "partner", bigger) == 0b10
    # icp equal to customer (difference 0) counts as close too; an empty icp is left alone.
    assert close_to_another(terms, "partner", np.array([3] * 60 + [0] * 40, dtype=np.uint16)) == 0b10
    assert close_to_another(terms, "partner", np.array([1] * 60 + [0] * 40, dtype=np.uint16)) == 0
    # The vendor's own populations are not filter-defined: never touched.
    assert close_to_another(terms, "vendor", np.array([3] * 60, dtype=np.uint16)) == 0


def test_greenfield_noise_is_one_draw_scaled_for_the_added_sensitivity() -> None:
    # 2 x 2 cells + the total = 5 (noise.sensitivity), plus 2 greenfield counts -> 7.
    private = privatise([[12, 9], [20, 15]], 40, 1.0, 100, 90, extra=(33, 30))
    assert sensitivity(2, 2) == 5
    assert private["scale"] == scale_for(1.0, 7) and private["scale"] >= 7.0
    assert len(private["extra"]) == 2
    assert privatise([[12, 9], [20, 15]], 40, 1.0, 100, 90)["scale"] == scale_for(1.0, 5)


def test_terms_json_round_trip() -> None:
    raw = build_terms("vendor", "partner", ["customer"], ["customer", "icp"], greenfield=["icp"], their_filters={"icp": "x = 1"})
    assert json.loads(canonical_json(raw)) == raw
    assert parse_terms(canonical_json(raw)).greenfield_granted("vendor") == ("icp",)
