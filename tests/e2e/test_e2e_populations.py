"""End to end: custom populations and greenfield sizing, over real coordinator and client processes.

Ground truth: which company each generated row belongs to, and whether it has a usable key and a mapped
stage, comes from the generator's plan (its own bookkeeping, never the client's normaliser); which rows
pass a filter is computed here by DuckDB SQL over the CSV files as written, a second evaluator of the
same condition that shares no code with cleanroom.popfilter.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from cleanroom.demo.localrun import LocalCoordinator, client, client_background, client_json, finish
from cleanroom.demo.synth import POPULATIONS, UNMAPPED, _Pair, write_pair

from store_scan import stored_bytes

pytestmark = pytest.mark.e2e

SIZES = {"vendor_accounts": 3000, "partner_accounts": 2500, "overlap": 900, "seed": 23}
# The vendor's own population: only its name travels.
BIG = 'big=Industry in (Software, "Financial Services") and [annual revenue] >= 40000000'
BIG_SQL = "Industry IN ('Software', 'Financial Services') AND TRY_CAST(\"Annual Revenue\" AS BIGINT) >= 40000000"
# The vendor's ideal customer profile, evaluated on the partner's machine: part of the terms.
ICP = "icp=[Annual Revenue] >= 30000000 and [Lifecycle Stage] != lead"
ICP_SQL = 'TRY_CAST("Annual Revenue" AS BIGINT) >= 30000000 AND lower(trim("Lifecycle Stage")) <> \'lead\''


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("populations")
    coord = LocalCoordinator(root / "coordinator").init().start()
    try:
        parties = {name: coord.add_party(name, root / name) for name in ("vendor", "partner")}
        files = write_pair(root / "data", **SIZES)
        yield coord, parties, files, _Pair(SIZES["vendor_accounts"], SIZES["partner_accounts"], SIZES["overlap"], SIZES["seed"])
    finally:
        coord.stop()


def _members(path: str, plan: list[int], condition: str) -> set[int]:
    """Companies with an account (a row with a usable key and a mapped stage) having such a row passing ``condition``."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(plan)
    table = {column: [r[column] for r in rows] for column in rows[0]}
    table["_company"] = [e >> 3 for e in plan]
    table["_account_row"] = [not (e & 1) and (e >> 1) & 3 != UNMAPPED for e in plan]
    con = duckdb.connect()
    con.register("rows", pa.table(table))
    found = con.execute(f"SELECT DISTINCT _company FROM rows WHERE _account_row AND ({condition})").fetchall()
    con.close()
    return {c for (c,) in found}


def _agree(parties: dict[str, Path], *options: str) -> str:
    proposed = client_json(parties["vendor"], "agreement", "propose", "--with", "partner", *options)
    client_json(parties["partner"], "agreement", "approve", proposed["agreement_id"])
    return str(proposed["agreement_id"])


def _map_both(parties: dict[str, Path], agreement_id: str, files: dict[str, str], vendor_extra: tuple[str, ...] = ()) -> dict:
    partner = client_background(parties["partner"], "map", agreement_id, files["partner"], "--wait", "180", "--json")
    vendor = client_json(parties["vendor"], "map", agreement_id, files["vendor"], *vendor_extra, "--wait", "180")
    finish(partner)
    return dict(vendor)


def _expect(count: int, min_count: int = 5) -> dict[str, Any]:
    return {"count": None, "suppressed": True} if count < min_count else {"count": count, "suppressed": False}


def test_a_custom_population_maps_to_ground_truth_and_its_filter_stays_local(world: Any) -> None:
    coord, parties, files, pair = world
    vendor_masks, partner_masks = pair.masks
    big = _members(files["vendor"], pair.vendor_plan, BIG_SQL)
    assert 60 < len(big) < 1000  # the filter selects a real share of the vendor's accounts

    preview = client_json(parties["vendor"], "inspect", files["vendor"], "--population", BIG)
    assert preview["custom_populations"] == [{"population": "big", "filter": BIG.split("=", 1)[1], "accounts": len(big)}]

    agreement_id = _agree(parties, "--populations", "customer,big", "--their-populations", ",".join(POPULATIONS))
    view = _map_both(parties, agreement_id, files, ("--population", BIG))

    customer = {c for c, m in enumerate(vendor_masks) if m & 1}
    for cell in view["cells"]:
        j = POPULATIONS.index(cell["theirs"])
        mine = customer if cell["mine"] == "customer" else big
        truth = sum(1 for c in mine if partner_masks[c] >> j & 1)
        assert {k: cell[k] for k in ("count", "suppressed")} == _expect(truth), cell
    assert view["totals"]["mine"] == len(customer | big)
    assert view["totals"]["overlap"] == sum(1 for c in customer | big if partner_masks[c])
    # Only the name travelled: nothing of the filter is in the coordinator's store.
    coord.stop()  # the store is the coordinator's while it serves
    try:
        haystack = stored_bytes(coord.data_dir)
    finally:
        coord.start()
    assert b"big" in haystack and b"40000000" not in haystack and b"Financial Services" not in haystack


