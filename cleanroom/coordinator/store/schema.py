"""The store's schema as numbered migrations, applied in order and recorded.

A data dir created before migrations were recorded holds every table already
(its code ran all of these statements at each start): each step is written to
be a no-op there (``IF NOT EXISTS``), so such a store opens, records steps 1..n
and carries on. A new step is appended, never edited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import NamedTuple

import duckdb

from cleanroom.coordinator.store.schema_points import MIGRATION_SQL as POINTS_SQL
from cleanroom.coordinator.store.schema_points import move_points
from cleanroom.coordinator.store.schema_registrations import MIGRATION_SQL as REGISTRATIONS_SQL
from cleanroom.coordinator.store.schema_standing import CONTINUOUS_SQL, DP_EVENTS_SQL
from cleanroom.errors import InputError


class Migration(NamedTuple):
    version: int
    name: str
    sql: str
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None  # moves data, after sql, in its transaction


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "agreements, runs, uploads, chunks, results, releases, audit log",
        """
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
""",
    ),
    # An attribution run's link (cleanroom/coordinator/linkage.py): the vendor's DEAL records and the
    # partner's TOUCH records re-keyed to the vendor's account labels; pseudonymous, no token.
    Migration(
        2,
        "attribution links",
        """
CREATE TABLE IF NOT EXISTS attribution_links (
    run_id TEXT PRIMARY KEY,
    deals BLOB NOT NULL,
    touches BLOB NOT NULL
);
""",
    ),
    # Account-level reveal (cleanroom/crypto/sealed.py): each party's X25519 public key per agreement,
    # as the party gave it (relayed, never used here), and the rows a completed run may reveal to a
    # viewer, kept until the viewer's release takes them over (or the agreement is revoked).
    Migration(
        3,
        "encryption keys and reveal rows",
        """
CREATE TABLE IF NOT EXISTS encryption_keys (
    agreement_id TEXT NOT NULL,
    party TEXT NOT NULL,
    public_x25519 BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (agreement_id, party)
);
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
""",
    ),
    Migration(4, "sealed fields on chunks", "ALTER TABLE chunks ADD COLUMN IF NOT EXISTS sealed BLOB;"),
    # Large release bodies stored compressed (see releases.INLINE_RELEASE_BYTES).
    Migration(5, "compressed release bodies", "ALTER TABLE releases ADD COLUMN IF NOT EXISTS body_zlib BLOB;"),
    # REST/web API keys (cleanroom.coordinator.web.auth): only a SHA-256 of each key is kept.
    Migration(
        6,
        "API keys",
        """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    party TEXT NOT NULL,
    role TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
""",
    ),
    # A run the coordinator could not complete (bad input found only at completion) fails with a reason
    # instead of staying "collecting" forever (cleanroom.coordinator.completion).
    Migration(7, "failed runs say why", "ALTER TABLE runs ADD COLUMN IF NOT EXISTS failure TEXT;"),
    # Canary pairs an uploader hid among its points (cleanroom.coordinator.canaries): never served to the peer.
    Migration(
        8,
        "canary pairs",
        """
CREATE TABLE IF NOT EXISTS upload_canaries (
    upload_id TEXT PRIMARY KEY,
    scalar BLOB NOT NULL,
    positions BLOB NOT NULL
);
""",
    ),
    # When an upload last received a chunk: one begun and left idle is swept (cleanroom.coordinator.abandoned).
    Migration(9, "upload activity", "ALTER TABLE uploads ADD COLUMN IF NOT EXISTS touched_at TEXT;"),
    # Uploads signed end to end (cleanroom.crypto.upload_signing): each party's Ed25519 key per
    # agreement, relayed to its partner, and each upload's signed statement, relayed with its points.
    Migration(
        10,
        "upload signing keys and signatures",
        """
CREATE TABLE IF NOT EXISTS signing_keys (
    agreement_id TEXT NOT NULL,
    party TEXT NOT NULL,
    public_ed25519 BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (agreement_id, party)
);
CREATE TABLE IF NOT EXISTS upload_signatures (
    upload_id TEXT PRIMARY KEY,
    signature BLOB NOT NULL,
    points_digest TEXT NOT NULL
);
""",
    ),
    # The signed audit head each release and upload receipt was given with (cleanroom.auditlog.heads), so a
    # release asked for again carries the same head.
    Migration(
        11,
        "audit heads on releases and receipts",
        """
