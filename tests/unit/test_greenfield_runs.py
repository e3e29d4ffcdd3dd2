"""Greenfield and the filter-defined population's size through the coordinator's own rules, in-process.

The uploads are built here (tests/inprocess.py), as a client that does not check anything would send
them: the coordinator's check must hold on its own. Expected counts are worked out by hand below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inprocess import agree, coordinator, domains, run

SHARED = domains("shared", 30)
VENDOR = SHARED + domains("v", 40)  # 70 accounts, all customers
PARTNER = SHARED + domains("p", 50)  # 80 accounts, all customers
# The partner's icp (bit 1): shared 0..9 (the vendor has them) and p0..p24 (it does not): 35 in all.
PARTNER_MASKS = [3 if i < 10 else 1 for i in range(30)] + [3 if i < 25 else 1 for i in range(50)]


def _agreement(coord, **options):
    return agree(
        coord,
        ("customer",),
        their_populations=["customer", "icp"],
        greenfield=["icp", "customer"],
        their_filters={"icp": "[Annual Revenue] >= 1000000"},
        min_set_size=10,
        **options,
    )


def test_greenfield_released_exactly_to_the_vendor(tmp_path: Path) -> None:
    coord, _ = coordinator(tmp_path)
    agreement = _agreement(coord)
    run(coord, agreement, {"vendor": VENDOR, "partner": PARTNER}, {"partner": PARTNER_MASKS})
    release = coord.overlap("vendor", agreement["agreement_id"])
    # icp: 35 - 10 matched = 25; customer: 80 - 30 matched = 50.
    assert release["greenfield"] == [
        {"theirs": "icp", "count": 25, "suppressed": False},
        {"theirs": "customer", "count": 50, "suppressed": False},
    ]
    assert "greenfield" not in coord.overlap("partner", agreement["agreement_id"])


def test_greenfield_under_dp_is_noisy_clamped_and_costs_one_epsilon(tmp_path: Path) -> None:
    coord, _ = coordinator(tmp_path)
    agreement = _agreement(coord, dp_epsilon=1.0, dp_budget=1.0)
    run_id = run(coord, agreement, {"vendor": VENDOR, "partner": PARTNER}, {"partner": PARTNER_MASKS})
    release = coord.overlap("vendor", agreement["agreement_id"])
    assert release["dp"]["epsilon_spent"] == 1.0 and release["dp"]["budget_remaining"] == 0.0
    counts = {g["theirs"]: g["count"] for g in release["greenfield"] if not g["suppressed"]}
    assert all(0 <= n <= 80 for n in counts.values())  # clamped into what is possible
    # One draw for 1 x 2 cells + the total + 2 greenfield counts: sensitivity 5 (3 without them), scale 5 / epsilon.
    stored = json.loads(coord.store.runs.result_json(run_id) or "{}")
    assert 5.0 <= stored["dp"]["scale"] < 5.001
    assert set(stored["greenfield"]["partner"]) == {"icp", "customer"}  # only noisy numbers are stored


_PER_RUN = ("run_id", "completed_at", "released_at", "agreement_id", "audit_head", "signature", "terms_hash", "signing_key")


def _vendor_view(release: dict) -> dict:
    """What the vendor is shown, without the ids and times that differ between any two runs."""
    return {k: v for k, v in release.items() if k not in _PER_RUN}


def test_a_filter_defined_population_of_a_few_accounts_tells_the_vendor_nothing_more_than_an_empty_one(
    tmp_path: Path,
) -> None:
    # A vendor's filter singling out a few accounts (e.g. one domain) must not tell it whether the partner has
    # them: a failed run naming the population's size would (and under DP bypass the noise). The run with a
    # 3-account icp must show the vendor exactly what a run with an empty icp shows.
    few = [3 if i < 3 else 1 for i in range(80)]  # the partner's icp: 3 shared accounts, under the minimum set size 10
    views = []
    for name, masks in (("few", few), ("empty", [1] * 80)):
        coord, _ = coordinator(tmp_path / name)
        agreement = _agreement(coord)
        run_id = run(coord, agreement, {"vendor": VENDOR, "partner": PARTNER}, {"partner": masks})
        status = coord.status("vendor", agreement["agreement_id"], run_id)
        assert status["state"] == "complete" and "failure" not in status
        views.append(_vendor_view(coord.overlap("vendor", agreement["agreement_id"])))
        entries = json.dumps([dict(r) for r in coord.store.rows("SELECT details_json FROM audit_log")])
        assert "holds 3" not in entries
    assert views[0] == views[1]
    # By hand: icp is empty, so its cell (0) and its greenfield are suppressed; the customer cell beside it in the
    # vendor's one row is suppressed as its complement, and with it the customer greenfield.
    assert views[0]["greenfield"] == [
        {"theirs": "icp", "count": None, "suppressed": True},
        {"theirs": "customer", "count": None, "suppressed": True},
    ]
    assert {c["theirs"]: c["suppressed"] for c in views[0]["cells"]} == {"icp": True, "customer": True}


@pytest.mark.parametrize("has_target", [True, False])
def test_a_filter_defined_population_one_account_short_of_another_is_counted_as_empty(tmp_path: Path, has_target: bool) -> None:
    # The vendor's icp filter is "the partner's customers except the target" (e.g. `Stage = customer and
    # Website != "target.com"`): each passes the minimum size, but cell (customer, customer) minus cell
    # (customer, icp) would be 1 exactly when the partner has the target (shared0, which the vendor has).
    # A population within min_set_size - 1 accounts of another (0 included, so the answer does not depend on
    # whether the target is there) or of the whole set is counted as empty.
    partner = PARTNER if has_target else PARTNER[1:]
    masks = [1 if has_target and i == 0 else 3 for i in range(len(partner))]  # icp: every customer but the target
    coord, _ = coordinator(tmp_path)
    agreement = _agreement(coord)
    run(coord, agreement, {"vendor": VENDOR, "partner": partner}, {"partner": masks})
    release = coord.overlap("vendor", agreement["agreement_id"])
    cells = {c["theirs"]: c for c in release["cells"]}
    # icp is empty: its cell is 0, suppressed (and the customer cell beside it, as its complement).
    assert cells["icp"]["suppressed"] and cells["customer"]["suppressed"]
    greenfield = {g["theirs"]: g for g in release["greenfield"]}
    assert greenfield["icp"]["suppressed"]
    stored = json.loads(coord.store.row("SELECT body_json FROM results")["body_json"])
    assert stored["matrix"] == [[30 if has_target else 29, 0]]  # by hand: shared0..29 (less shared0), none in icp
