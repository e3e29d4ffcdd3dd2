"""End to end on a real two-node Ray cluster on loopback (one CPU per node): ``--engine ray`` gives the very
same uploads and release as the local pool, survives a worker killed mid-run, and a Ray address that does
not answer stops the client before anything is read or sent.

Ground truth comes from the generator; "the very same" is the clients' own receipts: the digest of every
upload (ours, and our re-blinding of the partner's points) under Ray equals the local engine's, byte for byte.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cleanroom.attribution import AttributionConfig
from cleanroom.demo.attribution import check_attribution
from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client, client_background, client_json, finish
from cleanroom.demo.raycluster import RayCluster, free_port
from cleanroom.demo.run import POPULATIONS, check_view

pytest.importorskip("ray", reason="the Ray tests need the ray extra (pip install 'cleanroom[ray]')")


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes of one CPU each, stopped by process id after the module, even when a test failed."""
    ray = RayCluster((1, 1))
    try:
        yield ray.start()
    finally:
        ray.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A serving coordinator with a vendor and a partner enrolled."""
    root = tmp_path_factory.mktemp("ray-world")
    coord = LocalCoordinator(root / "coordinator").init().start()
    try:
        yield coord, {name: coord.add_party(name, root / name) for name in ("vendor", "partner")}
    finally:
        coord.stop()


def _synth(out: Path, vendor: int, partner: int, overlap: int) -> dict:
    args = ["synth", "--out", str(out), "--vendor-accounts", str(vendor), "--partner-accounts", str(partner)]
    proc = subprocess.run(
        [*CLIENT, *args, "--overlap", str(overlap), "--seed", "5", "--json"], capture_output=True, text=True, check=True
    )
    paths = json.loads(proc.stdout)
    paths["truth"] = json.loads(Path(paths["ground_truth"]).read_text())
    return paths


def _agree(parties: dict[str, Path]) -> str:
    propose = ["agreement", "propose", "--with", "partner", "--populations", ",".join(POPULATIONS)]
    agreement_id = client_json(parties["vendor"], *propose)["agreement_id"]
    client_json(parties["partner"], "agreement", "approve", agreement_id)
    return agreement_id


def _map_both(parties: dict[str, Path], agreement_id: str, data: dict, engine: list[str]) -> dict[str, dict]:
    procs = {
        name: client_background(parties[name], "map", agreement_id, data[name], "--wait", "300", "--json", *engine)
        for name in ("vendor", "partner")
    }
    return {name: json.loads(finish(p)) for name, p in procs.items()}


def _assert_truth(views: dict[str, dict], truth: dict) -> None:
    assert check_view(views["vendor"], truth, True) == []
    assert check_view(views["partner"], truth, False) == []


def _uploads(profile: Path, run_id: str) -> list[tuple[str, int, str]]:
    """What this client sent in one run, from its receipts: (kind, points, digest), in a stable order."""
    entries = client_json(profile, "receipts")["receipts"]
    sent = [e["receipt"] for e in entries if e["type"] == "upload" and e["receipt"]["run_id"] == run_id]
    return sorted((str(r.get("kind", "")), int(r["total_points"]), r["upload_digest"]) for r in sent)


def test_ray_gives_the_local_engines_uploads_and_release(cluster: RayCluster, world, tmp_path):
    _, parties = world
    data = _synth(tmp_path / "data", 3000, 2500, 900)
    agreement_id = _agree(parties)
    local = _map_both(parties, agreement_id, data, [])
    _assert_truth(local, data["truth"])
    # The same files under the same agreement (same secrets): a new run, every hash and multiplication on Ray.
    ray = _map_both(parties, agreement_id, data, ["--engine", "ray", "--ray-address", cluster.address])
    _assert_truth(ray, data["truth"])
    assert ray["vendor"]["run_id"] != local["vendor"]["run_id"]
    assert ray["vendor"]["cells"] == local["vendor"]["cells"] and ray["partner"]["cells"] == local["partner"]["cells"]
    for name in ("vendor", "partner"):
        by_ray, by_pool = _uploads(parties[name], ray[name]["run_id"]), _uploads(parties[name], local[name]["run_id"])
        assert len(by_ray) == 2 and by_ray == by_pool  # our points and our re-blinding of the partner's, byte for byte


def test_a_worker_killed_mid_run_is_retried_and_nothing_is_double_counted(cluster: RayCluster, world, tmp_path):
    _, parties = world
    # Big enough that hashing takes seconds per node, so a task is running when we look for it.
    data = _synth(tmp_path / "data", 40_000, 20_000, 7_000)
    agreement_id = _agree(parties)
    engine = ["--engine", "ray", "--ray-address", cluster.address]
    partner = client_background(parties["partner"], "map", agreement_id, data["partner"], "--wait", "600", "--json")
    vendor = client_background(parties["vendor"], "map", agreement_id, data["vendor"], "--wait", "600", "--json", *engine)
    killed = _kill_a_running_task(cluster, vendor)
    views = {"vendor": json.loads(finish(vendor)), "partner": json.loads(finish(partner))}
    assert killed, "no Ray worker was seen running a task of ours before the vendor finished"
    _assert_truth(views, data["truth"])
    assert not any(_alive(pid) for pid in killed)


def _kill_a_running_task(cluster: RayCluster, watched: subprocess.Popen) -> list[int]:
    """SIGKILL the first worker seen running a hashing or blinding task of ours (polled until the client ends)."""
    while watched.poll() is None:
        pids = cluster.worker_pids("cleanroom_hash_blind", "cleanroom_blind")
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            return pids[:1]
        time.sleep(0.02)  # a poll, not a timing: the test fails only if the client ends before a task is seen
    return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0


def test_a_ray_address_that_does_not_answer_stops_before_anything_is_read_or_sent(world, tmp_path):
    _, parties = world
    data = _synth(tmp_path / "data", 300, 200, 100)
    agreement_id = _agree(parties)
    client(parties["partner"], "map", agreement_id, data["partner"], "--wait", "0")
    nobody = f"127.0.0.1:{free_port()}"  # a port just freed: nothing listens there
    missing = str(tmp_path / "never-read.csv")  # the engine is checked first: the file is never looked at
    for argv in (["map", agreement_id, missing], ["map", "--all", data["vendor"]], ["sync", agreement_id]):
        failed = client(parties["vendor"], *argv, "--engine", "ray", "--ray-address", nobody, check=False)
        assert failed.returncode == 2
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1 and f"the Ray cluster at {nobody} does not answer" in lines[0], failed.stderr
    status = client_json(parties["partner"], "sync", agreement_id)["agreements"][0]
    assert status["state"] == "collecting" and "vendor's upload" in status["waiting_for"]  # nothing reached the coordinator
    receipts = client_json(parties["vendor"], "receipts")["receipts"]
    assert not [e for e in receipts if e["type"] == "upload" and e["receipt"]["agreement_id"] == agreement_id]


def test_attribution_run_and_sync_on_ray_credit_every_deal_as_the_ground_truth_says(cluster: RayCluster, world, tmp_path):
    """The vendor's `attribution run` and the partner's `sync` (re-blinding the vendor's deals) both on Ray."""
    coord, parties = world
    summary = client_json(
        parties["vendor"], "synth", "--out", str(tmp_path / "deals"), "--attribution", "--deals", "400", "--partners", "1"
    )
    truth = json.loads(Path(summary["paths"]["ground_truth"]).read_text())
    (partner,) = truth["partners"]
    profile = coord.add_party(partner, tmp_path / partner)
    propose = ["agreement", "propose", "--with", partner, "--populations", "customer", "--attribution", "--min-set-size", "10"]
    agreement_id = client_json(parties["vendor"], *propose)["agreement_id"]
    client_json(profile, "agreement", "approve", agreement_id)
    client_json(profile, "attribution", "touches", agreement_id, summary["paths"][partner])
    engine = ["--engine", "ray", "--ray-address", cluster.address]
    sync = client_background(profile, "sync", agreement_id, "--wait", "300", *engine)
    run = ["attribution", "run", "--agreements", agreement_id, "--deals", summary["paths"]["deals"], "--as-of", truth["as_of"]]
    view = client_json(parties["vendor"], *run, "--wait", "300", *engine)
    finish(sync)
    assert check_attribution(view, truth, AttributionConfig()) == []
    assert view["deals"], "no deal was credited: the check above would be empty"
