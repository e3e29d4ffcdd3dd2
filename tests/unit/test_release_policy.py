"""overlap_release(): orientation, suppression below k, grants, totals. Hand-worked numbers."""

from __future__ import annotations

import json

from cleanroom.coordinator.release_policy import overlap_release
from cleanroom.terms import parse_terms

VENDOR_POPS = ["customer", "prospect", "opportunity"]
PARTNER_POPS = ["customer", "prospect"]

# A run's stored result, rows = vendor (parties[0]) populations, columns = partner's.
#                 partner: customer  prospect
RESULT = {
    "parties": ["vendor", "partner"],
    "populations": {"vendor": VENDOR_POPS, "partner": PARTNER_POPS},
    "accounts": {"vendor": 120, "partner": 80},
    "overlap": 41,
    "matrix": [
        [12, 4],  # vendor customer
        [0, 7],  # vendor prospect
        [5, 30],  # vendor opportunity
    ],
}


def _terms(min_count=5, vendor_release=None, partner_release=None, drop=()):
    release = {
        "vendor": vendor_release or {"overlap_cells": "all", "totals": True},
        "partner": partner_release or {"overlap_cells": "all", "totals": True},
    }
    for viewer in drop:
        del release[viewer]
    raw = {
        "schema": "cleanroom.terms/v1",
        "parties": ["vendor", "partner"],
        "populations": {"vendor": VENDOR_POPS, "partner": PARTNER_POPS},
        "key_kinds": ["domain"],
        "guardrails": {"min_count": min_count, "min_set_size": 50},
        "release": release,
        "retention_seconds": 0,
    }
    return parse_terms(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode())


def _cells(release):
    return {(c["mine"], c["theirs"]): (c["count"], c["suppressed"]) for c in release["cells"]}


def test_vendor_view_hand_worked():
    release = overlap_release(_terms(), "vendor", RESULT)
    assert release["viewer"] == "vendor" and release["other"] == "partner"
    assert _cells(release) == {
        ("customer", "customer"): (12, False),
        ("customer", "prospect"): (None, True),  # 4 < 5
        ("prospect", "customer"): (None, True),  # 0 < 5: zero is suppressed too
        ("prospect", "prospect"): (7, False),
        ("opportunity", "customer"): (5, False),  # exactly k is shown
        ("opportunity", "prospect"): (30, False),
    }
    assert release["totals"] == {"mine": 120, "theirs": 80, "overlap": 41, "overlap_suppressed": False}
    assert release["min_count"] == 5


def test_partner_view_hand_worked():
    release = overlap_release(_terms(), "partner", RESULT)
    assert release["viewer"] == "partner" and release["other"] == "vendor"
    assert _cells(release) == {
        ("customer", "customer"): (12, False),
        ("customer", "prospect"): (None, True),  # matrix[1][0] == 0
        ("customer", "opportunity"): (5, False),
        ("prospect", "customer"): (None, True),  # matrix[0][1] == 4
        ("prospect", "prospect"): (7, False),
        ("prospect", "opportunity"): (30, False),
    }
    assert release["totals"] == {"mine": 80, "theirs": 120, "overlap": 41, "overlap_suppressed": False}


def test_views_are_transposes():
    terms = _terms(min_count=1)  # nothing suppressed except zeros
    vendor = _cells(overlap_release(terms, "vendor", RESULT))
    partner = _cells(overlap_release(terms, "partner", RESULT))
    assert set(vendor) == {(m, t) for m in VENDOR_POPS for t in PARTNER_POPS}
    assert {(t, m): v for (m, t), v in vendor.items()} == partner
    for i, m in enumerate(VENDOR_POPS):
        for j, t in enumerate(PARTNER_POPS):
            raw = RESULT["matrix"][i][j]
            assert vendor[(m, t)] == ((raw, False) if raw >= 1 else (None, True))


def test_cell_order_is_mine_major():
    release = overlap_release(_terms(min_count=1), "partner", RESULT)
    assert [(c["mine"], c["theirs"]) for c in release["cells"]] == [(m, t) for m in PARTNER_POPS for t in VENDOR_POPS]


def test_suppressed_cells_never_carry_a_number():
    release = overlap_release(_terms(min_count=31), "vendor", RESULT)  # everything below k
    assert all(c["count"] is None and c["suppressed"] is True for c in release["cells"])
    assert len(release["cells"]) == 6
    assert release["totals"]["overlap"] == 41  # 41 >= 31


def test_ungranted_cells_are_absent():
    terms = _terms(
        vendor_release={"overlap_cells": [["customer", "prospect"], ["opportunity", "customer"]], "totals": True},
        partner_release={"overlap_cells": [["prospect", "opportunity"]], "totals": True},
    )
    assert _cells(overlap_release(terms, "vendor", RESULT)) == {
        ("customer", "prospect"): (None, True),
        ("opportunity", "customer"): (5, False),
    }
    assert _cells(overlap_release(terms, "partner", RESULT)) == {("prospect", "opportunity"): (30, False)}


def test_viewer_without_grant_gets_no_cells_and_no_overlap():
    release = overlap_release(_terms(drop=("partner",)), "partner", RESULT)
    assert release["cells"] == []
    assert release["totals"]["overlap"] is None
    assert release["totals"]["overlap_suppressed"] is False
    # set sizes are always reported: each party learns the other's set size
    assert (release["totals"]["mine"], release["totals"]["theirs"]) == (80, 120)


def test_total_overlap_suppressed_below_k():
    result = {**RESULT, "overlap": 4}
    release = overlap_release(_terms(), "vendor", result)
    assert release["totals"]["overlap"] is None
    assert release["totals"]["overlap_suppressed"] is True
    result0 = {**RESULT, "overlap": 0}
    assert overlap_release(_terms(), "partner", result0)["totals"]["overlap"] is None


def test_totals_not_granted_is_none_not_suppressed():
    terms = _terms(vendor_release={"overlap_cells": "all", "totals": False})
    release = overlap_release(terms, "vendor", RESULT)
    assert release["totals"] == {"mine": 120, "theirs": 80, "overlap": None, "overlap_suppressed": False}
    assert len(release["cells"]) == 6  # cells still granted
    assert overlap_release(terms, "partner", RESULT)["totals"]["overlap"] == 41


def test_release_does_not_mutate_result():
    before = json.dumps(RESULT, sort_keys=True)
    overlap_release(_terms(), "vendor", RESULT)
    overlap_release(_terms(), "partner", RESULT)
    assert json.dumps(RESULT, sort_keys=True) == before
