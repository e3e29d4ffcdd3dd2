"""The coordinator's rules (cleanroom/coordinator/core.py), called directly: no gRPC.

A Store on a temporary DuckDB file; points blinded here with cleanroom.psi and
two secrets of our own; expected overlaps counted independently with sets.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time

import duckdb
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.limits import Limits
from cleanroom.coordinator.store import Store
from cleanroom.crypto.signing import Signer
from cleanroom.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points
from cleanroom.terms import build_terms, canonical_json

from inprocess import count, snapshot

VENDOR, PARTNER, MALLORY = "vendor", "partner", "mallory"
CHUNK = 16  # small chunks, so uploads have several


@pytest.fixture
def signer():
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture
def coord(tmp_path, signer):
    store = Store(tmp_path / "coordinator.duckdb", signer)
    yield Coordinator(store, Limits(max_points=1000, max_chunk_points=CHUNK))
    store.close()


def propose(coord, vendor_pops=("customer", "prospect"), partner_pops=("customer", "prospect", "opportunity"), **kw):
    terms = canonical_json(build_terms(VENDOR, PARTNER, list(vendor_pops), list(partner_pops), **kw))
    return coord.propose(VENDOR, PARTNER, terms)


def agree(coord, **kw):
    agr = propose(coord, **kw)
    return coord.approve(PARTNER, agr["agreement_id"], agr["terms_hash"])


def context(agr) -> bytes:
    return b"test|" + agr["agreement_id"].encode() + b"|domain"


def split(n: int) -> list[tuple[int, int]]:
    return [(s, min(n, s + CHUNK)) for s in range(0, n, CHUNK)]


def own_chunks(points: bytes, accounts: np.ndarray, masks: np.ndarray):
    n = len(points) // 32
    out = []
    for s, e in split(n):
        p = points[32 * s : 32 * e]
        a = accounts[s:e].astype("<u4").tobytes()
        m = masks[s:e].astype("<u2").tobytes()
        out.append((p, a, m, chunk_digest(p, a, m)))
    return out


def begin_own(coord, party, agr, chunks, total_accounts):
    n = sum(len(c[0]) for c in chunks) // 32
    return coord.begin_upload(
        party,
        agr["agreement_id"],
        agr["terms_hash"],
        "own",
        "",
        n,
        len(chunks),
        total_accounts,
        upload_digest([c[3] for c in chunks]),
    )


def upload_own(coord, party, agr, points, accounts, masks):
    chunks = own_chunks(points, accounts, masks)
    session = begin_own(coord, party, agr, chunks, len(set(accounts.tolist())))
    for seq, (p, a, m, d) in enumerate(chunks):
        coord.put_chunk(party, session["upload_id"], seq, p, a, m, d)
    return coord.commit_upload(party, session["upload_id"])


def reblind(coord, party, agr, secret):
    status = coord.status(party, agr["agreement_id"])
    assert status["reblind_needed"], status
    peer = list(coord.peer_chunks(party, status["run_id"]))
    assert [c["seq"] for c in peer] == list(range(status["peer_chunks"]))
    assert all(c["digest"] == hashlib.sha256(c["points"]).hexdigest() for c in peer)
    blinded = [blind(secret, c["points"], workers=1) for c in peer]
    digests = [chunk_digest(b) for b in blinded]
    session = coord.begin_upload(
        party,
        agr["agreement_id"],
        agr["terms_hash"],
        "reblinded",
        status["run_id"],
        status["peer_points"],
        status["peer_chunks"],
        0,
        upload_digest(digests),
        status["peer_upload_id"],
    )
    for seq, (b, d) in enumerate(zip(blinded, digests, strict=True)):
        coord.put_chunk(party, session["upload_id"], seq, b, b"", b"", d)
    return coord.commit_upload(party, session["upload_id"])


def random_points(agr, n: int, secret: bytes | None = None) -> bytes:
    keys = [f"k{i}-{secrets.token_hex(4)}.example" for i in range(n)]
    return blind(secret or secrets.token_bytes(32), hash_to_points(keys, context(agr)), workers=1)


# -- agreements ----------------------------------------------------------------------------


def test_propose_approve_list(coord):
    agr = propose(coord)
    assert agr["state"] == "proposed"
    assert agr["approved_by"] == [VENDOR]
    assert agr["terms_hash"] == hashlib.sha256(bytes(agr["terms_json"])).hexdigest()
    assert [a["agreement_id"] for a in coord.list(PARTNER)] == [agr["agreement_id"]]
    assert coord.list(MALLORY) == []
    approved = coord.approve(PARTNER, agr["agreement_id"], agr["terms_hash"])
    assert approved["state"] == "active"
    assert sorted(approved["approved_by"]) == [PARTNER, VENDOR]
    assert coord.get(VENDOR, agr["agreement_id"])["state"] == "active"
    # approving again is a no-op
    before = snapshot(coord)
    coord.approve(PARTNER, agr["agreement_id"], agr["terms_hash"])
    assert snapshot(coord) == before
    second = propose(coord)
    assert [a["agreement_id"] for a in coord.list(VENDOR)] == [agr["agreement_id"], second["agreement_id"]]


def test_propose_with_parties_not_matching_the_caller(coord):
    terms = canonical_json(build_terms(VENDOR, PARTNER, ["customer"]))
    with pytest.raises(InvalidArgument, match="proposer"):
        coord.propose(PARTNER, VENDOR, terms)
    with pytest.raises(InvalidArgument):
        coord.propose(MALLORY, PARTNER, terms)
    assert count(coord, "agreements") == 0


def test_approve_with_wrong_hash_fails_and_changes_nothing(coord):
    agr = propose(coord)
    before = snapshot(coord)
    wrong = hashlib.sha256(b"other terms").hexdigest()
    with pytest.raises(FailedPrecondition, match="terms"):
        coord.approve(PARTNER, agr["agreement_id"], wrong)
    assert snapshot(coord) == before
    assert coord.get(PARTNER, agr["agreement_id"])["state"] == "proposed"
    assert coord.get(PARTNER, agr["agreement_id"])["approved_by"] == [VENDOR]


def test_non_party_is_denied_everywhere(coord):
    agr = agree(coord)
    aid = agr["agreement_id"]
    before = snapshot(coord)
    for call in (
        lambda: coord.get(MALLORY, aid),
        lambda: coord.approve(MALLORY, aid, agr["terms_hash"]),
        lambda: coord.begin_upload(MALLORY, aid, agr["terms_hash"], "own", "", 60, 4, 60, "0" * 64),
        lambda: coord.status(MALLORY, aid),
        lambda: coord.overlap(MALLORY, aid),
        lambda: coord.revoke(MALLORY, aid, "because"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert snapshot(coord) == before


def test_unknown_agreement_is_not_found(coord):
    with pytest.raises(NotFound):
        coord.get(VENDOR, "agr_doesnotexist")


# -- begin_upload --------------------------------------------------------------------------


def test_begin_upload_before_approval_fails(coord):
    agr = propose(coord, min_set_size=3)
    points = random_points(agr, 4)
    chunks = own_chunks(points, np.arange(4), np.ones(4))
    before = snapshot(coord)
    with pytest.raises(FailedPrecondition, match="not approved"):
        begin_own(coord, VENDOR, agr, chunks, 4)
    assert snapshot(coord) == before


def test_begin_upload_with_stale_terms_hash_fails(coord):
    agr = agree(coord, min_set_size=3)
    stale = {**agr, "terms_hash": hashlib.sha256(b"old").hexdigest()}
    chunks = own_chunks(random_points(agr, 4), np.arange(4), np.ones(4))
    with pytest.raises(FailedPrecondition):
        begin_own(coord, VENDOR, stale, chunks, 4)
    assert count(coord, "runs") == 0


def test_set_below_minimum_size_is_refused(coord):
    agr = agree(coord)  # default min_set_size 50
    n = 49
    chunks = own_chunks(random_points(agr, n), np.arange(n), np.ones(n))
    before = snapshot(coord)
    with pytest.raises(FailedPrecondition, match="minimum set size of 50"):
        begin_own(coord, VENDOR, agr, chunks, n)
    assert snapshot(coord) == before
    # 50 accounts are enough
    chunks = own_chunks(random_points(agr, 50), np.arange(50), np.ones(50))
    assert begin_own(coord, VENDOR, agr, chunks, 50)["received_chunks"] == []


def test_upload_over_max_points_is_resource_exhausted(coord):
    agr = agree(coord, min_set_size=3)
    before = snapshot(coord)
    with pytest.raises(ResourceExhausted, match="1,000"):
        coord.begin_upload(VENDOR, agr["agreement_id"], agr["terms_hash"], "own", "", 1001, 63, 1001, "0" * 64)
    assert snapshot(coord) == before
    # exactly the limit is fine
    coord.begin_upload(VENDOR, agr["agreement_id"], agr["terms_hash"], "own", "", 1000, 63, 1000, "0" * 64)


def test_too_few_chunks_for_the_points_is_invalid(coord):
    agr = agree(coord, min_set_size=3)
    with pytest.raises(InvalidArgument, match="chunks"):
        coord.begin_upload(VENDOR, agr["agreement_id"], agr["terms_hash"], "own", "", 33, 2, 33, "0" * 64)  # 33 > 2*16


# -- chunks --------------------------------------------------------------------------------


@pytest.fixture
def open_upload(coord):
    """An approved agreement and an open OWN upload of 40 points (3 chunks) by the vendor."""
    agr = agree(coord, min_set_size=3, min_count=2)
    n = 40
    points = random_points(agr, n)
    chunks = own_chunks(points, np.arange(n), np.ones(n))
    session = begin_own(coord, VENDOR, agr, chunks, n)
    return agr, session, chunks


def _refused(coord, exc, call, match=None):
    before = snapshot(coord)
    with pytest.raises(exc, match=match):
        call()
    assert snapshot(coord) == before


def test_chunk_out_of_order_is_refused(coord, open_upload):
    _, session, chunks = open_upload
    p, a, m, d = chunks[1]
    _refused(coord, InvalidArgument, lambda: coord.put_chunk(VENDOR, session["upload_id"], 1, p, a, m, d), "out of order")
    assert count(coord, "chunks") == 0


def test_chunk_out_of_range_is_refused(coord, open_upload):
    _, session, chunks = open_upload
    p, a, m, d = chunks[0]
    _refused(coord, InvalidArgument, lambda: coord.put_chunk(VENDOR, session["upload_id"], 3, p, a, m, d), "out of range")


def test_chunk_with_bad_digest_is_refused(coord, open_upload):
    _, session, chunks = open_upload
    p, a, m, d = chunks[0]
    tampered = bytes([p[0] ^ 1]) + p[1:]
    _refused(coord, InvalidArgument, lambda: coord.put_chunk(VENDOR, session["upload_id"], 0, tampered, a, m, d), "digest")
    _refused(coord, InvalidArgument, lambda: coord.put_chunk(VENDOR, session["upload_id"], 0, p, a, m, "0" * 64), "digest")
    assert count(coord, "chunks") == 0


@pytest.mark.parametrize(
    "bad_point",
    [
        (0).to_bytes(32, "little"),  # u = 0: order 2, every token would be zero
        (1).to_bytes(32, "little"),  # u = 1: order 4
        (2**255 - 20).to_bytes(32, "little"),  # u = p - 1: order 4
        (325606250916557431795983626356110631294008115727848805560023387167927233504).to_bytes(32, "little"),  # order 8
        b"\x09" + b"\x00" * 30 + b"\x80",  # top bit set: not canonical
        (2**255 - 19).to_bytes(32, "little"),  # u = p: not canonical
    ],
    ids=["zero", "one", "p-1", "order8", "topbit", "u=p"],
)
def test_low_order_or_non_canonical_point_is_refused(coord, open_upload, bad_point):
    _, session, chunks = open_upload
    p, a, m, _ = chunks[0]
    bad = p[:64] + bad_point + p[96:]
    digest = chunk_digest(bad, a, m)  # a correct digest: the point itself is the problem
    _refused(coord, InvalidArgument, lambda: coord.put_chunk(VENDOR, session["upload_id"], 0, bad, a, m, digest), "point 2")
    assert count(coord, "chunks") == 0


def test_wrong_length_points_are_refused(coord, open_upload):
    _, session, chunks = open_upload
    p, a, m, _ = chunks[0]
    short = p[:-1]
    _refused(
        coord,
        InvalidArgument,
        lambda: coord.put_chunk(VENDOR, session["upload_id"], 0, short, a, m, chunk_digest(short, a, m)),
        "multiple of 32",
    )


def test_account_label_out_of_range_is_refused(coord, open_upload):
    _, session, chunks = open_upload
    p, _, m, _ = chunks[0]
    labels = np.arange(CHUNK, dtype="<u4")
    labels[5] = 40  # total_accounts is 40: labels are 0..39
    a = labels.tobytes()
    _refused(
        coord,
        InvalidArgument,
        lambda: coord.put_chunk(VENDOR, session["upload_id"], 0, p, a, m, chunk_digest(p, a, m)),
        "account label 40",
    )
    assert count(coord, "chunks") == 0


@pytest.mark.parametrize("mask", [0, 4, 0x8000], ids=["empty", "third-of-two", "bit15"])
def test_population_mask_out_of_range_is_refused(coord, open_upload, mask):
    _, session, chunks = open_upload
    p, a, _, _ = chunks[0]
    masks = np.ones(CHUNK, dtype="<u2")
    masks[3] = mask  # the vendor brings 2 populations: valid masks are 1..3
    m = masks.tobytes()
    _refused(
        coord,
        InvalidArgument,
        lambda: coord.put_chunk(VENDOR, session["upload_id"], 0, p, a, m, chunk_digest(p, a, m)),
        "population masks",
    )


def test_labels_of_wrong_length_are_refused(coord, open_upload):
    _, session, chunks = open_upload
    p, a, m, _ = chunks[0]
    _refused(
        coord,
        InvalidArgument,
        lambda: coord.put_chunk(VENDOR, session["upload_id"], 0, p, a[:-4], m, chunk_digest(p, a[:-4], m)),
        "label",
    )


def test_other_party_cannot_write_into_an_upload(coord, open_upload):
    _, session, chunks = open_upload
    p, a, m, d = chunks[0]
    _refused(coord, PermissionDenied, lambda: coord.put_chunk(PARTNER, session["upload_id"], 0, p, a, m, d))
    _refused(coord, PermissionDenied, lambda: coord.commit_upload(PARTNER, session["upload_id"]))


def test_repeated_chunk_is_idempotent(coord, open_upload):
    _, session, chunks = open_upload
    p, a, m, d = chunks[0]
    assert coord.put_chunk(VENDOR, session["upload_id"], 0, p, a, m, d) == [0]
    before = snapshot(coord)
    assert coord.put_chunk(VENDOR, session["upload_id"], 0, p, a, m, d) == [0]
    assert snapshot(coord) == before
    assert count(coord, "chunks") == 1
    # same seq, different content: refused, the stored chunk stays
    p2, a2, m2, d2 = chunks[1]
    _refused(
        coord, InvalidArgument, lambda: coord.put_chunk(VENDOR, session["upload_id"], 0, p2, a2, m2, d2), "different content"
    )
    stored = coord.store.row("SELECT digest FROM chunks WHERE upload_id = ? AND seq = 0", [session["upload_id"]])
    assert stored["digest"] == d


def test_commit_with_missing_chunks_fails(coord, open_upload):
    agr, session, chunks = open_upload
    p, a, m, d = chunks[0]
    coord.put_chunk(VENDOR, session["upload_id"], 0, p, a, m, d)
    _refused(coord, FailedPrecondition, lambda: coord.commit_upload(VENDOR, session["upload_id"]), "missing 2 chunk")
    assert coord.store.row("SELECT committed FROM uploads WHERE upload_id = ?", [session["upload_id"]])["committed"] is False
    # resuming: begin again with the same digest returns the same upload and what arrived
    again = begin_own(coord, VENDOR, agr, chunks, 40)
    assert again["upload_id"] == session["upload_id"]
    assert again["received_chunks"] == [0]
    for seq in (1, 2):
        coord.put_chunk(VENDOR, session["upload_id"], seq, *chunks[seq])
    receipt = coord.commit_upload(VENDOR, session["upload_id"])
    assert receipt["total_points"] == 40 and receipt["total_chunks"] == 3


def test_commit_with_fewer_distinct_accounts_than_announced_fails(coord):
    agr = agree(coord, min_set_size=3)
    n = 20
    chunks = own_chunks(random_points(agr, n), np.arange(n) % 10, np.ones(n))  # 10 distinct labels
    session = begin_own(coord, VENDOR, agr, chunks, 12)
    for seq, c in enumerate(chunks):
        coord.put_chunk(VENDOR, session["upload_id"], seq, *c)
    _refused(coord, InvalidArgument, lambda: coord.commit_upload(VENDOR, session["upload_id"]), "announced 12 accounts")


def test_revoked_agreement_accepts_no_more_points(coord, open_upload):
    """Revocation purges the run's points; an upload still open must not refill the store.

    Revoke sets the run to 'revoked' and deletes its chunks, but put_chunk/commit_upload
    do not look at the run's state, so a client that keeps uploading stores points again,
    and nothing ever deletes them (purge_expired only visits 'complete' runs).
    """
    agr, session, chunks = open_upload
    coord.put_chunk(VENDOR, session["upload_id"], 0, *chunks[0])
    coord.revoke(PARTNER, agr["agreement_id"], "deal is off")
    assert count(coord, "chunks") == 0
    assert coord.store.row("SELECT state FROM runs")["state"] == "revoked"
    with pytest.raises(FailedPrecondition):
        coord.put_chunk(VENDOR, session["upload_id"], 0, *chunks[0])
    with pytest.raises(FailedPrecondition):
        coord.put_chunk(VENDOR, session["upload_id"], 1, *chunks[1])
    assert count(coord, "chunks") == 0
    with pytest.raises(FailedPrecondition):
        coord.commit_upload(VENDOR, session["upload_id"])


# -- a full run ------------------------------------------------------------------------------

V_POPS = ("customer", "prospect")
P_POPS = ("customer", "prospect", "opportunity")


def _dataset():
    """Vendor and partner accounts: key -> population index. 45 keys shared."""
    shared = [f"shared{i}.example" for i in range(45)]
    vendor_keys = shared + [f"vendor-only{i}.example" for i in range(20)]
    partner_keys = shared[::-1] + [f"partner-only{i}.example" for i in range(15)]
    vendor = {k: (0 if i % 4 else 1) for i, k in enumerate(vendor_keys)}  # ~3/4 customers
    partner = {k: (2 if i % 9 == 0 else i % 2) for i, k in enumerate(partner_keys)}
    return vendor, partner


def _expected_matrix(vendor: dict, partner: dict) -> list[list[int]]:
    m = [[0] * len(P_POPS) for _ in V_POPS]
    for key in set(vendor) & set(partner):
        m[vendor[key]][partner[key]] += 1
    return m


def _upload_side(coord, party, agr, accounts: dict, secret: bytes, rng):
    keys = list(accounts)
    rng.shuffle(keys)
    points = blind(secret, hash_to_points(keys, context(agr)), workers=1)
    labels = np.arange(len(keys))
    masks = np.array([1 << accounts[k] for k in keys])
    return upload_own(coord, party, agr, points, labels, masks)


def test_full_two_party_run(coord, signer):
    agr = agree(coord, vendor_pops=V_POPS, partner_pops=P_POPS)  # defaults: k = 5, min set 50, retention 0
    aid = agr["agreement_id"]
    vendor, partner = _dataset()
    a, b = secrets.token_bytes(32), secrets.token_bytes(32)
    rng = np.random.default_rng(7)

    receipt = _upload_side(coord, VENDOR, agr, vendor, a, rng)
    assert receipt["party"] == VENDOR and receipt["kind"] == "own" and receipt["total_points"] == 65
    with pytest.raises(FailedPrecondition, match="no complete run"):
        coord.overlap(VENDOR, aid)
    assert coord.status(PARTNER, aid)["reblind_needed"] is True
    _upload_side(coord, PARTNER, agr, partner, b, rng)
    reblind(coord, VENDOR, agr, a)
    assert coord.status(VENDOR, aid)["state"] == "collecting"
    assert count(coord, "chunks") > 0
    reblind(coord, PARTNER, agr, b)
    status = coord.status(VENDOR, aid)
    assert status["state"] == "complete" and status["waiting_for"] == []

    # retention 0: every blinded point is gone once the run completes
    assert count(coord, "chunks") == 0

    expected = _expected_matrix(vendor, partner)
    assert sum(map(sum, expected)) == 45
    flat = [c for row in expected for c in row]
    assert any(c < 5 for c in flat) and any(c >= 5 for c in flat), "the data set must exercise suppression"

    release = coord.overlap(VENDOR, aid)
    cells = {(c["mine"], c["theirs"]): c["count"] for c in release["cells"]}
    assert cells == {
        (V_POPS[i], P_POPS[j]): (expected[i][j] if expected[i][j] >= 5 else None)
        for i in range(len(V_POPS))
        for j in range(len(P_POPS))
    }
    assert release["totals"]["mine"] == 65 and release["totals"]["theirs"] == 60
    assert release["totals"]["overlap"] == 45
    assert release["viewer"] == VENDOR and release["run_id"] == status["run_id"]

    partner_release = coord.overlap(PARTNER, aid)
    partner_cells = {(c["mine"], c["theirs"]): c["count"] for c in partner_release["cells"]}
    assert partner_cells == {(t, m): v for (m, t), v in cells.items()}
    assert partner_release["totals"]["overlap"] == 45

    # a release is stored: asking again returns the same body
    assert coord.overlap(VENDOR, aid) == release
    assert count(coord, "releases") == 2

    # the stored result holds the exact matrix, oriented vendor x partner
    stored = json.loads(coord.store.row("SELECT body_json FROM results WHERE run_id = ?", [status["run_id"]])["body_json"])
    assert stored["matrix"] == expected and stored["overlap"] == 45

    _check_audit_chain(coord, signer)


def test_both_parties_beginning_at_once_join_one_run(coord, monkeypatch):
    # The demo's two clients upload at the same moment. Widen the gap between "is there an open run?"
    # and "open one" so that, were the two steps not one, each side would open a run of its own.
    agr = agree(coord)
    looked_up = coord.store.runs.open_run

    def slow_lookup(*args):
        found = looked_up(*args)
        time.sleep(0.2)
        return found

    monkeypatch.setattr(coord.store.runs, "open_run", slow_lookup)
    barrier = threading.Barrier(2)
    sessions: dict[str, dict] = {}

    def begin(party: str) -> None:
        n = 60
        chunks = own_chunks(random_points(agr, n), np.arange(n), np.ones(n, dtype=np.uint16))
        barrier.wait()
        sessions[party] = begin_own(coord, party, agr, chunks, n)

    threads = [threading.Thread(target=begin, args=(p,)) for p in (VENDOR, PARTNER)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sessions[VENDOR]["run_id"] == sessions[PARTNER]["run_id"]
    assert count(coord, "runs") == 1


def test_run_with_wrong_secret_on_one_side_finds_no_overlap(coord):
    """Sanity check that the count above comes from the blinding: mismatched secrets match nothing."""
    agr = agree(coord, vendor_pops=V_POPS, partner_pops=P_POPS)
    vendor, partner = _dataset()
    a, b, wrong = (secrets.token_bytes(32) for _ in range(3))
    rng = np.random.default_rng(1)
    _upload_side(coord, VENDOR, agr, vendor, a, rng)
    _upload_side(coord, PARTNER, agr, partner, b, rng)
    reblind(coord, VENDOR, agr, wrong)
    reblind(coord, PARTNER, agr, b)
    stored = json.loads(coord.store.row("SELECT body_json FROM results")["body_json"])
    assert stored["overlap"] == 0


def _check_audit_chain(coord, signer):
    rows = coord.store.rows("SELECT * FROM audit_log ORDER BY seq")
    assert len(rows) >= 8
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["prev_hash"] == "0" * 64
    public = signer._key.public_key()
    for prev, row in zip([None, *rows[:-1]], rows, strict=True):
        if prev is not None:
            assert row["prev_hash"] == prev["entry_hash"]
        body = {
            "seq": row["seq"],
            "at": row["logged_at"],
            "actor": row["actor"],
            "action": row["action"],
            "agreement_id": row["agreement_id"],
            "details": json.loads(row["details_json"]),
            "prev_hash": row["prev_hash"],
        }
        recomputed = hashlib.sha256(
            json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
        assert row["entry_hash"] == recomputed, row["action"]
        public.verify(bytes(row["signature"]), bytes.fromhex(row["entry_hash"]))  # raises if forged
    actions = [r["action"] for r in rows]
    for action in (
        "agreement.proposed",
        "agreement.approved",
        "run.started",
        "upload.committed",
        "run.completed",
        "points.deleted",
        "release.overlap",
    ):
        assert action in actions, action
    assert actions.count("upload.committed") == 4
    # upload entries carry sizes and digests, never points
    for r in rows:
        assert "points" not in json.loads(r["details_json"]) or isinstance(json.loads(r["details_json"])["points"], int)


def test_large_release_bodies_are_stored_compressed_and_read_back_whole(coord):
    from cleanroom.coordinator.store import INLINE_RELEASE_BYTES, NewRelease, StoredBody, release_text

    small = json.dumps({"cells": [1, 2, 3]})
    large = json.dumps({"deals": [{"ref": i, "credits": {"partner": f"{i}.00"}} for i in range(20_000)]})
    assert len(small) <= INLINE_RELEASE_BYTES < len(large)
    with coord.store.transaction() as con:
        coord.store.releases.insert(
            con, NewRelease("rel_small", "agr_x", "run_x", VENDOR, "overlap", "2026-01-01T00:00:00Z"), small
        )
        coord.store.releases.insert(
            con, NewRelease("rel_large", "agr_x", "run_x", VENDOR, "attribution", "2026-01-01T00:00:00Z"), large
        )
    rows = {r["release_id"]: r for r in coord.store.rows("SELECT * FROM releases ORDER BY release_id")}
    assert rows["rel_small"]["body_json"] == small and rows["rel_small"]["body_zlib"] is None
    assert rows["rel_large"]["body_json"] == "" and len(rows["rel_large"]["body_zlib"]) < len(large) // 4
    stored = {k: StoredBody(r["body_json"], r.get("body_zlib")) for k, r in rows.items()}
    assert release_text(stored["rel_small"]) == small and release_text(stored["rel_large"]) == large
    # A row read from a store made before the column existed has no body_zlib at all.
    assert release_text(StoredBody(small, None)) == small


# The schema statements of the store before migrations were recorded (commit faee0d3), run at each start
# by that code: a data dir it created must open, record its migrations and carry on.
_SCHEMA_BEFORE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS agreements (
    agreement_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    proposer TEXT NOT NULL,
    counterparty TEXT NOT NULL,
    terms_json BLOB NOT NULL,
    terms_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
    agreement_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    party TEXT NOT NULL,
    terms_hash TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    PRIMARY KEY (agreement_id, version, party)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    terms_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT,
    purpose TEXT NOT NULL DEFAULT 'overlap'
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    party TEXT NOT NULL,
    kind TEXT NOT NULL,
    total_points UBIGINT NOT NULL,
    total_chunks UINTEGER NOT NULL,
    total_accounts UBIGINT NOT NULL,
    upload_digest TEXT NOT NULL,
    of_upload TEXT,
    committed BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    committed_at TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    upload_id TEXT NOT NULL,
    seq UINTEGER NOT NULL,
    n_points UINTEGER NOT NULL,
    points BLOB NOT NULL,
    accounts BLOB,
    populations BLOB,
    digest TEXT NOT NULL,
    records BLOB,
    PRIMARY KEY (upload_id, seq)
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL,
    body_json TEXT NOT NULL,
    computed_at TEXT NOT NULL
);
-- An attribution run's link (cleanroom/coordinator/linkage.py): the vendor's DEAL records and the
-- partner's TOUCH records re-keyed to the vendor's account labels; pseudonymous, no token.
CREATE TABLE IF NOT EXISTS attribution_links (
    run_id TEXT PRIMARY KEY,
    deals BLOB NOT NULL,
    touches BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
    release_id TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    viewer TEXT NOT NULL,
    kind TEXT NOT NULL,
    body_json TEXT NOT NULL,
    released_at TEXT NOT NULL,
    epsilon DOUBLE NOT NULL DEFAULT 0
);
-- Account-level reveal (cleanroom/crypto/sealed.py): each party's X25519 public key per
-- agreement, as the party gave it with its proposal or approval (relayed, never used here).
CREATE TABLE IF NOT EXISTS encryption_keys (
    agreement_id TEXT NOT NULL,
    party TEXT NOT NULL,
    public_x25519 BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (agreement_id, party)
);
-- The rows a completed run may reveal to a viewer (matched, on a granted pair whose cell
-- reaches min_count), with the other side's sealed fields: kept from the run's completion
-- until the viewer's release takes them over (or the agreement is revoked).
CREATE TABLE IF NOT EXISTS reveal_rows (
    run_id TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    viewer TEXT NOT NULL,
    seq UBIGINT NOT NULL,
    account UBIGINT NOT NULL,
    their_account UBIGINT NOT NULL,
    theirs TEXT NOT NULL,
    sealed BLOB,
    PRIMARY KEY (run_id, viewer, seq)
);
ALTER TABLE chunks ADD COLUMN IF NOT EXISTS sealed BLOB;
ALTER TABLE releases ADD COLUMN IF NOT EXISTS body_zlib BLOB;
CREATE TABLE IF NOT EXISTS audit_log (
    seq UBIGINT PRIMARY KEY,
    logged_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    agreement_id TEXT,
    details_json TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    signature BLOB NOT NULL
);
-- REST/web API keys (cleanroom.coordinator.web.auth): only a SHA-256 of each key is kept.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    party TEXT NOT NULL,
    role TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


def _store_made_by(tmp_path, schema: str):
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(schema)
    con.close()
    return path


@pytest.mark.parametrize("widened", [True, False], ids=["previous-code", "before-the-widenings"])
def test_a_store_made_before_migrations_opens_migrates_and_maps(tmp_path, signer, widened):
    from cleanroom.coordinator.store.schema import MIGRATIONS

    import inprocess

    schema = _SCHEMA_BEFORE_MIGRATIONS
    if not widened:  # the tables as they were before ALTER TABLE added the sealed and body_zlib columns
        schema = schema.replace("ALTER TABLE chunks ADD COLUMN IF NOT EXISTS sealed BLOB;", "")
        schema = schema.replace("ALTER TABLE releases ADD COLUMN IF NOT EXISTS body_zlib BLOB;", "")
    path = _store_made_by(tmp_path, schema)
    store = Store(path, signer)
    try:
        versions = [r["version"] for r in store.rows("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [m.version for m in MIGRATIONS]
        columns = {r["column_name"] for r in store.rows("SELECT column_name FROM duckdb_columns() WHERE table_name = 'chunks'")}
        assert "sealed" in columns
        coord = Coordinator(store)
        agr = inprocess.agree(coord)
        inprocess.run(coord, agr, {VENDOR: inprocess.domains("a", 80), PARTNER: inprocess.domains("a", 140)[20:]})
        assert coord.overlap(VENDOR, agr["agreement_id"])["totals"]["overlap"] == 60
    finally:
        store.close()
    reopened = Store(path, signer)  # nothing left to apply: the ledger is complete
    try:
        assert reopened.row("SELECT count(*) AS n FROM schema_migrations")["n"] == len(MIGRATIONS)
    finally:
        reopened.close()


def test_a_new_store_records_every_migration_once(tmp_path, signer):
    from cleanroom.coordinator.store.schema import MIGRATIONS, migrate

    store = Store(tmp_path / "new.duckdb", signer)
    try:
        assert [r["version"] for r in store.rows("SELECT version FROM schema_migrations ORDER BY version")] == [
            m.version for m in MIGRATIONS
        ]
        with store.reading() as con:
            assert migrate(con) == []
    finally:
        store.close()


def test_terms_are_parsed_once_per_agreement_version_not_per_chunk(coord, monkeypatch):
    import cleanroom.coordinator.agreements as agreements_module

    agr = agree(coord)
    parsed = []
    real = agreements_module.parse_terms
    monkeypatch.setattr(agreements_module, "parse_terms", lambda raw: parsed.append(raw) or real(raw))
    n = 4 * CHUNK
    upload_own(coord, VENDOR, agr, random_points(agr, n), np.arange(n), np.ones(n, dtype=int))
    assert coord.status(VENDOR, agr["agreement_id"])["parties"][0]["uploaded"]
    assert parsed == []  # the terms parsed when the agreement was approved serve every chunk
    revoked = coord.revoke(VENDOR, agr["agreement_id"], "done")
    assert revoked["state"] == "revoked" and parsed == []


# -- the gRPC adapter's one decorator ------------------------------------------------------


class _Aborted(Exception):
    pass


class _Context:
    """A servicer context with a party certificate of ``party``; abort raises, as grpc's does."""

    def __init__(self, party: str) -> None:
        self.party = party
        self.aborted: tuple | None = None

    def auth_context(self):
        return {"x509_common_name": [self.party.encode()]}

    def abort(self, code, details):
        self.aborted = (code, details)
        raise _Aborted(details)


