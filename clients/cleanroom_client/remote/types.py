"""The coordinator's messages as the client uses them: our own frozen records, never generated classes.

``remote.convert`` is the one place that builds these from the wire and back;
everything above ``remote`` (protocol, features, commands) sees only these.
Field names follow proto/cleanroom/v1/*.proto, so a reader of one knows the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cleanroom.auditlog.heads import AuditHead


class UploadKind(enum.Enum):
    """Whose points an upload carries: our own, or the peer's multiplied by our secret."""

    OWN = "own"
    REBLINDED = "reblinded"


# -- agreements -----------------------------------------------------------------------


@dataclass(frozen=True)
class PartyKey:
    """The X25519 public key a party gave an agreement, as the coordinator relays it."""

    party: str
    public_x25519: bytes
    fingerprint: str


@dataclass(frozen=True)
class PartySigningKey:
    """The Ed25519 public key a party signs its uploads with, as the coordinator relays it."""

    party: str
    public_ed25519: bytes
    fingerprint: str


@dataclass(frozen=True)
class Agreement:
    agreement_id: str
    version: int
    terms_json: bytes
    terms_hash: str
    proposer: str
    counterparty: str
    approved_by: tuple[str, ...]
    state: str
    created_at: str
    encryption: tuple[PartyKey, ...] = ()
    signing: tuple[PartySigningKey, ...] = ()

    def key_of(self, party: str) -> bytes | None:
        """The X25519 public key ``party`` gave this agreement, if any."""
        for entry in self.encryption:
            if entry.party == party:
                return entry.public_x25519
        return None

    def signing_key_of(self, party: str) -> bytes | None:
        """The Ed25519 key ``party`` gave this agreement to sign its uploads with, if any."""
        return next((k.public_ed25519 for k in self.signing if k.party == party), None)


# -- runs and uploads -----------------------------------------------------------------


@dataclass(frozen=True)
class UploadRequest:
    """What an upload will hold, announced before its first chunk (BeginUpload)."""

    agreement_id: str
    terms_hash: str
    kind: UploadKind
    total_points: int
    total_chunks: int
    upload_digest: str
    total_accounts: int = 0
    run_id: str = ""
    of_upload_id: str = ""
    purpose: str = ""
    canary_scalar: bytes = b""  # OWN only: for the coordinator, never the peer
    canary_positions: bytes = b""
    party_signature: bytes = b""  # our signature over the upload statement
    points_digest: str = ""  # of the points alone (what the partner can recompute), named in the statement
    # Continuous agreements, own uploads: the standing run this changes ("" full), our secret's tag, the
    # labels removed, and the labels whose populations change with their new masks (packed).
    base_run_id: str = ""
    secret_tag: str = ""
    removed_labels: bytes = b""
    changed_labels: bytes = b""
    changed_populations: bytes = b""


@dataclass(frozen=True)
class UploadSession:
    run_id: str
    upload_id: str
    received_chunks: tuple[int, ...]
    max_chunk_points: int
    committed: bool


@dataclass(frozen=True)
class Chunk:
    """One chunk of points (and what travels beside them), sent or fetched in sequence."""

    upload_id: str
    seq: int
    points: bytes
    digest: str
    accounts: bytes = b""
    populations: bytes = b""
    records: bytes = b""
    sealed: bytes = b""


@dataclass(frozen=True)
class UploadProgress:
    upload_id: str
    received_chunks: tuple[int, ...]


@dataclass(frozen=True)
class UploadReceipt:
    """The coordinator's signed acknowledgement of a committed upload."""

    upload_id: str
    run_id: str
    agreement_id: str
    terms_hash: str
    kind: UploadKind | None  # None: the coordinator named no kind
    party: str
    total_points: int
    total_chunks: int
    upload_digest: str
    received_at: str
    signature: bytes
    audit_head: AuditHead | None = None  # the signed audit head as of the commit's entry (not under `signature`)


@dataclass(frozen=True)
class PartyProgress:
    party: str
    uploaded: bool
    points: int
    reblinded: bool


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    agreement_id: str
    state: str
    parties: tuple[PartyProgress, ...]
    waiting_for: tuple[str, ...]
    reblind_needed: bool
    peer_upload_id: str
    peer_points: int
    peer_chunks: int
    purpose: str
    failure: str = ""  # state "failed": why the coordinator could not complete the run
    peer_signature: bytes = b""  # with reblind_needed: the peer's signature over its upload statement
    peer_canaries: str = ""  # and the canary commitment that statement names
    peer_upload_digest: str = ""  # and the digest of the peer's whole payload it names
    standing_run_id: str = ""  # continuous: the run our standing tokens come from ("" none: send everything)
    next_run_at: str = ""  # continuous: when a new run may start ("" now)
    peer_changes: str = ""  # with reblind_needed: the changes digest the peer's statement names
    standing_upload_id: str = ""  # continuous: our upload the standing tokens come from


# -- releases -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One population pair of a release: the viewer's population, the other's, and the count if released."""

    mine: str
    theirs: str
    count: int | None
    suppressed: bool


@dataclass(frozen=True)
class OverlapTotals:
    mine: int
    theirs: int
    overlap: int | None
    overlap_suppressed: bool


@dataclass(frozen=True)
class DpSpend:
    epsilon_spent: float
    budget: float
    budget_remaining: float


@dataclass(frozen=True)
class GreenfieldCell:
    """The other side's accounts in one of its populations that the viewer does not have, if released."""

    theirs: str
    count: int | None
    suppressed: bool


@dataclass(frozen=True)
class OverlapRelease:
    agreement_id: str
    run_id: str
    viewer: str
    other: str
    cells: tuple[Cell, ...]
    totals: OverlapTotals
    terms_version: int
    terms_hash: str
    released_at: str
    min_count: int
    signature: bytes
    dp: DpSpend | None = None
    audit_head: AuditHead | None = None  # the signed audit head as of the release's entry (not under `signature`)
    greenfield: tuple[GreenfieldCell, ...] = ()  # when the terms grant greenfield sizing


@dataclass(frozen=True)
class RevealRelease:
    agreement_id: str
    run_id: str
    viewer: str
    other: str
    terms_version: int
    terms_hash: str
    released_at: str
    min_count: int
    cells: tuple[Cell, ...]
    rows: int
    rows_digest: str
    signature: bytes
    audit_head: AuditHead | None = None


@dataclass(frozen=True)
class RevealedAccount:
    """One of our accounts the peer also has: our label, its label, its populations, its sealed fields."""

    account: int
    their_account: int
    theirs: tuple[str, ...]
    sealed: bytes
    mine: tuple[str, ...] = ()  # our populations on the pairs shown
    component: int = 0  # the company (match-graph component) the pair belongs to


@dataclass(frozen=True)
class AttributionRelease:
    """An attribution release: the exact JSON text the coordinator signed, and the signature."""

    release_id: str
    body_json: str
    signature: bytes
    audit_head: AuditHead | None = None


@dataclass(frozen=True)
class HeadProof:
    """The coordinator's current signed head, and its entry hashes at positions we asked about."""

    head: AuditHead | None  # None: its log is empty
    entry_hashes: dict[int, str]
