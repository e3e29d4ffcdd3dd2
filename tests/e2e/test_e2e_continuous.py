"""Continuous agreements end to end: a coordinator and two clients as processes over mTLS, a real DuckDB file.

One agreement with 3-second epochs goes through: a full first run; a change that adds and removes vendor
accounts while the partner changed nothing; changes with population moves on both sides and additions
the partner sends in chunks it is killed in the middle of (and then sends again); a coordinator stopped
and started between epochs, with its DuckDB file read in between; a secret that changed, forcing every
account to be sent again on both sides; revocation. Every expected matrix is computed below from the rows
the test wrote, never by the code under test. A second agreement with an hour-long epoch shows the
one-release-per-epoch rule.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from cleanroom.demo.localrun import CLIENT, LocalCoordinator, client, client_background, client_json, finish

pytestmark = pytest.mark.e2e

CUST, OPP = "Customer", "Opportunity"
POPS = {CUST: "customer", OPP: "opportunity"}
EPOCH = 3


def _d(prefix: str, lo: int, hi: int) -> list[str]:
    return [f"{prefix}{i}.com" for i in range(lo, hi)]


def _rows(**by_stage: list[str]) -> dict[str, str]:
    return {d: {"C": CUST, "O": OPP}[stage] for stage, domains in by_stage.items() for d in domains}


V1 = _rows(C=_d("a", 0, 40), O=_d("b", 0, 30))
P1 = _rows(C=_d("a", 0, 30) + _d("b", 0, 20), O=_d("a", 30, 35) + _d("b", 20, 25) + _d("z", 0, 10))
V2 = _rows(C=_d("a", 3, 40), O=_d("b", 0, 30) + _d("z", 0, 4))  # 3 removed, 4 added
V3 = _rows(C=_d("a", 3, 40) + _d("b", 0, 5), O=_d("b", 5, 30) + _d("z", 0, 4))  # 5 moved to customer
P2 = {**{d: s for d, s in P1.items() if d not in ("b20.com", "b21.com")}, "a35.com": CUST, "a36.com": CUST, "a30.com": CUST}


def _write(path: Path, rows: dict[str, str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Account Name", "Website", "Type"])
        for domain, stage in sorted(rows.items()):
            w.writerow([f"{domain.split('.')[0].upper()} Corp", f"https://www.{domain}", stage])
    return path


def truth(vendor: dict[str, str], partner: dict[str, str]) -> dict:
    """The vendor's view, counted from the rows: each shared domain counts once in its populations' cell."""
    cells: dict[tuple[str, str], int] = {}
    for domain in vendor.keys() & partner.keys():
        key = (POPS[vendor[domain]], POPS[partner[domain]])
        cells[key] = cells.get(key, 0) + 1
    return {"mine": len(vendor), "theirs": len(partner), "overlap": sum(cells.values()), "cells": cells}


def change(before: dict[str, str], after: dict[str, str]) -> dict:
    return {
        "added": len(after.keys() - before.keys()),
        "removed": len(before.keys() - after.keys()),
        "moved": sum(1 for d in before.keys() & after.keys() if before[d] != after[d]),
    }


def view_of(release: dict) -> dict:
    cells = {(c["mine"], c["theirs"]): c["count"] for c in release["cells"] if c["count"]}
    totals = release["totals"]
    return {"mine": totals["mine"], "theirs": totals["theirs"], "overlap": totals["overlap"], "cells": cells}


def _map_both(profiles: dict[str, Path], agreement: str, files: tuple[Path, Path]) -> tuple[dict, dict]:
    """Both parties map (partner in the background); both outputs as JSON."""
    partner = client_background(profiles["partner"], "map", agreement, str(files[1]), "--wait", "60", "--json")
    vendor = client_json(profiles["vendor"], "map", agreement, str(files[0]), "--wait", "60", timeout=120)
    return vendor, json.loads(finish(partner))


def _next_epoch() -> None:
    time.sleep(EPOCH - time.time() % EPOCH + 0.05)


def _db(coord: LocalCoordinator) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(coord.data_dir / "coordinator.duckdb"), read_only=True)


def test_continuous_agreement_sends_changes_keeps_only_double_blinded_tokens_and_deletes_them_on_revocation(tmp_path: Path):
    coord = LocalCoordinator(tmp_path / "coord").init().start()
    try:
        profiles = {n: coord.add_party(n, tmp_path / n) for n in ("vendor", "partner")}
        agreement = client_json(
            profiles["vendor"], "agreement", "propose", "--with", "partner", "--populations", "customer,opportunity",
            "--continuous", "--epoch", f"{EPOCH}s", "--min-count", "1", "--min-set-size", "10",
        )["agreement_id"]  # fmt: skip
        client_json(profiles["partner"], "agreement", "approve", agreement)
        files = {
            n: _write(tmp_path / f"{n}.csv", rows) for n, rows in (("v1", V1), ("p1", P1), ("v2", V2), ("v3", V3), ("p2", P2))
        }

        # 1. The first run sends everything on both sides.
        vendor, partner = _map_both(profiles, agreement, (files["v1"], files["p1"]))
        assert view_of(vendor) == truth(V1, P1)
        assert vendor["read"]["upload"] == {"sent": "every account", "reason": "first run of this continuous agreement"}
        assert partner["read"]["upload"]["sent"] == "every account"
        first_run = vendor["run_id"]
        assert oct((profiles["vendor"] / "continuous" / f"{agreement}.sent").stat().st_mode & 0o777) == "0o600"

        # 2. Next epoch: the vendor adds and removes accounts; the partner's file did not change (an empty change).
        _next_epoch()
        vendor, partner = _map_both(profiles, agreement, (files["v2"], files["p1"]))
        assert view_of(vendor) == truth(V2, P1)
        assert vendor["read"]["upload"] == {"sent": "changes", "base_run_id": first_run, **change(V1, V2)}
        assert partner["read"]["upload"] == {"sent": "changes", "base_run_id": first_run, **change(P1, P1)}
        assert vendor["run_id"] != first_run

        # 3. Next epoch: population moves on both sides; the partner's additions travel in 2-point chunks and
        # its client dies after the first (like kill -9); mapped again, it resumes: same result, nothing twice.
        _next_epoch()
        killed = subprocess.run(
            [*CLIENT, "--profile", str(profiles["partner"]), "map", agreement, str(files["p2"]), "--chunk-points", "2"],
            env={**os.environ, "CLEANROOM_FAULT_EXIT_AFTER_CHUNKS": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.returncode == 137, killed.stderr
        vendor, partner = _map_both(profiles, agreement, (files["v3"], files["p2"]))
        assert view_of(vendor) == truth(V3, P2)
        assert view_of(partner)["overlap"] == truth(V3, P2)["overlap"]
        third_run = vendor["run_id"]
        assert vendor["read"]["upload"]["sent"] == "changes" and vendor["read"]["upload"]["moved"] == change(V2, V3)["moved"]
        assert {k: partner["read"]["upload"][k] for k in ("added", "removed", "moved")} == change(P1, P2)
    finally:
        coord.stop()

    # 4. Between epochs, the coordinator is stopped: its file holds double-blinded tokens for exactly the
    # accounts that stand, no single-blinded point of any run, and each step on the audit record.
    con = _db(coord)
    try:
        held = dict(
            con.execute(
                "SELECT party, count(*) FROM standing_tokens WHERE agreement_id = ? GROUP BY party", [agreement]
            ).fetchall()
        )
        assert held == {"vendor": len(V3), "partner": len(P2)}  # one key kind: one token per account
        accounts = dict(con.execute("SELECT party, accounts FROM standing_sides WHERE agreement_id = ?", [agreement]).fetchall())
        assert accounts == {"vendor": len(V3), "partner": len(P2)}
        assert con.execute(
            "SELECT count(*) FROM chunks JOIN uploads USING (upload_id) JOIN runs USING (run_id) WHERE agreement_id = ?",
            [agreement],
        ).fetchone() == (0,)
        causes = [json.loads(d)["cause"] for (d,) in con.execute(
            "SELECT details_json FROM audit_log WHERE agreement_id = ? AND action = 'points.deleted' ORDER BY seq", [agreement]
        ).fetchall()]  # fmt: skip
        # Each side's single-blinded points went when the partner's re-blinding of them was committed, and what
        # was left of each run (labels, re-blinded points) when it completed.
        assert causes == ["re-blinded", "re-blinded", "continuous: the double-blinded tokens stand instead"] * 3
        seqs = [
            s
            for (s,) in con.execute(
                "SELECT seq FROM runs WHERE agreement_id = ? AND state = 'complete' ORDER BY seq", [agreement]
            ).fetchall()
        ]
        assert seqs == [1, 2, 3]
    finally:
        con.close()

    coord.start()
    try:
        # 5. Next epoch, after the restart: the vendor's secret is lost (its keystore entry deleted). Its client
        # sends everything and says why; the coordinator voids both sides' standing tokens (the partner's
        # carry the old secret), so the partner's client sends everything too. Same truth.
        keystore = profiles["vendor"] / "keystore.json"
        data = json.loads(keystore.read_text())
        del data["agreements"][agreement]
        keystore.write_text(json.dumps(data))
        _next_epoch()
        vendor_sent = client_json(profiles["vendor"], "map", agreement, str(files["v3"]))  # sends, does not wait
        assert vendor_sent["read"]["upload"] == {"sent": "every account", "reason": "the agreement secret changed"}
        partner_bg = client_background(profiles["partner"], "map", agreement, str(files["p2"]), "--wait", "60", "--json")
        client_json(profiles["vendor"], "sync", agreement, "--wait", "60", timeout=120)  # re-blinds the partner's points
        partner = json.loads(finish(partner_bg))
        assert partner["read"]["upload"]["sent"] == "every account"
        assert "holds no standing tokens" in partner["read"]["upload"]["reason"]
        vendor = client_json(profiles["vendor"], "overlap", agreement)
        assert vendor["run_id"] == partner["run_id"] == vendor_sent["run_id"] != third_run
        assert view_of(vendor) == truth(V3, P2)

        # 6. Revocation deletes the standing tokens at once, on the record; a change sent afterwards is refused.
        client_json(profiles["vendor"], "agreement", "revoke", agreement, "--reason", "test over")
        refused = client(profiles["partner"], "map", agreement, str(files["p1"]), check=False)
        assert refused.returncode != 0 and "revoked" in refused.stderr, refused.stderr
    finally:
        coord.stop()
    con = _db(coord)
    try:
        for table in ("standing_tokens", "standing_accounts", "standing_pairs", "standing_sides"):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE agreement_id = ?", [agreement]).fetchone() == (0,), table
        deleted = [json.loads(d) for (d,) in con.execute(
            "SELECT details_json FROM audit_log WHERE agreement_id = ? AND action = 'tokens.deleted' ORDER BY seq", [agreement]
        ).fetchall()]  # fmt: skip
        assert [d["cause"] for d in deleted] == ["vendor's agreement secret changed", "revocation"]
        assert deleted[-1]["tokens"] == len(V3) + len(P2)
    finally:
        con.close()


def test_one_release_per_epoch(tmp_path: Path):
    coord = LocalCoordinator(tmp_path / "coord").init().start()
    try:
        profiles = {n: coord.add_party(n, tmp_path / n) for n in ("vendor", "partner")}
        agreement = client_json(
            profiles["vendor"], "agreement", "propose", "--with", "partner", "--populations", "customer,opportunity",
            "--continuous", "--epoch", "366d", "--min-count", "1", "--min-set-size", "10",
        )["agreement_id"]  # fmt: skip
        client_json(profiles["partner"], "agreement", "approve", agreement)
        v1, p1 = _write(tmp_path / "v1.csv", V1), _write(tmp_path / "p1.csv", P1)
        first, _ = _map_both(profiles, agreement, (v1, p1))
        refused = client(profiles["vendor"], "map", agreement, str(_write(tmp_path / "v2.csv", V2)), check=False)
        assert refused.returncode != 0
        assert "released a run in this epoch" in refused.stderr and "the next run can start at" in refused.stderr
        status = client_json(profiles["vendor"], "sync", agreement)
        assert [(s["run_id"], s["state"]) for s in status["agreements"]] == [(first["run_id"], "complete")]  # no run opened
    finally:
        coord.stop()