ALTER TABLE releases ADD COLUMN IF NOT EXISTS audit_head TEXT;
ALTER TABLE uploads ADD COLUMN IF NOT EXISTS audit_head TEXT;
""",
    ),
    # Reveal rows say which of the viewer's populations they lie on and which company (component of
    # the match graph) they belong to, so the release can be checked against its counts (cleanroom.reveal).
    Migration(
        12,
        "reveal rows: populations and company",
        "ALTER TABLE reveal_rows ADD COLUMN IF NOT EXISTS mine TEXT; ALTER TABLE reveal_rows ADD COLUMN IF NOT EXISTS component UBIGINT;",
    ),
    # Continuous agreements (cleanroom.coordinator.standing): what each own upload changes; each party's
    # standing double-blinded tokens (its points as the other party re-blinded them, never single-blinded
    # points), its accounts' population masks and the matched pairs, kept while the agreement is active;
    # each run's place in the agreement's sequence of releases; the continual DP counter's node noise, and
    # under DP the tokens that left a side (an account enters and leaves a DP stream once).
    Migration(
        13,
        "continuous agreements",
        CONTINUOUS_SQL,
    ),
    # Under DP each standing token has a budget of events (entry, population moves, exit) over a continuous
    # agreement's stream (cleanroom.coordinator.standing): how many it has used.
    Migration(
        14,
        "DP event budget per token",
        DP_EVENTS_SQL,
    ),
    # Enrolment (cleanroom.coordinator.enrolment): one-time invitations (only a SHA-256 of each token is kept)
    # and every party certificate the CA signed from a CSR, with its revocation (a removed party's serials).
    Migration(
        15,
        "enrolment invitations and party certificates",
        """
CREATE TABLE IF NOT EXISTS enrolment_invitations (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    party TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    cancelled_at TEXT
);
CREATE TABLE IF NOT EXISTS party_certificates (
    serial TEXT PRIMARY KEY,
    party TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    origin TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    not_after TEXT NOT NULL,
    revoked_at TEXT,
    revoked_why TEXT
);
""",
    ),
    # Pipeline value (cleanroom.coordinator.value_sums): each own upload's amounts, encrypted to the viewer's
    # EC-ElGamal key, ride on its chunks (deleted with them), and the key on the upload.
    Migration(
        17,
        "encrypted amounts on chunks, the viewer's value key on uploads",
        """
ALTER TABLE chunks ADD COLUMN IF NOT EXISTS value_ciphertexts BLOB;
ALTER TABLE uploads ADD COLUMN IF NOT EXISTS value_public BLOB;
""",
    ),
    # Deal registration (cleanroom.coordinator.registrations): programs, queued OPRF evaluations, registrations.
    Migration(18, "deal-registration programs, evaluations and registrations", REGISTRATIONS_SQL),
    # Points one row a point (cleanroom.coordinator.store.points): DuckDB pins a vector's BLOBs whole, and 2,048
    # chunks of 1 MiB do not fit any memory_limit; fixed-width rows scan, join and spill in bounded vectors.
    Migration(19, "chunk points one row a point", POINTS_SQL, move_points),
    # A continuous release counts every standing pair by both accounts' populations: kept on the pair (the
    # rows a store had before are given theirs at its next completion: store/standing._fill_pair_masks).
    Migration(
        20,
        "standing pairs hold both accounts' masks",
        "ALTER TABLE standing_pairs ADD COLUMN IF NOT EXISTS a_mask USMALLINT;\n"
        "ALTER TABLE standing_pairs ADD COLUMN IF NOT EXISTS b_mask USMALLINT;",
    ),
)

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


def applied(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The migration versions a store has recorded, in order."""
    con.execute(_LEDGER)
    return [row[0] for row in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]


class NewerStore(InputError):
    """The store was migrated by a newer coordinator than this one: its tables are not the ones this code writes."""


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration the store has not recorded, each in its own transaction; returns those applied.
    NewerStore, before anything is written, when the store records a migration this code does not know."""
    done = set(applied(con))
    known = max(step.version for step in MIGRATIONS)
    unknown = sorted(v for v in done if v > known)
    if unknown:
        raise NewerStore(
            f"the store was written by a newer coordinator (schema version {unknown[-1]}; this one knows up to "
            f"{known}): run that version again, or restore a backup this version made"
        )
    ran = []
    for step in MIGRATIONS:
        if step.version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(step.sql)
            if step.then is not None:
                step.then(con)
            con.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [step.version, step.name, dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")],
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        ran.append(step.version)
    return ran
