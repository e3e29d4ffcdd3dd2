"""A population the other party defines by a filter, evaluated by our client on our own rows.

If it holds a few accounts (1 .. minimum set size - 1), refusing to map would leave the run waiting for
our upload, and the filter's author would read from that stall that we have those few accounts (a filter
``Website = "target.com"``). It is mapped as empty instead, which tells the author what an empty one does.
Our own ``--population`` stays refused when small: only we see that refusal.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from cleanroom.errors import FilterError
from cleanroom.terms import Terms, canonical_json, parse_terms
from cleanroom_client.inputs.accounts import load_accounts
from cleanroom_client.inputs.custom_populations import for_agreement, parse_options, with_populations

ROWS = 30
TARGET = "target7.com"


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "partner.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Website", "Stage", "Employees"])
        for i in range(ROWS):
            out.writerow([f"target{i}.com", "customer", 10 * i])
    return path


def _terms(icp: str) -> Terms:
    raw: dict[str, Any] = {
        "schema": "cleanroom.terms/v1",
        "parties": ["vendor", "partner"],
        "populations": {"vendor": ["customer"], "partner": ["customer", "icp"]},
        "key_kinds": ["domain"],
        "guardrails": {"min_count": 5, "min_set_size": 10},
        "release": {
            "vendor": {"overlap_cells": "all", "totals": True, "greenfield": ["icp"]},
            "partner": {"overlap_cells": "all", "totals": True},
        },
        "retention_seconds": 0,
        "population_filters": {"partner": {"icp": icp}},
    }
    return parse_terms(canonical_json(raw))


def _in_icp(path: Path, icp: str) -> set[str]:
    loaded = for_agreement(load_accounts(path, default_population="customer"), _terms(icp), "partner", "agr_test")
    return {a.domain for a in loaded.accounts if "icp" in a.populations}


def test_the_other_partys_filter_matching_one_account_is_mapped_as_empty(tmp_path: Path) -> None:
    path = _file(tmp_path)
    # Ground truth from the file as written: Employees = 10 * i, so >= 150 holds rows 15..29 (15 accounts).
    assert _in_icp(path, "Employees >= 150") == {f"target{i}.com" for i in range(15, ROWS)}
    # One account (and three): below the minimum set size of 10, mapped exactly as a filter matching nothing.
    assert _in_icp(path, f'Website = "{TARGET}"') == set()
    assert _in_icp(path, "Employees >= 270") == set() == _in_icp(path, "Employees >= 100000")


def test_our_own_small_population_is_still_refused(tmp_path: Path) -> None:
    path = _file(tmp_path)
    terms = _terms("Employees >= 150")
    mine = parse_options([f'mine=Website = "{TARGET}"'])
    loaded = with_populations(load_accounts(path, default_population="customer"), mine)
    raw = dict(terms.raw)
    raw["populations"] = {"vendor": ["customer"], "partner": ["customer", "icp", "mine"]}
    with pytest.raises(FilterError, match="population 'mine' holds 1 account"):
        for_agreement(loaded, parse_terms(canonical_json(raw)), "partner", "agr_test")
