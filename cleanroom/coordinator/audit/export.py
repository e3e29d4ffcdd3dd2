"""Exporting the audit chain as JSON Lines, closed by a signed checkpoint.

An export filtered to one agreement still carries every link of the chain:
entries of other agreements appear redacted (sequence number, hashes and
signature, no content), so the verifier can check the whole chain without
learning anything about agreements the reader is not party to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from cleanroom.auditlog.chain import FORMAT, GENESIS_HASH, checkpoint_body
from cleanroom.coordinator.datadir import DataDir
from cleanroom.coordinator.store import now
from cleanroom.coordinator.store.audit import agreement_exists, chain
from cleanroom.coordinator.store.connection import open_duckdb
from cleanroom.coordinator.store.records import AuditRow
from cleanroom.crypto.signing import Signer
from cleanroom.errors import InputError
from cleanroom.terms import canonical_json


def open_read_only(data_dir: DataDir) -> duckdb.DuckDBPyConnection:
    data_dir.config()  # a clear error when DIR is not a coordinator data dir
    try:
        return open_duckdb(data_dir.store_path, read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise InputError(
                f"{data_dir.store_path} is in use by a running coordinator; stop it first (or read the audit trail over its REST API)"
            ) from None
        raise InputError(f"cannot open {data_dir.store_path}: {exc}") from None


def entry_dict(row: AuditRow) -> dict[str, Any]:
    """An audit entry as the export and the REST API show it (the export adds ``"type": "entry"``)."""
    return {
        "seq": row.seq,
        "at": row.logged_at,
        "actor": row.actor,
        "action": row.action,
        "agreement_id": row.agreement_id,
        "details": json.loads(row.details_json),
        "prev_hash": row.prev_hash,
        "entry_hash": row.entry_hash,
        "signature": bytes(row.signature).hex(),
    }


def chain_lines(con: duckdb.DuckDBPyConnection, agreement_id: str | None) -> Iterator[dict[str, Any]]:
    for row in chain(con):
        if agreement_id is None or row.agreement_id == agreement_id:
            yield {"type": "entry", **entry_dict(row)}
        else:
            yield {
                "type": "redacted",
                "seq": row.seq,
                "prev_hash": row.prev_hash,
                "entry_hash": row.entry_hash,
                "signature": bytes(row.signature).hex(),
            }


def export_text(lines: list[dict[str, Any]], signer: Signer, agreement_id: str | None) -> tuple[str, str]:
    """The export file's text (header, ``lines``, signed checkpoint) and the head hash."""
    head = lines[-1]["entry_hash"] if lines else GENESIS_HASH
    checkpoint = checkpoint_body(len(lines), head, now(), agreement_id)
    text = [json.dumps({"type": "header", "format": FORMAT, "agreement_filter": agreement_id})]
    text += [json.dumps(line, sort_keys=True) for line in lines]
    text.append(json.dumps({"type": "checkpoint", **checkpoint, "signature": signer.sign(canonical_json(checkpoint)).hex()}))
    return "".join(t + "\n" for t in text), head


def export(data_dir: DataDir, out: Path, agreement_id: str | None = None) -> dict[str, Any]:
    """Write the chain to ``out`` (JSON Lines) and the public key to ``out`` + '.pub'."""
    data_dir.config()  # a clear error when DIR is not a coordinator data dir, before its key is read
    signer = data_dir.signer()
    con = open_read_only(data_dir)
    try:
        if agreement_id and not agreement_exists(con, agreement_id):
            raise InputError(f"agreement {agreement_id!r} does not exist in {data_dir.path}")
        lines = list(chain_lines(con, agreement_id))
    finally:
        con.close()
    text, head = export_text(lines, signer, agreement_id)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    public = Path(str(out) + ".pub")
    public.write_bytes(signer.public_pem)
    return {"out": str(out), "public_key": str(public), "entries": len(lines), "head_hash": head}
