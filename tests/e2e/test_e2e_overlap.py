"""End to end: a coordinator and two clients as separate processes over mTLS gRPC.

Ground truth comes from the generator (which never uses the normaliser), and
every released cell is checked against it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client, client_background, client_json, finish
from cleanroom.demo.run import POPULATIONS, check_view

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict:
    """Generated Salesforce/HubSpot exports with a known overlap (shared by the tests here)."""
    out = tmp_path_factory.mktemp("data")
    proc = subprocess.run(
        [
            *CLIENT,
            "synth",
            "--out",
            str(out),
            "--vendor-accounts",
            "3000",
            "--partner-accounts",
            "2500",
            "--overlap",
            "900",
            "--seed",
            "11",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    paths = json.loads(proc.stdout)
    paths["truth"] = json.loads(Path(paths["ground_truth"]).read_text())
    return paths


def _agree(parties: dict[str, Path]) -> str:
    agreement = client_json(
        parties["vendor"], "agreement", "propose", "--with", "partner", "--populations", ",".join(POPULATIONS)
    )
    approved = client_json(parties["partner"], "agreement", "approve", agreement["agreement_id"])
    assert approved["state"] == "active" and approved["terms_hash"] == agreement["terms_hash"]
    return agreement["agreement_id"]


def _assert_truth(views: dict[str, dict], truth: dict) -> None:
    assert check_view(views["vendor"], truth, True) == []
    assert check_view(views["partner"], truth, False) == []
    # Same numbers on both sides: the partner's view is the vendor's transposed.
    vendor = {(c["mine"], c["theirs"]): c["count"] for c in views["vendor"]["cells"]}
    partner = {(c["theirs"], c["mine"]): c["count"] for c in views["partner"]["cells"]}
    assert vendor == partner
    assert len(vendor) == len(POPULATIONS) ** 2


def test_both_sides_at_once_match_ground_truth(parties, dataset):
    agreement_id = _agree(parties)
    procs = {
        name: client_background(parties[name], "map", agreement_id, dataset[name], "--wait", "120", "--json")
        for name in ("vendor", "partner")
    }
    views = {name: json.loads(finish(p)) for name, p in procs.items()}
    _assert_truth(views, dataset["truth"])
    # Asking again returns the stored release: the very same numbers.
    again = client_json(parties["vendor"], "overlap", agreement_id)
    assert again["cells"] == views["vendor"]["cells"] and again["run_id"] == views["vendor"]["run_id"]


def test_sides_at_different_times(parties, dataset):
    agreement_id = _agree(parties)
    first = client(parties["vendor"], "map", agreement_id, dataset["vendor"], "--wait", "0")
    assert "waiting for partner's upload" in first.stdout
    early = client(parties["vendor"], "overlap", agreement_id, check=False)
    assert early.returncode == 2 and "no complete run yet" in early.stderr
    # The partner comes later; the vendor is offline, so the run waits for its re-blinding.
    second = client_json(parties["partner"], "map", agreement_id, dataset["partner"], "--wait", "1")
    assert second["state"] == "collecting" and second["waiting_for"] == ["vendor's re-blinding of your points"]
    synced = client_json(parties["vendor"], "sync", agreement_id)
    assert synced["agreements"][0]["state"] == "complete"
    views = {name: client_json(parties[name], "overlap", agreement_id) for name in ("vendor", "partner")}
    _assert_truth(views, dataset["truth"])


def test_client_killed_mid_upload_resumes_without_loss(coordinator, parties, dataset):
    agreement_id = _agree(parties)
    # The vendor's process dies (os._exit, no cleanup) after sending 2 of its ~6 chunks.
    env = {**os.environ, "CLEANROOM_FAULT_EXIT_AFTER_CHUNKS": "2"}
    map_vendor = ["map", agreement_id, dataset["vendor"], "--chunk-points", "500"]
    killed = subprocess.run(
        [*CLIENT, "--profile", str(parties["vendor"]), *map_vendor, "--wait", "0"], capture_output=True, text=True, env=env
    )
    assert killed.returncode == 137
    status = client_json(parties["partner"], "sync", agreement_id)["agreements"][0]
    assert "vendor's upload" in status["waiting_for"]  # never committed
    procs = {
        "vendor": client_background(parties["vendor"], *map_vendor, "--wait", "120", "--json"),
        "partner": client_background(parties["partner"], "map", agreement_id, dataset["partner"], "--wait", "120", "--json"),
    }
    views = {name: json.loads(finish(p)) for name, p in procs.items()}
    _assert_truth(views, dataset["truth"])


def test_coordinator_restarted_mid_run_resumes(coordinator: LocalCoordinator, parties, dataset):
    agreement_id = _agree(parties)
    client(parties["vendor"], "map", agreement_id, dataset["vendor"], "--wait", "0")
    coordinator.stop(kill=True)  # SIGKILL: no graceful shutdown, no checkpoint
    coordinator.start()
    partner = client_background(parties["partner"], "map", agreement_id, dataset["partner"], "--wait", "120", "--json")
    vendor_sync = client_json(parties["vendor"], "map", agreement_id, dataset["vendor"], "--wait", "120")
    views = {"vendor": vendor_sync, "partner": json.loads(finish(partner))}
    _assert_truth(views, dataset["truth"])


def test_a_release_altered_in_the_store_is_refused_not_shown(coordinator: LocalCoordinator, parties, dataset):
    """Issue 13, finding 7: a release edited in the store was printed by `overlap` with exit 0. Now every
    command checks the coordinator's signature before it shows a number, and the edited one is refused."""
    import duckdb

    agreement_id = _agree(parties)
    partner = client_background(parties["partner"], "map", agreement_id, dataset["partner"], "--wait", "120", "--json")
    honest = client_json(parties["vendor"], "map", agreement_id, dataset["vendor"], "--wait", "120")
    finish(partner)
    cell = next(c for c in honest["cells"] if not c["suppressed"])
    coordinator.stop()
    with duckdb.connect(str(coordinator.data_dir / "coordinator.duckdb")) as con:  # the operator edits one count
        body = json.loads(
            con.execute("SELECT body_json FROM releases WHERE viewer = 'vendor' AND kind = 'overlap'").fetchone()[0]
        )
        edited = next(c for c in body["cells"] if (c["mine"], c["theirs"]) == (cell["mine"], cell["theirs"]))
        edited["count"] += 100
        con.execute("UPDATE releases SET body_json = ? WHERE viewer = 'vendor' AND kind = 'overlap'", [json.dumps(body)])
    keys = {party: coordinator.add_api_key(party, "analyst") for party in ("vendor", "partner")}
    coordinator.http = True
    coordinator.start()
    shown = client(parties["vendor"], "overlap", agreement_id, "--json", check=False)
    assert shown.returncode != 0
    assert "does not verify against the coordinator's signing key" in shown.stderr
    assert str(cell["count"] + 100) not in shown.stdout
    # the partner's release was not touched: it still shows, checked
    assert client_json(parties["partner"], "overlap", agreement_id)["cells"]
    # REST checks it too: the edited release is refused by name, never served as valid; the other still is
    import httpx

    def rest(party: str) -> httpx.Response:
        url = f"{coordinator.http_url}/v1/agreements/{agreement_id}/overlap"
        return httpx.get(url, headers={"Authorization": f"Bearer {keys[party]}"}, timeout=10)

    refused = rest("vendor")
    assert refused.status_code == 500 and refused.json()["error"]["code"] == "DATA_LOSS"
    assert "fails its signature check" in refused.json()["error"]["message"]
    assert str(cell["count"] + 100) not in refused.text
    assert rest("partner").status_code == 200
