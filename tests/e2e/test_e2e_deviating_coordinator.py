"""A deviating coordinator cannot test guesses against a party (issue 13, finding 3).

The attack: serve the partner, as the vendor's "points", guessed identifiers
hashed to the curve; the partner multiplies them by its secret and uploads them
back, and every guess that lands on one of the partner's own blinded points is
one of its accounts. Before uploads were signed this found 500 of 500 true
guesses. Here the coordinator's operator edits the stopped coordinator's store
(the deviation a modified coordinator would make in memory), restarts it, and
the partner's real client, over mTLS, must re-blind nothing.

Ground truth for "the attack would have worked" comes from the partner's own
secret and its stored upload, computed here with the PSI primitives directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cleanroom.crypto.upload_signing import UploadStatement, canary_commitment, points_digest, signing_fingerprint
from cleanroom.demo.localrun import LocalCoordinator, client, client_json
from cleanroom.psi import POINT_SIZE, blind, hash_to_points
from cleanroom_client.protocol.prepare import hash_context

pytestmark = pytest.mark.e2e

SHARED, VENDOR_ONLY, PARTNER_ONLY = 40, 30, 30


def _write_accounts(path: Path, domains: list[str]) -> Path:
    lines = ["Account Name,Website,Type"] + [f"Company {d},{d},Customer" for d in domains]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _shared(i: int) -> str:
    return f"shared-{i}.com"


def _set_up(coordinator: LocalCoordinator, parties: dict[str, Path], tmp_path: Path) -> dict:
    """Agreement approved, the partner's upload and the vendor's upload both committed, the run waiting
    for the partner to re-blind the vendor's points."""
    vendor_domains = [_shared(i) for i in range(SHARED)] + [f"vendor-{i}.com" for i in range(VENDOR_ONLY)]
    partner_domains = [_shared(i) for i in range(SHARED)] + [f"partner-{i}.com" for i in range(PARTNER_ONLY)]
    files = {
        "vendor": _write_accounts(tmp_path / "vendor.csv", vendor_domains),
        "partner": _write_accounts(tmp_path / "partner.csv", partner_domains),
    }
    proposed = client_json(
        parties["vendor"], "agreement", "propose", "--with", "partner", "--populations", "customer", "--min-set-size", "10"
    )
    agreement_id = proposed["agreement_id"]
    client_json(parties["partner"], "agreement", "approve", agreement_id)  # pins the vendor's signing key
    client_json(parties["partner"], "map", agreement_id, str(files["partner"]))
    status = client_json(parties["vendor"], "map", agreement_id, str(files["vendor"]))  # re-blinds the partner's too
    assert status["state"] == "collecting" and status["waiting_for"] == ["partner's re-blinding of your points"], status
    return {"agreement_id": agreement_id, "run_id": status["run_id"], "partner_domains": partner_domains}


