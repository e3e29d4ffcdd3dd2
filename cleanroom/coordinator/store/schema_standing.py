"""The continuous agreements' tables (cleanroom.coordinator.standing), as migrations 13 and 14 create them.

What each own upload changes; each party's standing double-blinded tokens, its accounts' population
masks and the matched pairs; each run's place in the agreement's sequence of releases; the continual DP
counter's node noise; under DP the tokens that left a side and the events each token has used.
Migration 20 adds both accounts' masks to the pairs.
"""

CONTINUOUS_SQL = """
CREATE TABLE IF NOT EXISTS upload_changes (
    upload_id TEXT PRIMARY KEY,
    base_run_id TEXT NOT NULL,
    secret_tag TEXT NOT NULL,
    removed BLOB NOT NULL,
    changed_labels BLOB NOT NULL,
    changed_populations BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS standing_sides (
    agreement_id TEXT NOT NULL,
    party TEXT NOT NULL,
    run_id TEXT NOT NULL,
    terms_hash TEXT NOT NULL,
    secret_tag TEXT NOT NULL,
    accounts UBIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    PRIMARY KEY (agreement_id, party)
);
CREATE TABLE IF NOT EXISTS standing_tokens (
    agreement_id TEXT NOT NULL,
    party TEXT NOT NULL,
    t0 UBIGINT NOT NULL,
    t1 UBIGINT NOT NULL,
    t2 UBIGINT NOT NULL,
    t3 UBIGINT NOT NULL,
    label UINTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS standing_accounts (
    agreement_id TEXT NOT NULL,
    party TEXT NOT NULL,
    label UINTEGER NOT NULL,
    populations USMALLINT NOT NULL
);
CREATE TABLE IF NOT EXISTS standing_pairs (
    agreement_id TEXT NOT NULL,
    a_label UINTEGER NOT NULL,
    b_label UINTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dp_spent_tokens (
    agreement_id TEXT NOT NULL,
    party TEXT NOT NULL,
    t0 UBIGINT NOT NULL,
    t1 UBIGINT NOT NULL,
    t2 UBIGINT NOT NULL,
    t3 UBIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS dp_tree_nodes (
    agreement_id TEXT NOT NULL,
    level INTEGER NOT NULL,
    idx UBIGINT NOT NULL,
    noise TEXT NOT NULL,
    PRIMARY KEY (agreement_id, level, idx)
);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS seq UBIGINT;
"""

DP_EVENTS_SQL = """
CREATE TABLE IF NOT EXISTS dp_token_events (
    agreement_id TEXT NOT NULL,
    party TEXT NOT NULL,
    t0 UBIGINT NOT NULL,
    t1 UBIGINT NOT NULL,
    t2 UBIGINT NOT NULL,
    t3 UBIGINT NOT NULL,
    events UINTEGER NOT NULL
);
"""
