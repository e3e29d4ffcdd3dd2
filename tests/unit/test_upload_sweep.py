"""Uploads begun and never committed are swept after the idle timeout (issue 13, finding 4: "refused and
abandoned uploads are never cleaned up"): their chunks leave the store, once audited; an upload still
receiving chunks and a committed one are untouched; the run takes a fresh upload and completes."""

from __future__ import annotations

import datetime as dt
import json
import struct
import time
from pathlib import Path

import pytest

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.limits import Limits
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.records import OWN, REBLINDED
from cleanroom.errors import FailedPrecondition, NotFound
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom_client.protocol.prepare import hash_context  # the client's own context, never retyped

from inprocess import _upload, agree, coordinator, domains, run

IDLE = 1.0


@pytest.fixture
def coord(tmp_path: Path):
    base, data_dir = coordinator(tmp_path)
    base.store.close()
    store = Store(data_dir.store_path, data_dir.signer())
    yield Coordinator(store, Limits(upload_idle_seconds=IDLE))
    store.close()


def _chunks(party: str, n: int, per_chunk: int) -> list[tuple[bytes, bytes, bytes]]:
    pts = blind(new_secret(), hash_to_points(domains(party, n), b"ctx"), workers=1)
    out = []
    for start in range(0, n, per_chunk):
        k = min(per_chunk, n - start)
        out.append(
            (
                pts[start * 32 : (start + k) * 32],
                struct.pack(f"<{k}I", *range(start, start + k)),
                struct.pack(f"<{k}H", *([1] * k)),
            )
        )
    return out


def _begin(coord: Coordinator, party: str, agreement: dict, chunks) -> dict:
    digests = [chunk_digest(*c) for c in chunks]
    n = sum(len(c[0]) // 32 for c in chunks)
    return coord.begin_upload(
        party,
        agreement["agreement_id"],
        agreement["terms_hash"],
        OWN,
        "",
        n,
        len(chunks),
        n,
        upload_digest(digests),
    )


def _put(coord: Coordinator, party: str, session: dict, seq: int, chunk) -> None:
    coord.put_chunk(party, session["upload_id"], seq, *chunk, chunk_digest(*chunk))


def _chunk_rows(coord: Coordinator, upload_id: str) -> int:
    return coord.store.row("SELECT count(*) AS n FROM chunks WHERE upload_id = ?", [upload_id])["n"]


def _abandoned_entries(coord: Coordinator) -> list[dict]:
    return coord.store.rows("SELECT * FROM audit_log WHERE action = 'upload.abandoned' ORDER BY seq")


def _touched(coord: Coordinator, upload_id: str) -> dt.datetime:
    found = coord.store.row("SELECT coalesce(touched_at, created_at) AS t FROM uploads WHERE upload_id = ?", [upload_id])
    return dt.datetime.fromisoformat(found["t"])


def test_an_idle_upload_is_swept_once_and_one_receiving_chunks_is_not(coord):
    agreement = agree(coord)
    left = _chunks("vendor", 60, 30)
    abandoned = _begin(coord, "vendor", agreement, left)
    _put(coord, "vendor", abandoned, 0, left[0])
    time.sleep(IDLE + 0.2)
    going = _chunks("partner", 60, 30)
    busy = _begin(coord, "partner", agreement, going)
    _put(coord, "partner", busy, 0, going[0])
    at = _touched(coord, busy["upload_id"]) + dt.timedelta(seconds=IDLE / 2)  # the busy one is idle for half the timeout

    assert coord.sweep_abandoned(at) == [abandoned["upload_id"]]
    assert _chunk_rows(coord, abandoned["upload_id"]) == 0
    assert coord.store.row("SELECT count(*) AS n FROM uploads WHERE upload_id = ?", [abandoned["upload_id"]])["n"] == 0
    assert _chunk_rows(coord, busy["upload_id"]) == 1
    entries = _abandoned_entries(coord)
    assert len(entries) == 1 and entries[0]["actor"] == "coordinator"
    details = json.loads(entries[0]["details_json"])
    assert details["upload_id"] == abandoned["upload_id"] and details["party"] == "vendor"
    assert (details["chunks"], details["points"], details["cause"]) == (1, 30, "idle")
    # Sweeping again finds nothing new to delete or audit.
    assert coord.sweep_abandoned(at) == []
    assert len(_abandoned_entries(coord)) == 1
    # The busy upload carries on and commits.
    _put(coord, "partner", busy, 1, going[1])
    assert coord.commit_upload("partner", busy["upload_id"])["total_points"] == 60


def test_a_chunk_for_a_swept_upload_is_refused_and_stores_nothing(coord):
    agreement = agree(coord)
    chunks = _chunks("vendor", 60, 30)
    session = _begin(coord, "vendor", agreement, chunks)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=IDLE + 1)
    assert coord.sweep_abandoned(later) == [session["upload_id"]]
    with pytest.raises(NotFound, match="begin the upload again"):
        _put(coord, "vendor", session, 0, chunks[0])
    assert coord.store.row("SELECT count(*) AS n FROM chunks")["n"] == 0


