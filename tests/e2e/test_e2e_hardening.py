"""Issue 13's findings 1, 2 and 5 over real processes (mTLS gRPC on loopback, the coordinator's DuckDB file):
a partner that re-blinds dishonestly is caught and nothing is released; a coordinator killed between a run's
last commit and its completion completes the run when it starts again; a suppressed cell cannot be
recovered from the total by subtraction. (Each has property and unit tests beside it in tests/unit; these
play the same attack through the shipped command line and a real coordinator process.)"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cleanroom.coordinator.uploads import FAULT_EXIT_BEFORE_COMPLETION
from cleanroom.demo.localrun import LocalCoordinator, client, client_json
from cleanroom.protocol import chunk_digest
from cleanroom.psi import POINT_SIZE
from cleanroom_client.profile import Profile
from cleanroom_client.protocol.keystore import Keystore
from cleanroom_client.protocol.reblind import reblind_points
from cleanroom_client.protocol.receipts import ReceiptLog
from cleanroom_client.protocol.signing import UploadSigner
from cleanroom_client.protocol.upload import upload_reblinded
from cleanroom_client.remote import Remote

pytestmark = pytest.mark.e2e


def _accounts(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("Account Name,Website,Type\n" + "".join(f"Co {d},{d},{t}\n" for d, t in rows), encoding="utf-8")
    return path


def _agree(parties: dict[str, Path], populations: str = "customer", partner_populations: str | None = None) -> str:
    args = ["agreement", "propose", "--with", "partner", "--populations", populations, "--min-set-size", "10"]
    if partner_populations:
        args += ["--their-populations", partner_populations]
    agreement_id = client_json(parties["vendor"], *args)["agreement_id"]
    client_json(parties["partner"], "agreement", "approve", agreement_id)
    return agreement_id


def _store_rows(coord: LocalCoordinator, sql: str, params: list) -> list[tuple]:
    with duckdb.connect(str(coord.data_dir / "coordinator.duckdb"), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def _rotate(points: bytes) -> bytes:
    return points[POINT_SIZE:] + points[:POINT_SIZE]


def _duplicate(points: bytes) -> bytes:
    return points[:POINT_SIZE] + points[:-POINT_SIZE]


@pytest.mark.parametrize("tamper", [_rotate, _duplicate], ids=["rotate", "duplicate"])
def test_a_partner_that_reblinds_dishonestly_is_caught_and_nothing_is_released(coordinator, parties, tmp_path, tamper):
    """Finding 1: the partner re-blinds the vendor's points honestly, then rotates (or duplicates within) each
    chunk -- same shape, valid points, signed with its own key -- and uploads them over real gRPC."""
    shared = [(f"shared-{i}.com", "Customer") for i in range(40)]
    files = {
        "vendor": _accounts(tmp_path / "vendor.csv", shared + [(f"vendor-{i}.com", "Customer") for i in range(30)]),
        "partner": _accounts(tmp_path / "partner.csv", shared + [(f"partner-{i}.com", "Customer") for i in range(30)]),
    }
    agreement_id = _agree(parties)
    client(parties["partner"], "map", agreement_id, str(files["partner"]))
    client(parties["vendor"], "map", agreement_id, str(files["vendor"]))  # also re-blinds the partner's points, honestly

    profile = Profile.load(parties["partner"])
    with Remote(profile) as remote:
        agreement, status = remote.get(agreement_id), remote.status(agreement_id)
        assert status.reblind_needed
        honest = reblind_points(remote, agreement, status, Keystore.of(profile).secret(agreement_id), profile)
        assert honest is not None
        chunks = [(tamper(p), b"", b"", chunk_digest(tamper(p)), b"", b"", b"") for p, *_ in honest.chunks]
        upload_reblinded(remote, agreement, status, chunks, ReceiptLog.of(profile), UploadSigner.of(profile))

    after = client_json(parties["vendor"], "sync", agreement_id)["agreements"]
    assert after[0]["state"] == "failed" and "partner" in after[0]["failure"], after
    refused = client(parties["vendor"], "overlap", agreement_id, check=False)
    assert refused.returncode != 0
    coordinator.stop()
    assert _store_rows(coordinator, "SELECT count(*) FROM releases", []) == [(0,)]
    violations = _store_rows(coordinator, "SELECT actor, details_json FROM audit_log WHERE action = 'protocol.violation'", [])
    assert len(violations) == 1 and json.loads(violations[0][1])["party"] == "partner"
    assert _store_rows(coordinator, "SELECT count(*) FROM chunks", []) == [(0,)]  # the failed run's points are gone


def test_a_coordinator_killed_between_the_last_commit_and_completion_completes_the_run_at_start(tmp_path, monkeypatch):
    """Finding 2: the run's fourth commit is recorded, then the coordinator dies before completing it (as
    kill -9 at that instant would). Before, the run stayed "collecting" forever; now start-up completes it."""
    coord = LocalCoordinator(tmp_path / "coordinator").init()
    monkeypatch.setenv(FAULT_EXIT_BEFORE_COMPLETION, "1")
    coord.start()
    monkeypatch.delenv(FAULT_EXIT_BEFORE_COMPLETION)
    try:
        parties = {name: coord.add_party(name, tmp_path / name) for name in ("vendor", "partner")}
        shared = [(f"shared-{i}.com", "Customer") for i in range(25)]
        agreement_id = _agree(parties)
        client(parties["partner"], "map", agreement_id, str(_accounts(tmp_path / "p.csv", [*shared, ("p1.com", "Customer")])))
        client(parties["vendor"], "map", agreement_id, str(_accounts(tmp_path / "v.csv", [*shared, ("v1.com", "Customer")])))
        died = client(parties["partner"], "sync", agreement_id, check=False)  # the fourth commit: the coordinator dies
        assert died.returncode != 0
        assert coord.process is not None and coord.process.wait(timeout=30) == 137
        coord.start()  # no fault this time
        views = {name: client_json(parties[name], "overlap", agreement_id) for name in parties}
        assert views["vendor"]["totals"]["overlap"] == views["partner"]["totals"]["overlap"] == 25
        assert views["vendor"]["run_id"] == views["partner"]["run_id"]
    finally:
        coord.stop()


def test_a_suppressed_cell_is_not_given_away_by_the_total(coordinator, parties, tmp_path):
    """Finding 5, the reported case: the vendor's customers x the partner's customers 40, its prospects x
    the partner's customers 3 (below the minimum of 5), total 43. Showing "< 5", 40 and 43 gives the 3 away."""
    shared_customers = [f"c-{i}.com" for i in range(40)]
    shared_prospects = [f"p-{i}.com" for i in range(3)]
    vendor = [(d, "Customer") for d in shared_customers] + [(d, "Prospect") for d in shared_prospects]
    vendor += [(f"v-{i}.com", "Customer") for i in range(20)]
    partner = [(d, "Customer") for d in shared_customers + shared_prospects] + [(f"x-{i}.com", "Customer") for i in range(20)]
    agreement_id = _agree(parties, "customer,prospect", "customer")
    client(parties["partner"], "map", agreement_id, str(_accounts(tmp_path / "partner.csv", partner)))
    client(parties["vendor"], "map", agreement_id, str(_accounts(tmp_path / "vendor.csv", vendor)))
    client(parties["partner"], "sync", agreement_id)  # re-blinds the vendor's points: the run completes
    view = client_json(parties["vendor"], "overlap", agreement_id)
    cells = {(c["mine"], c["theirs"]): c for c in view["cells"]}
    assert cells[("prospect", "customer")]["suppressed"]  # 3 < 5
    total_shown = not view["totals"]["overlap_suppressed"]
    customers_shown = not cells[("customer", "customer")]["suppressed"]
    assert not (total_shown and customers_shown), view  # else 43 - 40 = 3
    assert total_shown or customers_shown  # and only as much is hidden as needed: one of the two stays
    if customers_shown:
        assert cells[("customer", "customer")]["count"] == 40
    else:
        assert view["totals"]["overlap"] == 43