@pytest.mark.parametrize("streaming", [False, True], ids=["unary", "server-streaming"])
def test_the_rpc_decorator_audits_a_refusal_and_ends_the_call_with_its_status(coord, streaming):
    import grpc

    from cleanroom.coordinator.grpc.service import AgreementService, ResultService
    from cleanroom.v1 import agreements_pb2, results_pb2

    agr = agree(coord)
    context = _Context(MALLORY)
    with pytest.raises(_Aborted):
        if streaming:
            list(ResultService(coord).GetReveal(results_pb2.GetRevealRequest(agreement_id=agr["agreement_id"]), context))
        else:
            AgreementService(coord).Get(agreements_pb2.GetAgreementRequest(agreement_id=agr["agreement_id"]), context)
    assert context.aborted is not None and context.aborted[0] == grpc.StatusCode.PERMISSION_DENIED
    denied = coord.store.rows("SELECT actor, agreement_id, details_json FROM audit_log WHERE action = 'request.denied'")
    assert [(d["actor"], d["agreement_id"]) for d in denied] == [(MALLORY, agr["agreement_id"])]
    assert json.loads(denied[0]["details_json"])["method"] == ("GetReveal" if streaming else "Get")


def test_a_refused_call_with_a_huge_agreement_id_leaves_a_small_audit_entry(coord):
    """A caller controls what it sends, not how much of it is kept forever: a 4 MiB id is refused and
    audited in under a kilobyte, with no agreement named (the junk id is not an agreement's)."""
    from cleanroom.coordinator.grpc.service import AgreementService
    from cleanroom.v1 import agreements_pb2

    huge = "agr_" + "x" * (4 * 1024 * 1024)
    context = _Context(MALLORY)
    with pytest.raises(_Aborted):
        AgreementService(coord).Get(agreements_pb2.GetAgreementRequest(agreement_id=huge), context)
    denied = coord.store.rows("SELECT agreement_id, details_json FROM audit_log WHERE action = 'request.denied'")
    assert len(denied) == 1 and denied[0]["agreement_id"] is None
    assert len(denied[0]["details_json"]) < 1024
    assert json.loads(denied[0]["details_json"])["code"] == context.aborted[0].name


