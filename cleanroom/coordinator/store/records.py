"""Typed rows of the store: what a repository returns, one frozen record per table read.

Field order is the SELECT order (``connection.columns``): a record is built
positionally from a row selected by its own field names.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# Upload kinds and run purposes, as the uploads.kind and runs.purpose columns hold them.
OWN, REBLINDED = "own", "reblinded"
PURPOSES = ("overlap", "attribution")


@dataclass(frozen=True)
class AgreementRow:
    agreement_id: str
    version: int
    proposer: str
    counterparty: str
    terms_json: bytes
    terms_hash: str
    state: str
    created_at: str

    @property
    def parties(self) -> tuple[str, str]:
        return self.proposer, self.counterparty

    def partner_of(self, party: str) -> str:
        return self.counterparty if self.proposer == party else self.proposer


@dataclass(frozen=True)
class EncryptionKey:
    """A party's X25519 public key for one agreement (relayed to the other party, never used here)."""

    party: str
    public_x25519: bytes
    fingerprint: str


@dataclass(frozen=True)
class SigningKey:
    """A party's Ed25519 public key for one agreement: its uploads are signed with it (relayed to the peer)."""

    party: str
    public_ed25519: bytes
    fingerprint: str


@dataclass(frozen=True)
class RunRow:
    run_id: str
    agreement_id: str
    version: int
    terms_hash: str
    state: str
    created_at: str
    completed_at: str | None
    purpose: str
    failure: str | None = None  # state "failed": why
    seq: int | None = None  # continuous agreements: the run's place in the agreement's releases (1, 2, ...)


@dataclass(frozen=True)
class UploadRow:
    upload_id: str
    run_id: str
    party: str
    kind: str
    total_points: int
    total_chunks: int
    total_accounts: int
    upload_digest: str
    of_upload: str | None
    committed: bool
    created_at: str
    committed_at: str | None


@dataclass(frozen=True)
class ChunkDigest:
    """What a commit checks of each received chunk."""

    seq: int
    n_points: int
    digest: str


@dataclass(frozen=True)
class ChunkLabels:
    """An own chunk's account labels, population masks and sealed fields (None when absent)."""

    seq: int
    accounts: bytes | None
    populations: bytes | None
    sealed: bytes | None


@dataclass(frozen=True)
class NewChunk:
    upload_id: str
    seq: int
    n_points: int
    points: bytes
    accounts: bytes | None
    populations: bytes | None
    digest: str
    records: bytes | None
    sealed: bytes | None
    value_ciphertexts: bytes | None = None  # pipeline value: amounts encrypted to the viewer (migration 17)


@dataclass(frozen=True)
class RevealRow:
    """One matched account a completed run may reveal to a viewer."""

    account: int
    their_account: int
    theirs: str  # JSON list of the other side's populations on granted pairs
    sealed: bytes | None
    mine: str | None  # JSON list of the viewer's populations on those pairs (None: computed before migration 12)
    component: int | None  # the company (component) the pair belongs to


@dataclass(frozen=True)
class ExpiredCandidate:
    """A complete run that still holds points (its agreement's terms set its retention)."""

    run_id: str
    agreement_id: str
    completed_at: str


@dataclass(frozen=True)
class KeptRelease:
    """A release made earlier: its stored body and the signed audit head it was given with (JSON; None before migration 9)."""

    body_json: str
    body_zlib: bytes | None
    audit_head: str | None

    @property
    def text(self) -> str:
        return StoredBody(self.body_json, self.body_zlib).text


@dataclass(frozen=True)
class StoredBody:
    """A release body as the releases table holds it: inline, or zlib-compressed (body_json then empty)."""

    body_json: str
    body_zlib: bytes | None

    @property
    def text(self) -> str:
        """The body's JSON (decompressed here, so only when read)."""
        return zlib.decompress(bytes(self.body_zlib)).decode("utf-8") if self.body_zlib is not None else str(self.body_json)


@dataclass(frozen=True)
class AuditRow:
    seq: int
    logged_at: str
    actor: str
    action: str
    agreement_id: str | None
    details_json: str
    prev_hash: str
    entry_hash: str
    signature: bytes


@dataclass(frozen=True)
class ApiKeyRow:
    key_id: str
    key_hash: str
    party: str
    role: str
    label: str
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class UploadChanges:
    """What an own upload to a continuous agreement changes (cleanroom.coordinator.standing)."""

    base_run_id: str  # "" : the upload holds every account and replaces the party's standing tokens
    secret_tag: str
    removed: bytes  # little-endian uint32 labels
    changed_labels: bytes  # little-endian uint32 labels ...
    changed_populations: bytes  # ... and their new uint16 masks


@dataclass(frozen=True)
class InvitationRow:
    """A one-time enrolment invitation: only a SHA-256 of its token is kept (cleanroom.coordinator.enrolment)."""

    token_id: str
    token_hash: str
    party: str
    created_at: str
    expires_at: str
    used_at: str | None
    cancelled_at: str | None


@dataclass(frozen=True)
class PartyCertificateRow:
    """A party certificate the CA signed (origin: enrolled, renewed; add-party certificates are recorded on removal)."""

    serial: str
    party: str
    fingerprint: str
    origin: str
    issued_at: str
    not_after: str
    revoked_at: str | None
    revoked_why: str | None
