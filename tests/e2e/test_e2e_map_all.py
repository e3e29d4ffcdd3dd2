"""End to end: a vendor maps one file under every agreement at once (`map --all`), over real processes.

The vendor has agreements with three partners on different terms (all populations and counts only;
two populations with a reveal granted to the partner; one whose terms name a column the vendor's file
lacks), one agreement only proposed and one revoked. Ground truth comes from the generator: two synthetic
pairs drawn from one seed share the vendor's companies and populations exactly (asserted below from the
generator's own bookkeeping), so the vendor's one file has a known overlap with each partner's file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client, client_background, client_json, finish
from cleanroom.demo.run import POPULATIONS, check_view
from cleanroom.demo.synth import _Pair

pytestmark = pytest.mark.e2e

SEED, VENDOR = 11, 3000
PAIRS = {"partner-a": (2500, 900), "partner-b": (1500, 500)}  # partner accounts, overlap with the vendor


def _synth(out: Path, partner: int, overlap: int) -> dict:
    args = ["synth", "--out", str(out), "--vendor-accounts", str(VENDOR), "--partner-accounts", str(partner)]
    proc = subprocess.run(
        [*CLIENT, *args, "--overlap", str(overlap), "--seed", str(SEED), "--json"], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def truth_for(masks: tuple[bytearray, bytearray], vendor_pops: list[str], partner_pops: list[str]) -> dict:
    """The ground truth of an agreement on some populations, from the generator's per-company population masks."""
    bits = {p: 1 << i for i, p in enumerate(POPULATIONS)}
    vmask, pmask = sum(bits[p] for p in vendor_pops), sum(bits[p] for p in partner_pops)
    vendor, partner = masks
    both = [(v, p) for v, p in zip(vendor, partner, strict=True) if v & vmask and p & pmask]
    return {
        "vendor_accounts": sum(1 for v in vendor if v & vmask),
        "partner_accounts": sum(1 for p in partner if p & pmask),
        "overlap": len(both),
        "matrix": {
            vp: {pp: sum(1 for v, p in both if v & bits[vp] and p & bits[pp]) for pp in partner_pops} for vp in vendor_pops
        },
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("map_all")
    files = {name: _synth(work / name, *sizes) for name, sizes in PAIRS.items()}
    pairs = {name: _Pair(VENDOR, p, o, SEED) for name, (p, o) in PAIRS.items()}
    # The premise: the vendor's companies and their populations are the same in both pairs.
    a, b = pairs["partner-a"], pairs["partner-b"]
    assert a.masks[0][:VENDOR] == b.masks[0][:VENDOR] and a.truth.vendor_accounts == b.truth.vendor_accounts
    assert truth_for(a.masks, list(POPULATIONS), list(POPULATIONS)) == {
        k: v for k, v in a.truth.to_json().items() if k in ("vendor_accounts", "partner_accounts", "overlap", "matrix")
    }  # the helper agrees with the generator's own truth where both apply
    coordinator = LocalCoordinator(work / "coordinator").init().start()
    names = ("vendor", "partner-a", "partner-b", "partner-c", "partner-d")
    profiles = {name: coordinator.add_party(name, work / name / "profile") for name in names}
    yield {"work": work, "files": files, "pairs": pairs, "profiles": profiles}
    coordinator.stop()


def _propose(profiles: dict, partner: str, *terms: str, approve: bool = True) -> str:
    proposed = client_json(profiles["vendor"], "agreement", "propose", "--with", partner, *terms)
    if approve:
        assert client_json(profiles[partner], "agreement", "approve", proposed["agreement_id"])["state"] == "active"
    return proposed["agreement_id"]


def test_map_all_runs_every_agreement_from_one_read(world):
    profiles, files = world["profiles"], world["files"]
    all_pops = ",".join(POPULATIONS)
    ids = {
        "a": _propose(profiles, "partner-a", "--populations", all_pops),
        "b": _propose(
            profiles,
            "partner-b",
            "--populations",
            "customer,opportunity",
            "--reveal",
            "opportunity:customer",
            "--reveal-to",
            "them",
            "--share",
            "Account Owner",
        ),
        # The vendor's file has no such column: this agreement fails, alone.
        "c": _propose(
            profiles,
            "partner-c",
            "--populations",
            all_pops,
            "--reveal",
            "opportunity:customer",
            "--reveal-to",
            "them",
            "--share",
            "Deal Desk Notes",
        ),
        "d": _propose(profiles, "partner-d", "--populations", all_pops, approve=False),
        "revoked": _propose(profiles, "partner-a", "--populations", "customer"),
    }
    client(profiles["vendor"], "agreement", "revoke", ids["revoked"], "--reason", "superseded")
    # partner-a mapped earlier and went offline: its points wait for the vendor, who re-blinds them while it reads.
    first = client_json(profiles["partner-a"], "map", ids["a"], files["partner-a"]["partner"], "--wait", "0")
    assert first["state"] == "collecting"
    procs = {
        "vendor": client_background(profiles["vendor"], "map", "--all", files["partner-a"]["vendor"], "--wait", "180", "--json"),
        "partner-b": client_background(
            profiles["partner-b"], "map", ids["b"], files["partner-b"]["partner"], "--wait", "180", "--json"
        ),
        "partner-a": client_background(profiles["partner-a"], "sync", ids["a"], "--wait", "180", "--json"),
    }
    out, errs = procs["vendor"].communicate(timeout=600)
    assert procs["vendor"].returncode == 1, errs  # one agreement failed: the exit status says so
    summary = json.loads(out)
    views = {name: json.loads(finish(p)) for name, p in procs.items() if name != "vendor"}
    assert views["partner-a"]["agreements"][0]["state"] == "complete"

    # Read once, for every agreement that ran.
    assert summary["file_reads"] == 1 and len(summary["reads"]) == 1
    assert sorted(summary["reads"][0]["agreements"]) == sorted([ids["a"], ids["b"], ids["c"]])
    by_id = {o["agreement_id"]: o for o in summary["agreements"]}
    assert set(by_id) == set(ids.values())

    # Every agreement's matrix equals the ground truth, on both sides.
    truth_a = truth_for(world["pairs"]["partner-a"].masks, list(POPULATIONS), list(POPULATIONS))
    truth_b = truth_for(world["pairs"]["partner-b"].masks, ["customer", "opportunity"], ["customer", "opportunity"])
    assert by_id[ids["a"]]["state"] == "complete" and by_id[ids["b"]]["state"] == "complete"
    assert check_view(by_id[ids["a"]]["overlap"], truth_a, True) == []
    assert check_view(by_id[ids["b"]]["overlap"], truth_b, True) == []
    assert len(by_id[ids["a"]]["overlap"]["cells"]) == 9 and len(by_id[ids["b"]]["overlap"]["cells"]) == 4
    assert check_view(client_json(profiles["partner-a"], "overlap", ids["a"]), truth_a, False) == []
    assert check_view(views["partner-b"], truth_b, False) == []
    # partner-b was granted reveal of its customers the vendor has as opportunities: exactly those, sealed by the vendor.
    assert views["partner-b"]["revealed_accounts"] == truth_b["matrix"]["opportunity"]["customer"]
    targets = client_json(profiles["partner-b"], "targets", ids["b"])["targets"]
    assert len(targets) == truth_b["matrix"]["opportunity"]["customer"] > 0
    assert all(t["partner"] == "vendor" and set(t["partner_fields"]) == {"Account Owner"} for t in targets)

    # The agreement the file cannot serve failed with the reason; the others ran. Skipped ones say why.
    assert by_id[ids["c"]]["state"] == "failed" and "no column 'Deal Desk Notes'" in by_id[ids["c"]]["reason"]
    assert "run_id" not in by_id[ids["c"]]
    assert by_id[ids["d"]]["state"] == "skipped" and "waiting for partner-d" in by_id[ids["d"]]["reason"]
    assert by_id[ids["revoked"]]["state"] == "skipped" and "revoked" in by_id[ids["revoked"]]["reason"]

    # One secret per agreement that ran (its tokens unlinkable to the others'); none for the one that failed.
    secrets = json.loads((profiles["vendor"] / "keystore.json").read_text())["agreements"]
    assert ids["a"] in secrets and ids["b"] in secrets and ids["c"] not in secrets
    assert secrets[ids["a"]]["secret"] != secrets[ids["b"]]["secret"]


def test_map_all_people_table_and_bad_usage(world):
    profiles, files = world["profiles"], world["files"]
    _propose(profiles, "partner-d", "--populations", "customer", approve=False)
    table = client(profiles["vendor"], "map", "--all", files["partner-a"]["vendor"], check=False)
    assert "map --all:" in table.stdout and "skipped" in table.stdout
    bad = client(profiles["vendor"], "map", "--all", "agr_x", files["partner-a"]["vendor"], check=False)
    assert bad.returncode == 2 and "map --all takes one file" in bad.stderr
    missing = client(profiles["vendor"], "map", "--all", str(world["work"] / "nope.csv"), check=False)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr


def test_a_partner_whose_signing_key_changed_fails_alone_while_the_others_complete(world):
    """Hostile: the coordinator relays another upload-signing key for partner-a than the vendor pinned (here the pin
    is what changed). The vendor must re-blind nothing of partner-a's and still finish partner-b's run: before
    map --all, one refused re-blinding stopped the wait on every run."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from cleanroom.crypto.upload_signing import signing_fingerprint

    profiles, files = world["profiles"], world["files"]
    for agreement in client_json(profiles["vendor"], "agreement", "list")["agreements"]:
        if agreement["state"] != "revoked":  # a clean slate: only this test's agreements run
            client(profiles["vendor"], "agreement", "revoke", agreement["agreement_id"], "--reason", "next test")
    ids = {name: _propose(profiles, name, "--populations", ",".join(POPULATIONS)) for name in ("partner-a", "partner-b")}
    peers_path = profiles["vendor"] / "peers.json"
    peers = json.loads(peers_path.read_text()) if peers_path.exists() else {}
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    peers.setdefault("signing", {})["partner-a"] = {
        "public_ed25519": other.hex(),
        "fingerprint": signing_fingerprint(other),
        "agreement_id": ids["partner-a"],
        "pinned_at": "2026-12-01T00:00:00+00:00",
    }
    peers_path.write_text(json.dumps(peers))
    # partner-a maps alongside the vendor but does not wait: the vendor never re-blinds its points, so a wait would
    # only run out (it took 20 s of this test); after the vendor is done, partner-a's sync below shows the run.
    partners = {
        "partner-a": client_background(profiles["partner-a"], "map", ids["partner-a"], files["partner-a"]["partner"], "--wait", "0", "--json"),
        "partner-b": client_background(profiles["partner-b"], "map", ids["partner-b"], files["partner-b"]["partner"], "--wait", "120", "--json"),
    }  # fmt: skip
    vendor = subprocess.run(
        [*CLIENT, "--profile", str(profiles["vendor"]), "map", "--all", files["partner-a"]["vendor"], "--wait", "120", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    views = {name: json.loads(finish(p)) for name, p in partners.items()}
    assert vendor.returncode == 1, vendor.stderr
    by_id = {o["agreement_id"]: o for o in json.loads(vendor.stdout)["agreements"]}
    refused = by_id[ids["partner-a"]]
    assert refused["state"] == "failed" and "different upload-signing key for partner-a" in refused["reason"]
    # partner-a re-blinds the vendor's points now (if its map did not find them yet): the run still waits, as
    # the vendor re-blinded nothing of partner-a's, so nothing is released.
    synced = client_json(profiles["partner-a"], "sync", ids["partner-a"])["agreements"][0]
    assert synced["run_id"] == views["partner-a"]["run_id"] and synced["state"] == "collecting"
    truth_b = truth_for(world["pairs"]["partner-b"].masks, list(POPULATIONS), list(POPULATIONS))
    assert by_id[ids["partner-b"]]["state"] == "complete"
    assert check_view(by_id[ids["partner-b"]]["overlap"], truth_b, True) == []
    assert check_view(views["partner-b"], truth_b, False) == []
