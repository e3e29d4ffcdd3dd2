"""A partner that re-blinds dishonestly is caught before anything is released (issue 13, finding 1).

Both parties upload through the client's own ``prepare`` (which hides the canary pairs) to an in-process
coordinator over a real DuckDB file; the partner then re-blinds the vendor's points and tampers with them
the ways the attack report used: rotating each chunk by one position (which gave it every vendor name
through reveal), duplicating a point, replacing points with valid garbage. Each is detected, the run fails
naming the partner, the audit log records the violation, and no number is released. The detection
probability for t tampered points is checked against its formula, C(N, t) / C(N + 2m, t).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from math import comb
from pathlib import Path

import numpy as np
import pytest

from cleanroom.coordinator.canaries import Canaries, reblinding_problem
from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.store.records import OWN, REBLINDED
from cleanroom.errors import FailedPrecondition
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import POINT_SIZE, blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json, parse_terms
from cleanroom_client.inputs.rowkeys import MatchKey
from cleanroom_client.protocol.canaries import MIN_CANARY_PAIRS
from cleanroom_client.protocol.prepare import prepare

from inprocess import coordinator

V, P = "vendor", "partner"
SHARED = [f"shared{i}.example" for i in range(60)]
DOMAINS = {V: SHARED + [f"v{i}.example" for i in range(140)], P: SHARED + [f"p{i}.example" for i in range(90)]}


@dataclass(frozen=True)
class _Account:
    keys: tuple[MatchKey, ...]
    populations: tuple[str, ...] = ("customer",)


def _send_own(coord: Coordinator, party: str, agreement: dict, prepared) -> str:
    """Begin, send and commit an own upload as the client would; the upload id."""
    chunks = prepared.chunks()
    session = coord.begin_upload(
        party,
        agreement["agreement_id"],
        agreement["terms_hash"],
        OWN,
        "",
        len(prepared.accounts),
        len(chunks),
        prepared.total_accounts,
        upload_digest([c[3] for c in chunks]),
        "",
        "overlap",
        prepared.canary_scalar,
        prepared.canary_positions,
    )
    for seq, (pts, acc, pops, digest, *_) in enumerate(chunks):
        coord.put_chunk(party, session["upload_id"], seq, pts, acc, pops, digest)
    return session["upload_id"]


def _upload_own(coord: Coordinator, party: str, agreement: dict, secret: bytes) -> str:
    terms = parse_terms(canonical_json(build_terms(V, P, ["customer"])))
    accounts = [_Account((MatchKey("domain", d),)) for d in DOMAINS[party]]
    prepared = prepare(accounts, terms, party, agreement["agreement_id"], secret, show_progress=False)
    assert len(prepared.canary_positions) == 8 * MIN_CANARY_PAIRS  # the client hid its canaries
    return coord.commit_upload(party, _send_own(coord, party, agreement, prepared))["run_id"]


def _reblind(coord: Coordinator, party: str, agreement: dict, secret: bytes, run_id: str, tamper=None) -> None:
    status = coord.status(party, agreement["agreement_id"], run_id)
    chunks = list(coord.peer_chunks(party, run_id))
    sent = [blind(secret, c["points"], workers=1) for c in chunks]
    if tamper is not None:
        sent = [tamper(points) for points in sent]
    digests = [chunk_digest(p) for p in sent]
    session = coord.begin_upload(
        party,
        agreement["agreement_id"],
        agreement["terms_hash"],
        REBLINDED,
        run_id,
        sum(len(p) // POINT_SIZE for p in sent),
        len(sent),
        0,
        upload_digest(digests),
        status["peer_upload_id"],
        "overlap",
    )
    for seq, (points, digest) in enumerate(zip(sent, digests, strict=True)):
        coord.put_chunk(party, session["upload_id"], seq, points, b"", b"", digest)
    coord.commit_upload(party, session["upload_id"])


def _rotate(points: bytes) -> bytes:
    return points[POINT_SIZE:] + points[:POINT_SIZE]


def _duplicate(points: bytes) -> bytes:
    return points[:POINT_SIZE] + points[:POINT_SIZE] + points[2 * POINT_SIZE :]


def _garbage(points: bytes) -> bytes:
    n = len(points) // POINT_SIZE
    rows = np.frombuffer(points, dtype=np.uint8).reshape(n, POINT_SIZE).copy()
    chosen = random.Random(7).sample(range(n), n // 3)  # valid curve points, just not the honest ones
    rows[chosen] = np.frombuffer(hash_to_points([f"junk{i}" for i in chosen], b"junk"), dtype=np.uint8).reshape(-1, POINT_SIZE)
    return rows.tobytes()


def _world(tmp_path: Path, tamper) -> tuple[Coordinator, dict, str]:
    coord, _ = coordinator(tmp_path)
    proposed = coord.propose(V, P, canonical_json(build_terms(V, P, ["customer"])))
    agreement = coord.approve(P, proposed["agreement_id"], proposed["terms_hash"])
    secrets = {V: new_secret(), P: new_secret()}
    run_id = _upload_own(coord, V, agreement, secrets[V])
    _upload_own(coord, P, agreement, secrets[P])
    _reblind(coord, V, agreement, secrets[V], run_id)
    _reblind(coord, P, agreement, secrets[P], run_id, tamper)  # the partner re-blinds the vendor's points
    return coord, agreement, run_id


def test_honest_reblinding_passes_and_canaries_stay_out_of_the_counts(tmp_path):
    coord, agreement, run_id = _world(tmp_path, None)
    assert coord.status(V, agreement["agreement_id"], run_id)["state"] == "complete"
    release = coord.overlap(V, agreement["agreement_id"])
    assert release["totals"]["overlap"] == len(SHARED)
    assert release["totals"]["mine"] == len(DOMAINS[V]) and release["totals"]["theirs"] == len(DOMAINS[P])


@pytest.mark.parametrize("tamper", [_rotate, _duplicate, _garbage], ids=["rotate-each-chunk", "duplicate", "garbage"])
def test_a_dishonest_reblinding_fails_the_run_names_the_party_and_releases_nothing(tmp_path, tamper):
    coord, agreement, run_id = _world(tmp_path, tamper)
    status = coord.status(V, agreement["agreement_id"], run_id)
    assert status["state"] == "failed" and "partner's re-blinding of vendor's points fails the check" in status["failure"]
    entries = coord.store.rows("SELECT action, details_json FROM audit_log WHERE action = 'protocol.violation'")
    assert [json.loads(e["details_json"])["party"] for e in entries] == [P]
    for viewer in (V, P):
        with pytest.raises(FailedPrecondition):
            coord.overlap(viewer, agreement["agreement_id"])
    assert coord.store.rows("SELECT * FROM releases") == []


def test_detection_probability_matches_the_formula():
    """Tamper with t of N + 2m re-blinded points at random: missed about C(N, t) / C(N + 2m, t) of the time."""
    n_real, m, t, trials = 300, MIN_CANARY_PAIRS, 4, 300
    total = n_real + 2 * m
    secret, c = new_secret(), new_secret()
    us = hash_to_points([f"u{i}" for i in range(m)], b"canary-test")
    real = hash_to_points([f"r{i}" for i in range(n_real)], b"canary-test")
    points = np.frombuffer(real + us + blind(c, us, workers=1), dtype=np.uint8).reshape(total, POINT_SIZE)
    order = np.random.default_rng(1).permutation(total)
    shuffled = points[order]
    where = np.empty(total, dtype=np.int64)
    where[order] = np.arange(total)
    canaries = Canaries(c, np.stack([where[n_real : n_real + m], where[n_real + m :]], axis=1).astype(np.uint32))
    honest = np.frombuffer(blind(secret, shuffled.tobytes(), workers=1), dtype=np.uint8).reshape(total, POINT_SIZE)
    assert reblinding_problem(canaries, honest.tobytes()) is None
    junk = np.frombuffer(hash_to_points([f"j{i}" for i in range(t)], b"junk"), dtype=np.uint8).reshape(t, POINT_SIZE)
    rng = random.Random(3)
    missed = 0
    for _ in range(trials):
        tampered = honest.copy()
        tampered[rng.sample(range(total), t)] = junk
        missed += reblinding_problem(canaries, tampered.tobytes()) is None
    expected = comb(n_real, t) / comb(total, t)  # every tampered position is a real point
    assert abs(missed / trials - expected) < 4 * (expected * (1 - expected) / trials) ** 0.5 + 0.01


# -- the uploader is held to the same checks (the adversarial review of issue 13) ----------------------

_P25519 = 2**255 - 19
_ORDER = 2**252 + 27742317777372353535851937790883648493


def _in_prime_order_subgroup(u: int) -> bool:
    """[order]P == O for the point with u-coordinate u: an x-only Montgomery ladder with an unclamped
    scalar (RFC 7748's ladder, written here independently of the code under test)."""
    x1, x2, z2, x3, z3, swap = u, 1, 0, u, 1, 0
    for t in reversed(range(_ORDER.bit_length())):
        bit = (_ORDER >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b, c, d = (x2 + z2) % _P25519, (x2 - z2) % _P25519, (x3 + z3) % _P25519, (x3 - z3) % _P25519
        aa, bb, da, cb = a * a % _P25519, b * b % _P25519, d * a % _P25519, c * b % _P25519
        e = (aa - bb) % _P25519
        x3, z3 = (da + cb) ** 2 % _P25519, x1 * (da - cb) ** 2 % _P25519
        x2, z2 = aa * bb % _P25519, e * (aa + 121665 * e) % _P25519
    if swap:
        x2, z2 = x3, z3
    return z2 == 0


def _us(points: bytes) -> list[int]:
    return [int.from_bytes(points[i : i + POINT_SIZE], "little") for i in range(0, len(points), POINT_SIZE)]


def test_canaries_sit_in_the_prime_order_subgroup_like_every_real_point():
    """A raw hash-to-curve point is outside the prime-order subgroup 7 times in 8, so canaries made of
    them were told apart by a subgroup test (33 of 40 flagged in the review); now none is."""
    terms = parse_terms(canonical_json(build_terms(V, P, ["customer"])))
    accounts = [_Account((MatchKey("domain", d),)) for d in DOMAINS[V]]
    prepared = prepare(accounts, terms, V, "agr_subgroup", new_secret(), show_progress=False)
    assert len(prepared.points) // POINT_SIZE == len(accounts) + 2 * MIN_CANARY_PAIRS
    assert all(_in_prime_order_subgroup(u) for u in _us(prepared.points))
    raw = hash_to_points([f"k{i}" for i in range(40)], b"control")
    assert sum(not _in_prime_order_subgroup(u) for u in _us(raw)) >= 20  # the control: the test can fail


def _commit_tampered_own(tmp_path: Path, tamper) -> tuple[Coordinator, dict, Exception | None]:
    coord, _ = coordinator(tmp_path)
    proposed = coord.propose(V, P, canonical_json(build_terms(V, P, ["customer"])))
    agreement = coord.approve(P, proposed["agreement_id"], proposed["terms_hash"])
    terms = parse_terms(canonical_json(build_terms(V, P, ["customer"])))
    accounts = [_Account((MatchKey("domain", d),)) for d in DOMAINS[V]]
    prepared = tamper(prepare(accounts, terms, V, agreement["agreement_id"], new_secret(), show_progress=False))
    upload_id = _send_own(coord, V, agreement, prepared)
    try:
        coord.commit_upload(V, upload_id)
    except Exception as exc:
        return coord, agreement, exc
    return coord, agreement, None


def _wrong_scalar(prepared):
    import dataclasses

    return dataclasses.replace(prepared, canary_scalar=bytes(32 * [7]))


def _own_duplicate(prepared):
    import dataclasses

    points = bytearray(prepared.points)
    points[POINT_SIZE : 2 * POINT_SIZE] = points[:POINT_SIZE]
    return dataclasses.replace(prepared, points=bytes(points))


def _super_account(prepared):
    """Every point but the canaries relabelled to one of 60 accounts: guessed keys gathered under few labels."""
    import dataclasses

    labels = prepared.accounts.copy()
    canary = set(np.frombuffer(prepared.canary_positions, dtype="<u4").tolist())
    real = [i for i in range(len(labels)) if i not in canary]
    labels[real] = np.arange(len(real)) % 60
    return dataclasses.replace(prepared, accounts=labels, total_accounts=60)


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        (_wrong_scalar, "canary pairs are not related by the canary scalar it announced"),
        (_own_duplicate, "two of its points are equal"),
        (_super_account, "where one key kind gives each account exactly one"),
    ],
    ids=["wrong canary scalar", "duplicate own point", "super-account"],
)
def test_an_uploader_that_would_frame_its_partner_or_gather_guesses_is_refused_at_commit(tmp_path, tamper, said):
    """Before, a wrong canary scalar or a repeated own point made the honest partner's re-blinding fail with
    the partner named as violator; and a label gathering many points revealed more accounts than the counts."""
    coord, agreement, refused = _commit_tampered_own(tmp_path, tamper)
    assert refused is not None and said in str(refused), refused
    status = coord.status(V, agreement["agreement_id"])
    assert [p["uploaded"] for p in status["parties"]] == [False, False]  # nothing committed, nothing to re-blind