def _uploads(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[tuple[str, str], tuple[str, int, str]]:
    rows = con.execute(
        "SELECT party, kind, upload_id, total_points, upload_digest FROM uploads WHERE run_id = ?", [run_id]
    ).fetchall()
    return {(party, kind): (upload_id, int(n), digest) for party, kind, upload_id, n, digest in rows}


def _inject_guesses(con: duckdb.DuckDBPyConnection, world: dict) -> tuple[str, bytes, list[str]]:
    """Replace the vendor's stored points with guesses: half of them the partner's real domains.
    Returns the vendor's upload id, the injected points and the guesses."""
    upload_id, n, _ = _uploads(con, world["run_id"])[("vendor", "own")]
    true_guesses = world["partner_domains"][:SHARED] + world["partner_domains"][SHARED:]  # every partner account
    wrong_guesses = [f"guess-{i}.org" for i in range(n - len(true_guesses))]
    guesses = true_guesses + wrong_guesses
    injected = hash_to_points(guesses, hash_context(world["agreement_id"], "domain"))  # the client's own context
    words = np.frombuffer(injected, dtype="<u8").reshape(-1, POINT_SIZE // 8)
    assert len(words) == n
    for pos, (t0, t1, t2, t3) in enumerate(words.tolist()):  # the store keeps a point as four words (store/points.py)
        con.execute(
            "UPDATE chunk_points SET t0 = ?, t1 = ?, t2 = ?, t3 = ? WHERE upload_id = ? AND pos = ?",
            [t0, t1, t2, t3, upload_id, pos],
        )
    return upload_id, injected, guesses


def _guesses_the_attack_would_confirm(profile: Path, con: duckdb.DuckDBPyConnection, world: dict, injected: bytes) -> int:
    """How many injected guesses the partner's re-blinding would match to its own upload (independently computed)."""
    secret = bytes.fromhex(json.loads((profile / "keystore.json").read_text())["agreements"][world["agreement_id"]]["secret"])
    partner_upload = _uploads(con, world["run_id"])[("partner", "own")][0]
    rows = con.execute("SELECT t0, t1, t2, t3 FROM chunk_points WHERE upload_id = ? ORDER BY pos", [partner_upload]).fetchall()
    own = np.array(rows, dtype="<u8").tobytes()
    answered = blind(secret, injected, workers=1)
    as_set = lambda b: set(np.frombuffer(b, dtype=f"S{POINT_SIZE}").tolist())  # noqa: E731
    return len(as_set(answered) & as_set(own))


def _partner_reblinded(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    return ("partner", "reblinded") in _uploads(con, run_id)


def test_injected_guesses_are_refused_and_nothing_is_reblinded(coordinator, parties, tmp_path):
    world = _set_up(coordinator, parties, tmp_path)
    coordinator.stop()
    store = coordinator.data_dir / "coordinator.duckdb"
    with duckdb.connect(str(store)) as con:
        _, injected, _ = _inject_guesses(con, world)
        # The attack is real: honest re-blinding of these points would confirm every partner account.
        assert _guesses_the_attack_would_confirm(parties["partner"], con, world, injected) == SHARED + PARTNER_ONLY
    coordinator.start()

    refused = client(parties["partner"], "sync", world["agreement_id"], check=False)
    assert refused.returncode != 0
    assert "not the ones vendor signed" in refused.stderr and "nothing was re-blinded" in refused.stderr, refused.stderr
    coordinator.stop()
    with duckdb.connect(str(store), read_only=True) as con:
        assert not _partner_reblinded(con, world["run_id"])


def test_a_substituted_signing_key_is_refused_by_the_pin(coordinator, parties, tmp_path):
    """The coordinator also swaps in a signing key of its own and signs the injected points with it:
    the partner pinned the vendor's key when it approved, so the swap is refused."""
    world = _set_up(coordinator, parties, tmp_path)
    coordinator.stop()
    store = coordinator.data_dir / "coordinator.duckdb"
    forger = Ed25519PrivateKey.generate()
    forged_public = forger.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with duckdb.connect(str(store)) as con:
        upload_id, injected, _ = _inject_guesses(con, world)
        _, n, upload_digest = _uploads(con, world["run_id"])[("vendor", "own")]
        scalar, positions = con.execute(
            "SELECT scalar, positions FROM upload_canaries WHERE upload_id = ?", [upload_id]
        ).fetchone()
        (terms_hash,) = con.execute(
            "SELECT terms_hash FROM agreements WHERE agreement_id = ?", [world["agreement_id"]]
        ).fetchone()
        chunks = con.execute("SELECT count(*) FROM chunks WHERE upload_id = ?", [upload_id]).fetchone()[0]
        statement = UploadStatement(
            agreement_id=world["agreement_id"],
            terms_hash=terms_hash,
            party="vendor",
            kind="own",
            purpose="overlap",
            total_points=n,
            total_chunks=int(chunks),
            upload_digest=upload_digest,
            points_digest=points_digest([injected]),
            canaries=canary_commitment(bytes(scalar), bytes(positions)),
        )
        con.execute(
            "UPDATE signing_keys SET public_ed25519 = ?, fingerprint = ? WHERE agreement_id = ? AND party = 'vendor'",
            [forged_public, signing_fingerprint(forged_public), world["agreement_id"]],
        )
        con.execute(
            "UPDATE upload_signatures SET signature = ?, points_digest = ? WHERE upload_id = ?",
            [forger.sign(statement.message()), statement.points_digest, upload_id],
        )
    coordinator.start()

    refused = client(parties["partner"], "sync", world["agreement_id"], check=False)
    assert refused.returncode != 0
    assert "different upload-signing key for vendor" in refused.stderr, refused.stderr
    assert "nothing was re-blinded" in refused.stderr
    coordinator.stop()
    with duckdb.connect(str(store), read_only=True) as con:
        assert not _partner_reblinded(con, world["run_id"])


def test_honest_runs_still_complete_and_both_keys_are_shown(coordinator, parties, tmp_path):
    """The control: the same setup without deviation completes, and `agreement show` prints both parties'
    signing fingerprints, which the parties can read out to each other."""
    world = _set_up(coordinator, parties, tmp_path)
    client_json(parties["partner"], "sync", world["agreement_id"])
    view = client_json(parties["partner"], "overlap", world["agreement_id"])
    assert view["totals"]["overlap"] == SHARED
    shown = client_json(parties["partner"], "agreement", "show", world["agreement_id"])
    assert {k["party"] for k in shown["signing"]} == {"vendor", "partner"}


def test_a_substituted_key_is_refused_before_the_approval_is_recorded(coordinator, parties, tmp_path):
    """The adversarial review: `agreement approve` used to send the approval and only then compare the
    relayed keys with its pins, so it reported a failure for an agreement it had just made active."""
    first = client_json(parties["vendor"], "agreement", "propose", "--with", "partner", "--populations", "customer")
    client_json(parties["partner"], "agreement", "approve", first["agreement_id"])  # pins the vendor's key
    second = client_json(parties["vendor"], "agreement", "propose", "--with", "partner", "--populations", "customer")
    coordinator.stop()
    forged = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with duckdb.connect(str(coordinator.data_dir / "coordinator.duckdb")) as con:
        con.execute(
            "UPDATE signing_keys SET public_ed25519 = ?, fingerprint = ? WHERE agreement_id = ? AND party = 'vendor'",
            [forged, signing_fingerprint(forged), second["agreement_id"]],
        )
    coordinator.start()
    refused = client(parties["partner"], "agreement", "approve", second["agreement_id"], check=False)
    assert refused.returncode != 0 and "different upload-signing key for vendor" in refused.stderr, refused.stderr
    shown = client_json(parties["partner"], "agreement", "show", second["agreement_id"])
    assert shown["state"] == "proposed" and shown["approved_by"] == ["vendor"]
