"""The deal-registration tables (migration 18 of schema.MIGRATIONS), read by store/registrations.py.

A module of its own with no imports: schema.py loads before the repositories.
"""

MIGRATION_SQL = """
CREATE TABLE IF NOT EXISTS registration_programs (
    program_id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    title TEXT NOT NULL,
    program_public BLOB NOT NULL,
    partners_json TEXT NOT NULL,
    expiry_seconds UBIGINT NOT NULL,
    reveal_date BOOLEAN NOT NULL,
    reveal_holder BOOLEAN NOT NULL,
    max_checks_per_day UINTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS registration_evaluations (
    request_id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL,
    partner TEXT NOT NULL,
    blinded BLOB,
    evaluated BLOB,
    proof BLOB,
    requested_at TEXT NOT NULL,
    evaluated_at TEXT,
    used_at TEXT,
    signing_public BLOB NOT NULL,
    signature BLOB NOT NULL,
    signed_at TEXT NOT NULL,
    refused TEXT
);
CREATE TABLE IF NOT EXISTS registrations (
    registration_id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL,
    partner TEXT NOT NULL,
    token BLOB NOT NULL,
    registered_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    withdrawn_at TEXT,
    conflict BOOLEAN NOT NULL
);
"""
