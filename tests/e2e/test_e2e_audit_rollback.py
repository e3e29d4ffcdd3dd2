"""Audit rollback end to end (issue 13, finding 6): someone with the stopped coordinator's store file deletes
the newest audit entries (and lets new ones grow back). The chain alone still verifies; the signed heads the
parties kept with their receipts do not fit it, and `audit verify --receipts`, the REST verification given a
heads export, and the client itself each say so. A head whose signature fails is refused by the client."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import httpx
import pytest

from cleanroom.demo.localrun import COORDINATOR, LocalCoordinator, client, run
from tests.mapped_once import map_once

pytestmark = pytest.mark.e2e  # one xdist group per module (tests/e2e/conftest.py), so modules run in parallel


def _mapped(tmp_path: Path) -> tuple[LocalCoordinator, dict[str, Path], str]:
    """A coordinator (gRPC and REST) after both parties mapped once; stopped, with an auditor key made."""
    coord = LocalCoordinator(tmp_path / "coord", http=True).init().start()
    parties, agreement_id = map_once(coord, tmp_path)
    coord.stop()
    return coord, parties, agreement_id


def _held_counts(profile: Path) -> list[int]:
    """Entry counts of the heads a party kept, read straight from its receipts file (not through our reader)."""
    lines = (profile / "receipts.jsonl").read_text().splitlines()
    return sorted(json.loads(line)["audit_head"]["count"] for line in lines if "audit_head" in json.loads(line))


def _store_entries(coord: LocalCoordinator) -> list[tuple[int, str]]:
    con = duckdb.connect(str(coord.data_dir / "coordinator.duckdb"), read_only=True)
    try:
        return [(int(s), str(h)) for s, h in con.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq").fetchall()]
    finally:
        con.close()


def _truncate(coord: LocalCoordinator, keep: int) -> None:
    """The attack: delete every audit entry after ``keep``, with nothing but the database file."""
    con = duckdb.connect(str(coord.data_dir / "coordinator.duckdb"))
    try:
        con.execute("DELETE FROM audit_log WHERE seq > ?", [keep])
    finally:
        con.close()


def _verify(tmp_path: Path, coord: LocalCoordinator, *receipts: Path) -> tuple[int, dict]:
    export = tmp_path / "audit.jsonl"
    run([*COORDINATOR, "audit", "export", "--data-dir", str(coord.data_dir), "--out", str(export)])
    argv = [*COORDINATOR, "audit", "verify", str(export), "--public-key", str(export) + ".pub", "--json"]
    if receipts:
        argv += ["--receipts", *map(str, receipts)]
    done = run(argv, check=False)
    return done.returncode, json.loads(done.stdout)


def _rest_verification(coord: LocalCoordinator, key: str, heads: dict | None) -> dict:
    with httpx.Client(base_url=coord.http_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
        answer = http.post("/v1/audit/verification", json=heads) if heads else http.get("/v1/audit/verification")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_rolled_back_log_is_reported_against_the_heads_the_parties_hold(tmp_path):
    coord, parties, _ = _mapped(tmp_path)
    key = coord.add_api_key("vendor", "auditor")
    held = sorted(set(_held_counts(parties["vendor"]) + _held_counts(parties["partner"])))
    # Each party holds a head for its two upload receipts and its overlap release.
    assert len(_held_counts(parties["vendor"])) == 3 and len(_held_counts(parties["partner"])) == 3
    entries = _store_entries(coord)
    assert held[-1] <= len(entries)
    code, intact = _verify(tmp_path, coord, parties["vendor"], parties["partner"])
    assert code == 0 and intact["ok"] is True and {h["status"] for h in intact["heads"]} == {"ok"}

    keep = held[-3] - 1  # the entries of the last three heads' events go
    _truncate(coord, keep)
    assert len(_store_entries(coord)) == keep

    # Today's check: the chain that is left is intact, so `audit verify` alone says all is well.
    code, alone = _verify(tmp_path, coord)
    assert code == 0 and alone["ok"] is True and alone["entries"] == keep
    # With the parties' receipts: every head beyond the cut is a rollback, by exactly the entries missing.
    code, checked = _verify(tmp_path, coord, parties["vendor"], parties["partner"])
    assert code == 1 and checked["ok"] is False
    statuses = {h["count"]: (h["status"], h["missing"]) for h in checked["heads"]}
    assert statuses == {c: (("shorter", c - keep) if c > keep else ("ok", 0)) for c in held}
    table = run([*COORDINATOR, "audit", "verify", str(tmp_path / "audit.jsonl"), "--public-key", str(tmp_path / "audit.jsonl.pub"),
                 "--receipts", str(parties["vendor"])], check=False)  # fmt: skip
    assert table.returncode == 1 and "rolled back" in table.stdout and "deleted" in table.stdout

    coord.start()
    try:
        heads_file = tmp_path / "vendor-heads.json"
        client(parties["vendor"], "receipts", "export-heads", "--out", str(heads_file))
        heads = json.loads(heads_file.read_text())
        assert heads["format"] == "cleanroom.audit-heads/v1" and sorted(h["count"] for h in heads["heads"]) == _held_counts(
            parties["vendor"]
        )
        assert _rest_verification(coord, key, None)["status"] == "verified"  # GET alone cannot see it
        posted = _rest_verification(coord, key, heads)
        assert posted["status"] == "rolled back"
        assert {h["count"]: h["status"] for h in posted["heads"]} == {
            c: "shorter" if c > keep else "ok" for c in _held_counts(parties["vendor"])
        }
        # The party notices on its own, from the coordinator's current head.
        mine = client(parties["vendor"], "receipts", "verify", "--against-coordinator", "--json", check=False)
        assert mine.returncode == 1 and json.loads(mine.stdout)["without_audit_head"] == 0
        assert {h["status"] for h in json.loads(mine.stdout)["heads"]} >= {"shorter"}
        said = client(parties["vendor"], "receipts", "verify", "--against-coordinator", check=False)
        assert said.returncode == 1 and "NOT in the coordinator's log: it was rolled back" in " ".join(said.stdout.split())

        # The log grows back past the held heads (refused requests are audited): now a different entry sits
        # where a held head says its entry was. The chain verifies; the heads show it diverging.
        grown = _rest_verification(coord, key, None)["entries"]
        for _ in range(held[-1] - grown + 2):
            refused = client(parties["partner"], "overlap", "agr_nonexistent0", check=False)
            assert refused.returncode == 2 and "does not exist" in refused.stderr, refused.stderr
        regrown = _rest_verification(coord, key, heads)
        assert regrown["entries"] > held[-1] and regrown["status"] == "rolled back"
        assert {h["count"]: h["status"] for h in regrown["heads"]} == {
            c: "diverging" if c > keep else "ok" for c in _held_counts(parties["vendor"])
        }
        mine = json.loads(client(parties["vendor"], "receipts", "verify", "--against-coordinator", "--json", check=False).stdout)
        assert {h["status"] for h in mine["heads"]} == {"ok", "diverging"}
    finally:
        coord.stop()
    code, diverging = _verify(tmp_path, coord, parties["vendor"], parties["partner"])
    assert code == 1 and diverging["problems"] == []  # the chain itself is intact
    assert {h["count"]: h["status"] for h in diverging["heads"]} == {c: "diverging" if c > keep else "ok" for c in held}


def test_a_head_whose_signature_fails_is_refused_and_not_kept(tmp_path):
    coord, parties, agreement_id = _mapped(tmp_path)
    # The operator edits the head stored with the vendor's release (to hand out a head for a shorter log).
    con = duckdb.connect(str(coord.data_dir / "coordinator.duckdb"))
    try:
        stored = con.execute(
            "SELECT release_id, audit_head FROM releases WHERE viewer = 'vendor' AND kind = 'overlap'"
        ).fetchone()
        head = json.loads(stored[1])
        con.execute(
            "UPDATE releases SET audit_head = ? WHERE release_id = ?",
            [json.dumps({**head, "count": head["count"] - 5}), stored[0]],
        )
    finally:
        con.close()
    before = (parties["vendor"] / "receipts.jsonl").read_text()
    coord.start()
    try:
        refused = client(parties["vendor"], "overlap", agreement_id, check=False)
        assert refused.returncode != 0
        assert "audit head" in refused.stderr and "does not verify" in refused.stderr
        assert "30" not in refused.stdout  # nothing shown
        assert client(parties["partner"], "overlap", agreement_id).returncode == 0  # the untouched head is accepted
    finally:
        coord.stop()
    assert (parties["vendor"] / "receipts.jsonl").read_text() == before  # nothing kept
