"""Compliance end to end: retention and revocation purge every point, receipts
survive a coordinator restart and verify, refusals are audited."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cleanroom.demo.localrun import COORDINATOR, LocalCoordinator, client, client_background, client_json, finish, run
from cleanroom.v1 import runs_pb2
from cleanroom_client.protocol.canaries import MIN_CANARY_PAIRS

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel


def _csv(path: Path, domains: list[str]) -> str:
    path.write_text("Website,Type\n" + "".join(f"https://www.{d}/,Customer\n" for d in domains))
    return str(path)


def _received_points(wire_log: Path) -> set[bytes]:
    """Every 32-byte point the coordinator received, read back from its wire log."""
    data, points, i = wire_log.read_bytes(), set(), 0
    while i < len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        message = data[i + 4 : i + 4 + n]
        i += 4 + n
        try:
            chunk = runs_pb2.PointChunk.FromString(message)
        except Exception:
            continue
        if chunk.digest and len(chunk.points) % 32 == 0:
            points.update(chunk.points[j : j + 32] for j in range(0, len(chunk.points), 32))
    return points


def _stored(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.glob("coordinator.duckdb*"))


def _words_held(stored: bytes, point: bytes) -> int:
    """How many of a point's four 8-byte words lie in the files: the store keeps a point as four 64-bit
    columns (cleanroom/coordinator/store/points.py), so its 32 bytes are never contiguous on disk."""
    return sum(point[i : i + 8] in stored for i in range(0, 32, 8))


def _held(data_dir: Path, points: set[bytes]) -> list[bytes]:
    """The points whose four words all lie in the store's files."""
    stored = _stored(data_dir)
    return [p for p in points if _words_held(stored, p) == 4]


def _traces(data_dir: Path, points: set[bytes]) -> list[bytes]:
    """The points any word of which still lies in the store's files."""
    stored = _stored(data_dir)
    return [p for p in points if _words_held(stored, p)]


def _setup(tmp_path: Path, **propose):
    wire = tmp_path / "wire.bin"
    coord = LocalCoordinator(tmp_path / "coord", wire_log=wire).init().start()
    parties = {n: coord.add_party(n, tmp_path / n) for n in ("vendor", "partner")}
    args = ["agreement", "propose", "--with", "partner", "--populations", "customer", "--min-set-size", "10"]
    for k, v in propose.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    agreement_id = client_json(parties["vendor"], *args)["agreement_id"]
    client_json(parties["partner"], "agreement", "approve", agreement_id)
    files = {
        "vendor": _csv(tmp_path / "v.csv", [f"shared{i}.com" for i in range(30)] + [f"v{i}.com" for i in range(40)]),
        "partner": _csv(tmp_path / "p.csv", [f"shared{i}.com" for i in range(30)] + [f"p{i}.com" for i in range(20)]),
    }
    return coord, parties, agreement_id, files, wire


def test_retention_deletes_every_point_after_the_period(tmp_path):
    coord, parties, agreement_id, files, wire = _setup(tmp_path, retention=3)
    try:
        procs = [
            client_background(parties[n], "map", agreement_id, files[n], "--wait", "60", "--json") for n in ("vendor", "partner")
        ]
        views = [json.loads(finish(p)) for p in procs]
        assert views[0]["totals"]["overlap"] == 30
        points = _received_points(wire)
        # Own points of both sides, and their re-blinded tokens (the 30 shared companies' tokens coincide),
        # each upload with its hidden canary pairs (at least MIN_CANARY_PAIRS a side, re-blinded too).
        canaries = 2 * 2 * MIN_CANARY_PAIRS  # two sides, two points a pair
        assert len(points) == 2 * (70 + 50) - 30 + 2 * canaries
        assert _held(coord.data_dir, points), "points should still be held during the retention period"
        time.sleep(5)  # retention 3 s; the sweeper runs every second
        assert _traces(coord.data_dir, points) == []
    finally:
        coord.stop()
    export = tmp_path / "audit.jsonl"
    run([*COORDINATOR, "audit", "export", "--data-dir", str(coord.data_dir), "--out", str(export)])
    deleted = [json.loads(line) for line in export.read_text().splitlines() if '"points.deleted"' in line]
    with_canaries = 2 * (70 + 50) + 2 * 2 * 2 * MIN_CANARY_PAIRS  # four uploads, each with its canary pairs
    assert deleted and deleted[0]["details"]["cause"] == "retention" and deleted[0]["details"]["points"] == with_canaries


def test_revocation_stops_runs_and_purges_points(tmp_path):
    coord, parties, agreement_id, files, wire = _setup(tmp_path, retention=3600)
    try:
        client(parties["vendor"], "map", agreement_id, files["vendor"], "--wait", "0")
        points = _received_points(wire)
        assert _held(coord.data_dir, points)
        out = client(parties["partner"], "agreement", "revoke", agreement_id, "--reason", "contract ended")
        assert "revoked" in out.stdout
        assert _traces(coord.data_dir, points) == []
        refused = client(parties["partner"], "map", agreement_id, files["partner"], check=False)
        assert refused.returncode == 2 and "revoked" in refused.stderr
        refused = client(parties["vendor"], "overlap", agreement_id, check=False)
        assert refused.returncode == 2 and "revoked" in refused.stderr
    finally:
        coord.stop()
    export = tmp_path / "audit.jsonl"
    run([*COORDINATOR, "audit", "export", "--data-dir", str(coord.data_dir), "--out", str(export), "--agreement", agreement_id])
    actions = [json.loads(line).get("action") for line in export.read_text().splitlines()]
    assert "agreement.revoked" in actions and "points.deleted" in actions
    # map refuses a revoked agreement before uploading anything; overlap is refused (and audited) by the coordinator.
    denied = [json.loads(line) for line in export.read_text().splitlines() if json.loads(line).get("action") == "request.denied"]
    assert any("revoked" in d["details"]["reason"] for d in denied), denied
    verified = run([*COORDINATOR, "audit", "verify", str(export), "--public-key", str(export) + ".pub", "--json"])
    assert json.loads(verified.stdout)["ok"] is True


def test_receipts_round_trip_across_a_coordinator_restart(tmp_path):
    coord, parties, agreement_id, files, _ = _setup(tmp_path)
    try:
        client(parties["vendor"], "map", agreement_id, files["vendor"], "--wait", "0")
        coord.stop(kill=True)
        coord.start()
        partner = client_background(parties["partner"], "map", agreement_id, files["partner"], "--wait", "60", "--json")
        client(parties["vendor"], "sync", agreement_id, "--wait", "60")
        finish(partner)
        client(parties["vendor"], "overlap", agreement_id)
    finally:
        coord.stop()
    for name in ("vendor", "partner"):
        listed = client_json(parties[name], "receipts")["receipts"]
        kinds = sorted(e["type"] for e in listed)
        assert kinds == ["release", "upload", "upload"], kinds  # own points, re-blinded points, the overlap
        ok = client_json(parties[name], "receipts", "verify")
        assert ok["ok"] is True and ok["receipts"] == 3
    # Tampering with a receipt, or a receipt signed by another key, is caught.
    log = parties["vendor"] / "receipts.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    entries[0]["receipt"]["total_points"] = str(int(entries[0]["receipt"]["total_points"]) + 1)
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    bad = client(parties["vendor"], "receipts", "verify", "--json", check=False)
    assert bad.returncode == 1 and "signature does not verify" in bad.stdout
