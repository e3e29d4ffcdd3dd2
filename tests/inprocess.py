"""Driving the coordinator's rules in-process (no gRPC), for tests of policy,
privacy and audit that need many complete runs."""

from __future__ import annotations

import inspect
import re
import struct
from pathlib import Path

import numpy as np

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store import Store, schema, schema_points, schema_registrations, schema_standing
from cleanroom.coordinator.store.records import OWN, REBLINDED
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json
from cleanroom_client.protocol.prepare import hash_context  # the client's own context, never retyped


def coordinator(tmp: Path) -> tuple[Coordinator, DataDir]:
    data_dir = DataDir(tmp / "coord")
    data_dir.init(listen="127.0.0.1:0")
    return Coordinator(Store(data_dir.store_path, data_dir.signer())), data_dir


def count(coord, table: str, where: str = "", params=()) -> int:
    return coord.store.row(f"SELECT count(*) AS n FROM {table} {where}", list(params))["n"]


def tables(coord) -> list[str]:
    """Every table of the coordinator's store, as DuckDB lists them (so a new table is covered without a test edit)."""
    rows = coord.store.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY table_name"
    )
    names = [r["table_name"] for r in rows]
    # Every table the schema's migrations create is listed (read from its source, not from the store's own listing).
    sources = "".join(inspect.getsource(m) for m in (schema, schema_points, schema_registrations, schema_standing))
    created = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", sources))
    assert {"agreements", "standing_tokens", "dp_token_events", "schema_migrations"} <= created, created
    assert created <= set(names), sorted(created - set(names))
    return names


def snapshot(coord) -> dict[str, tuple[int, list[str]]]:
    """Each table's row count and rows (in a fixed order): what a refusal must leave unchanged."""
    return {t: (count(coord, t), sorted(map(repr, coord.store.rows(f'SELECT * FROM "{t}"')))) for t in tables(coord)}


def agree(coord: Coordinator, populations=("customer",), **terms_options) -> dict:
    terms = build_terms("vendor", "partner", list(populations), **terms_options)
    agreement = coord.propose("vendor", "partner", canonical_json(terms))
    return coord.approve("partner", agreement["agreement_id"], agreement["terms_hash"])


def _upload(
    coord,
    party,
    agreement,
    kind,
    points,
    accounts=b"",
    pops=b"",
    run_id="",
    of_upload="",
    n_accounts=0,
    records=b"",
    purpose="overlap",
):
    digest = chunk_digest(points, accounts, pops, records)
    session = coord.begin_upload(
        party,
        agreement["agreement_id"],
        agreement["terms_hash"],
        kind,
        run_id,
        len(points) // 32,
        1,
        n_accounts,
        upload_digest([digest]),
        of_upload,
        purpose,
    )
    coord.put_chunk(party, session["upload_id"], 0, points, accounts, pops, digest, records)
    return coord.commit_upload(party, session["upload_id"])


def run(
    coord: Coordinator,
    agreement: dict,
    sets: dict[str, list[str]],
    masks: dict[str, list[int]] | None = None,
    records: dict[str, bytes] | None = None,
    purpose: str = "overlap",
) -> str:
    """One complete run where each party brings ``sets[party]`` (one domain key per account)."""
    parties = list(sets)
    secrets = {p: new_secret() for p in parties}
    context = hash_context(agreement["agreement_id"], "domain")
    receipts = {}
    for party, keys in sets.items():
        pts = blind(secrets[party], hash_to_points(keys, context), workers=1)
        n = len(keys)
        m = (masks or {}).get(party) or [1] * n
        receipts[party] = _upload(
            coord,
            party,
            agreement,
            OWN,
            pts,
            struct.pack(f"<{n}I", *range(n)),
            struct.pack(f"<{n}H", *m),
            n_accounts=n,
            records=(records or {}).get(party, b""),
            purpose=purpose,
        )
    run_id = receipts[parties[0]]["run_id"]
    for party in parties:
        status = coord.status(party, agreement["agreement_id"], run_id, purpose)
        chunk = next(iter(coord.peer_chunks(party, run_id)))
        _upload(
            coord,
            party,
            agreement,
            REBLINDED,
            blind(secrets[party], chunk["points"], workers=1),
            run_id=run_id,
            of_upload=status["peer_upload_id"],
            purpose=purpose,
        )
    assert coord.status(parties[0], agreement["agreement_id"], run_id, purpose)["state"] == "complete"
    return run_id


def domains(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}.example" for i in range(n)]


def all_points(blobs: list[bytes]) -> set[bytes]:
    return {b[i : i + 32] for b in blobs for i in range(0, len(b), 32)}


__all__ = ["agree", "all_points", "coordinator", "domains", "np", "run"]
