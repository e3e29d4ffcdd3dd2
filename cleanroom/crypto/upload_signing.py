"""Upload statements: what a party signs about each upload, so its partner re-blinds only its points.

A party signs, with an Ed25519 key born on its own machine, a statement naming
the agreement, the terms, itself, the kind and purpose of the upload, its shape
and the digest over its chunk digests (and, for its own points, a commitment to
the canaries it hid among them), and the digest of the points alone. The coordinator relays the signature with the
points; the partner re-blinds only points whose digest it recomputed and whose
statement verifies against the key it pinned for that party. So a coordinator
cannot have a party multiply points the partner never sent -- guessed
identifiers hashed to the curve -- and learn from the answer whether a guess
is among the party's accounts.

The context string separates these signatures from any other use of a key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cleanroom.terms import canonical_json

STATEMENT_CONTEXT = "cleanroom/upload-statement/v1"
SIGNING_PUBLIC_SIZE = 32
SIGNATURE_SIZE = 64


@dataclass(frozen=True)
class UploadStatement:
    """The facts of one upload that its party vouches for."""

    agreement_id: str
    terms_hash: str
    party: str  # who sent the upload (and signs this)
    kind: str  # "own" or "reblinded"
    purpose: str  # "overlap" or "attribution"
    total_points: int
    total_chunks: int
    upload_digest: str  # hex SHA-256 over the chunk digests (cleanroom.protocol.upload_digest)
    points_digest: str  # points_digest(...) of the points alone: all the partner sees, so all it can check
    canaries: str = ""  # own uploads: canary_commitment(...) of the pairs hidden among the points
    run_id: str = ""  # re-blinded uploads: the run and the peer upload they answer
    of_upload_id: str = ""
    # Own uploads to a continuous agreement: changes_digest(...) of the standing run the upload changes and
    # the labels it removes or moves (signed, so nobody can replay a delta against another base). "" otherwise,
    # and then left out of the signed message, which stays what it was for one-off runs.
    changes: str = ""

    @classmethod
    def of_upload(
        cls,
        agreement_id: str,
        terms_hash: str,
        party: str,
        kind: str,
        purpose: str,
        shape: tuple[int, int],
        digests: tuple[str, str],
        canaries: tuple[bytes, bytes] = (b"", b""),
        answers: tuple[str, str] = ("", ""),
        changes: str = "",
    ) -> UploadStatement:
        """The statement of an upload as announced: ``shape`` (points, chunks), ``digests`` (payload,
        points), the canaries' scalar and positions (own points only) and the run and peer upload it
        answers (re-blinded points only). Both the signer and the checkers build it here."""
        own = kind == "own"
        return cls(
            agreement_id=agreement_id,
            terms_hash=terms_hash,
            party=party,
            kind=kind,
            purpose=purpose or "overlap",
            total_points=shape[0],
            total_chunks=shape[1],
            upload_digest=digests[0],
            points_digest=digests[1],
            canaries=canary_commitment(*canaries) if own else "",
            run_id="" if own else answers[0],
            of_upload_id="" if own else answers[1],
            changes=changes if own else "",
        )

    def message(self) -> bytes:
        """The exact bytes signed: canonical JSON of the statement under its context string."""
        fields = asdict(self)
        if not fields["changes"]:
            del fields["changes"]
        return canonical_json({"context": STATEMENT_CONTEXT, **fields})


def points_digest(chunks: Iterable[bytes]) -> str:
    """Hex SHA-256 over an upload's points in order (labels, records and sealed fields left out: the
    partner never receives them, yet must be able to recompute what the uploader signed)."""
    digest = hashlib.sha256(b"cleanroom/points/v1")
    for points in chunks:
        digest.update(points)
    return digest.hexdigest()


def changes_digest(base_run_id: str, secret_tag: str, removed: bytes, changed_labels: bytes, changed_populations: bytes) -> str:
    """What a continuous agreement's own upload changes: the run it builds on ("" for a full upload), the tag of
    the secret it was blinded with, and the labels it removes or whose populations it changes; "" when none
    of these is given (a one-off run)."""
    if not (base_run_id or secret_tag or removed or changed_labels or changed_populations):
        return ""
    digest = hashlib.sha256(b"cleanroom/changes/v1")
    for part in (base_run_id.encode(), secret_tag.encode(), removed, changed_labels, changed_populations):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def canary_commitment(scalar: bytes, positions: bytes) -> str:
    """A binding commitment to an upload's canaries ("" for none): the coordinator cannot claim others."""
    if not scalar and not positions:
        return ""
    return hashlib.sha256(b"cleanroom/canaries/v1" + len(scalar).to_bytes(4, "big") + scalar + positions).hexdigest()


def check_signing_public(public: bytes) -> None:
    """A usable Ed25519 public key (32 bytes, a valid encoding); ValueError otherwise."""
    if len(public) != SIGNING_PUBLIC_SIZE:
        raise ValueError(f"an Ed25519 public key is {SIGNING_PUBLIC_SIZE} bytes, not {len(public)}")
    Ed25519PublicKey.from_public_bytes(public)


def signing_fingerprint(public: bytes) -> str:
    """A short, comparable fingerprint of a party's upload-signing key (read it out to the other side)."""
    digest = hashlib.sha256(b"cleanroom/ed25519/fingerprint/v1" + public).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


def statement_verifies(public: bytes, statement: UploadStatement, signature: bytes) -> bool:
    """Whether ``signature`` is ``public``'s signature over exactly ``statement``."""
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, statement.message())
        return True
    except (InvalidSignature, ValueError):
        return False