# -- limits on what a caller can make the coordinator hold (issue 13, finding 4) ----------------------


def test_terms_over_the_ceiling_are_refused_and_change_nothing(coord):
    from cleanroom.terms import MAX_TERMS_BYTES

    before = snapshot(coord)
    huge = canonical_json({**build_terms(VENDOR, PARTNER, ["customer"]), "padding": "x" * MAX_TERMS_BYTES})
    with pytest.raises(InvalidArgument, match="over the limit"):
        coord.propose(VENDOR, PARTNER, huge)
    assert snapshot(coord) == before


def test_an_upload_announcing_millions_of_chunks_is_refused_before_any_bookkeeping(coord):
    agr = agree(coord)
    roomy = Coordinator(coord.store, Limits(max_points=5_000_000, max_chunk_points=CHUNK))  # the default point limit
    before = snapshot(coord)
    with pytest.raises(ResourceExhausted, match="5,000,000 chunks"):
        roomy.begin_upload(VENDOR, agr["agreement_id"], agr["terms_hash"], "own", "", 5_000_000, 5_000_000, 100, "0" * 64)
    assert snapshot(coord) == before


def test_a_party_has_at_most_so_many_proposals_waiting(coord):
    from cleanroom.coordinator.limits import MAX_OPEN_PROPOSALS

    for _ in range(MAX_OPEN_PROPOSALS):
        propose(coord)
    before = snapshot(coord)
    with pytest.raises(ResourceExhausted, match="proposals waiting for approval"):
        propose(coord)
    assert snapshot(coord) == before
    waiting = coord.list(VENDOR)[0]
    coord.revoke(VENDOR, waiting["agreement_id"], "withdrawn")
    assert propose(coord)["state"] == "proposed"  # one withdrawn: room for one more