def test_a_chunk_arriving_between_the_sweeps_read_and_its_delete_keeps_the_upload(coord):
    agreement = agree(coord)
    chunks = _chunks("vendor", 60, 30)
    session = _begin(coord, "vendor", agreement, chunks)
    time.sleep(0.01)
    cutoff = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    assert [u.upload_id for u in coord.store.uploads.idle(cutoff)] == [session["upload_id"]]  # the sweep's read
    time.sleep(0.01)
    _put(coord, "vendor", session, 0, chunks[0])  # a chunk lands before the sweep deletes
    with coord.store.transaction() as con:
        assert coord.store.uploads.sweep(con, session["upload_id"], cutoff) is None
    assert _chunk_rows(coord, session["upload_id"]) == 1


def test_committed_uploads_are_never_swept(coord):
    agreement = agree(coord)
    chunks = _chunks("vendor", 60, 60)
    session = _begin(coord, "vendor", agreement, chunks)
    _put(coord, "vendor", session, 0, chunks[0])
    coord.commit_upload("vendor", session["upload_id"])
    assert coord.sweep_abandoned(dt.datetime.now(dt.UTC) + dt.timedelta(days=30)) == []
    assert _chunk_rows(coord, session["upload_id"]) == 1


def test_a_run_whose_upload_was_swept_takes_a_fresh_upload_and_completes(coord):
    agreement = agree(coord, min_set_size=10)
    chunks = _chunks("vendor", 60, 30)
    session = _begin(coord, "vendor", agreement, chunks)
    _put(coord, "vendor", session, 0, chunks[0])
    coord.sweep_abandoned(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=IDLE + 1))
    status = coord.status("vendor", agreement["agreement_id"])
    assert status["state"] == "collecting" and "your upload" in status["waiting_for"]
    run_id = run(coord, agreement, {"vendor": domains("v", 40), "partner": domains("v", 30)})
    assert run_id == session["run_id"]  # the run the swept upload opened, completed by the fresh ones


def test_an_upload_refused_at_commit_is_swept_like_an_abandoned_one(coord):
    agreement = agree(coord)
    chunks = _chunks("vendor", 60, 30)
    session = _begin(coord, "vendor", agreement, chunks)
    _put(coord, "vendor", session, 0, chunks[0])
    with pytest.raises(FailedPrecondition, match="missing 1 chunk"):
        coord.commit_upload("vendor", session["upload_id"])
    assert coord.sweep_abandoned(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=IDLE / 2)) == []  # not idle yet
    assert coord.sweep_abandoned(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=IDLE + 1)) == [session["upload_id"]]
    assert coord.store.row("SELECT count(*) AS n FROM chunks")["n"] == 0


def test_a_swept_reblinding_is_begun_again_and_the_run_completes(coord):
    agreement = agree(coord, min_set_size=10)
    secrets = {p: new_secret() for p in ("vendor", "partner")}
    context = hash_context(agreement["agreement_id"], "domain")
    for party in secrets:
        pts = blind(secrets[party], hash_to_points(domains("d", 30), context), workers=1)
        _upload(coord, party, agreement, OWN, pts, struct.pack("<30I", *range(30)), struct.pack("<30H", *[1] * 30), n_accounts=30)
    run_id = coord.status("vendor", agreement["agreement_id"])["run_id"]
    status = coord.status("partner", agreement["agreement_id"], run_id)
    peer = blind(secrets["partner"], next(iter(coord.peer_chunks("partner", run_id)))["points"], workers=1)
    digest = chunk_digest(peer)
    left = coord.begin_upload(
        "partner",
        agreement["agreement_id"],
        agreement["terms_hash"],
        REBLINDED,
        run_id,
        30,
        1,
        0,
        upload_digest([digest]),
        status["peer_upload_id"],
    )
    assert coord.sweep_abandoned(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=IDLE + 1)) == [left["upload_id"]]
    assert coord.status("partner", agreement["agreement_id"], run_id)["reblind_needed"]  # sync offers it again
    for party in ("partner", "vendor"):
        status = coord.status(party, agreement["agreement_id"], run_id)
        points = blind(secrets[party], next(iter(coord.peer_chunks(party, run_id)))["points"], workers=1)
        _upload(coord, party, agreement, REBLINDED, points, run_id=run_id, of_upload=status["peer_upload_id"])
    assert coord.status("vendor", agreement["agreement_id"], run_id)["state"] == "complete"