def test_greenfield_counts_the_partners_icp_accounts_the_vendor_lacks(world: Any) -> None:
    _, parties, files, pair = world
    vendor_masks, partner_masks = pair.masks
    icp = _members(files["partner"], pair.partner_plan, ICP_SQL)
    agreement_id = _agree(
        parties, "--populations", ",".join(POPULATIONS), "--their-population", ICP, "--greenfield", "icp,customer"
    )
    # The partner sees the exact filter that will run on its rows before it approves (it did, in _agree).
    shown = client_json(parties["partner"], "agreement", "show", agreement_id)
    assert shown["terms"]["population_filters"] == {"partner": {"icp": ICP.split("=", 1)[1]}}
    assert shown["terms"]["populations"]["partner"] == [*POPULATIONS, "icp"]

    view = _map_both(parties, agreement_id, files)
    lacking_icp = sum(1 for c in icp if not vendor_masks[c])
    lacking_customers = sum(1 for c, m in enumerate(partner_masks) if m & 1 and not vendor_masks[c])
    assert lacking_icp >= 5 and lacking_customers >= 5
    by_population = {g["theirs"]: {k: g[k] for k in ("count", "suppressed")} for g in view["greenfield"]}
    assert by_population == {"icp": _expect(lacking_icp), "customer": _expect(lacking_customers)}
    # The overlap cells on the ICP population: the partner's ICP accounts the vendor has, per vendor population.
    for cell in (c for c in view["cells"] if c["theirs"] == "icp"):
        i = POPULATIONS.index(cell["mine"])
        assert {k: cell[k] for k in ("count", "suppressed")} == _expect(sum(1 for c in icp if vendor_masks[c] >> i & 1))
    # The same figures in the table, and the partner is shown no greenfield (none granted to it).
    table = client(parties["vendor"], "overlap", agreement_id).stdout
    assert "Greenfield" in table and f"{lacking_icp:,}" in table
    assert "greenfield" not in client_json(parties["partner"], "overlap", agreement_id)


def test_bad_filters_are_refused_before_anything_is_sent(world: Any) -> None:
    _, parties, files, _ = world
    # The vendor's ICP names a column the partner's file lacks: the partner's map stops, naming both.
    agreement_id = _agree(parties, "--populations", "customer", "--their-population", "icp=Employees >= 1000")
    refused = client(parties["partner"], "map", agreement_id, files["partner"], "--wait", "0", check=False)
    assert refused.returncode != 0
    assert "population 'icp': position 1: column 'Employees' is not in the file" in refused.stderr
    status = client_json(parties["partner"], "sync", agreement_id)["agreements"][0]
    assert status["state"] == "none" or "partner's upload" in status["waiting_for"]
    # A type mismatch and a parse error, on the vendor's own population: one line each, before any read.
    mismatch = client(parties["vendor"], "inspect", files["vendor"], "--population", "x=Industry >= 5", check=False)
    assert mismatch.returncode != 0 and "population 'x': column 'Industry' is compared with a number" in mismatch.stderr
    broken = client(parties["vendor"], "inspect", files["vendor"], "--population", "x=Industry in (Software", check=False)
    assert broken.returncode != 0 and "population 'x': position 22: expected ',' or ')'" in broken.stderr
    # A population of a handful of accounts is not mappable (the minimum set size, 50 by default, applies to it).
    tiny = "tiny=Industry = Software and [Annual Revenue] >= 99000000"
    agreement_id = _agree(parties, "--populations", "customer,tiny", "--their-populations", "customer")
    small = client(parties["vendor"], "map", agreement_id, files["vendor"], "--population", tiny, "--wait", "0", check=False)
    assert (
        small.returncode != 0 and "population 'tiny' holds" in small.stderr and "below the minimum set size of 50" in small.stderr
    )


def test_map_all_evaluates_each_agreements_filters_and_fails_only_the_one_that_cannot_run(world: Any) -> None:
    coord, _, files, pair = world
    root = coord.data_dir.parent
    parties = {"vendor": coord.add_party("vendor2", root / "vendor2"), "partner": coord.add_party("partner2", root / "partner2")}

    def agree(*options: str) -> str:
        proposed = client_json(parties["vendor"], "agreement", "propose", "--with", "partner2", *options)
        client_json(parties["partner"], "agreement", "approve", proposed["agreement_id"])
        return str(proposed["agreement_id"])

    good = agree("--populations", ",".join(POPULATIONS), "--their-population", ICP, "--greenfield", "icp")
    bad = agree("--populations", "customer", "--their-population", "icp=Employees >= 1000")
    partner = client_background(parties["partner"], "map", "--all", files["partner"], "--wait", "180", "--json")
    vendor = client_json(parties["vendor"], "map", good, files["vendor"], "--wait", "180")
    outcomes = {o["agreement_id"]: o for o in json.loads(finish_allowing_failure(partner))["agreements"]}
    assert outcomes[bad]["state"] == "failed" and "column 'Employees' is not in the file" in outcomes[bad]["reason"]
    assert outcomes[good]["state"] == "complete"
    vendor_masks, _ = pair.masks
    lacking_icp = sum(1 for c in _members(files["partner"], pair.partner_plan, ICP_SQL) if not vendor_masks[c])
    assert vendor["greenfield"] == [{"theirs": "icp", **_expect(lacking_icp)}]


def finish_allowing_failure(proc: Any) -> str:
    """``map --all`` exits 1 when any agreement failed: its JSON summary is the output either way."""
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode in (0, 1), stderr
    return str(stdout)