def test_an_internal_failure_is_answered_internal_without_its_details(coord, monkeypatch):
    """Issue 13, smaller findings: a DuckDB error (naming a server path) reached clients as UNKNOWN with its text."""
    import duckdb
    import grpc

    from cleanroom.coordinator.grpc.service import AgreementService
    from cleanroom.v1 import agreements_pb2

    def broken(*args, **kwargs):
        raise duckdb.IOException("IO Error: Could not read from file /srv/cleanroom/coordinator.duckdb")

    monkeypatch.setattr(coord, "list", broken)
    context = _Context(VENDOR)
    with pytest.raises(_Aborted):
        AgreementService(coord).List(agreements_pb2.ListAgreementsRequest(), context)
    code, details = context.aborted
    assert code == grpc.StatusCode.INTERNAL and "/srv/cleanroom" not in details and "internal error" in details


def test_a_refusal_whose_audit_fails_is_still_the_refusal_without_the_stores_text(coord, monkeypatch):
    """The audit helper's note: when writing a refused request's audit entry failed, the DuckDB text reached
    the client as UNKNOWN. The caller gets its refusal (nothing changed), the failure goes to the log."""
    import duckdb
    import grpc

    from cleanroom.coordinator.grpc.service import AgreementService
    from cleanroom.v1 import agreements_pb2

    def broken(*args, **kwargs):
        raise duckdb.IOException("IO Error: Could not write to file /srv/cleanroom/coordinator.duckdb")

    monkeypatch.setattr(coord, "audit_denial", broken)
    context = _Context(VENDOR)
    with pytest.raises(_Aborted):
        AgreementService(coord).Get(agreements_pb2.GetAgreementRequest(agreement_id="agr_missing"), context)
    code, details = context.aborted
    assert code == grpc.StatusCode.NOT_FOUND and "agr_missing" in details and "/srv/cleanroom" not in details


def test_proposing_and_revoking_in_a_loop_is_bounded_and_stays_out_of_the_partners_list(tmp_path):
    """The adversarial review: the open-proposal quota counted only proposals still waiting, so proposing and
    revoking 300 times (75 MiB of terms) broke the counterparty's `agreement list` and `sync` (one gRPC
    message over 64 MiB), and the store grew without bound."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    store = Store(tmp_path / "coordinator.duckdb", Signer(Ed25519PrivateKey.generate()))
    coord = Coordinator(store, Limits(max_proposals_per_day=5))
    try:
        kept = agree(coord)  # approved by the partner: stays in its list, revoked or not
        for _ in range(4):
            churned = propose(coord)
            coord.revoke(VENDOR, churned["agreement_id"], "churn")
        before = snapshot(coord)
        with pytest.raises(ResourceExhausted, match="proposals in the last 24 hours, revoked ones included"):
            propose(coord)
        assert snapshot(coord) == before
        coord.revoke(VENDOR, kept["agreement_id"], "done")
        assert [a["agreement_id"] for a in coord.list(PARTNER)] == [kept["agreement_id"]]
        assert len(coord.list(VENDOR)) == 5  # the proposer still sees its own
    finally:
        store.close()


def test_a_store_a_newer_coordinator_migrated_is_refused_before_anything_is_written(tmp_path, signer):
    """A coordinator started on a store from a newer version (a rollback after an upgrade) must say so at once,
    not fail at its first write into a table whose columns changed (migration 20 gave standing_pairs two)."""
    from cleanroom.coordinator.store.schema import MIGRATIONS, NewerStore

    path = tmp_path / "store.duckdb"
    store = Store(path, signer)
    newer = max(m.version for m in MIGRATIONS) + 1
    with store.transaction() as con:
        con.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', 'now')", [newer])
    store.close()
    before = path.read_bytes()
    with pytest.raises(NewerStore, match=f"schema version {newer}") as refused:
        Store(path, signer)
    assert path.read_bytes() == before
    # Let go of at once, even while the refusal (and its traceback, holding the half-made store) is kept:
    # DuckDB refuses a second connection to a file another connection of the process holds otherwise.
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (newer,)
    assert refused.value is not None
