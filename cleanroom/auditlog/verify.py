"""Offline verification of an exported audit log: no coordinator, no store.

Finds any edited, deleted, inserted or reordered entry, and a truncated tail
(against the signed checkpoint); reports each problem with its line number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cleanroom.auditlog.chain import FORMAT, GENESIS_HASH, checkpoint_body, entry_body, entry_hash
from cleanroom.crypto.signing import load_public_key
from cleanroom.errors import InputError
from cleanroom.terms import canonical_json


@dataclass
class Verification:
    entries: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)  # each entry's stated hash, in file order (entry 1 first)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, line: int, message: str) -> None:
        self.problems.append({"line": line, "problem": message})


def _signed(key: Ed25519PublicKey, signature_hex: str, message: bytes) -> bool:
    try:
        key.verify(bytes.fromhex(signature_hex), message)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def load_key(path: Path) -> Ed25519PublicKey:
    try:
        return load_public_key(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"public key file {path} does not exist") from None
    except ValueError:
        raise InputError(f"{path} is not an Ed25519 public key (PEM)") from None


def _parse(lines: list[str], result: Verification) -> list[tuple[int, Any]]:
    """The non-blank lines as (line number, record); a line that is not JSON is a problem."""
    records = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            records.append((number, json.loads(text)))
        except json.JSONDecodeError as exc:
            result.problem(number, f"not valid JSON ({exc.msg})")
    if not records or records[0][1].get("type") != "header" or records[0][1].get("format") != FORMAT:
        result.problem(1, f"missing header line of format {FORMAT}")
    return records


def _check_entry(number: int, record: Any, seq: Any, stated: str, key: Ed25519PublicKey, result: Verification) -> None:
    """An entry's content against its hash (redacted entries carry no content), and its signature."""
    if record.get("type") == "entry":
        body = entry_body(
            seq,
            record.get("at"),
            record.get("actor"),
            record.get("action"),
            record.get("agreement_id"),
            record.get("details"),
            record.get("prev_hash"),
        )
        if entry_hash(body) != stated:
            result.problem(number, f"entry {seq} was edited: its content does not match its hash")
    if not _signed(key, record.get("signature", ""), bytes.fromhex(stated) if len(stated) == 64 else b""):
        result.problem(number, f"entry {seq}: signature does not verify with this public key")


def _check_checkpoint(checkpoint: tuple[int, Any] | None, last_line: int, key: Ed25519PublicKey, result: Verification) -> None:
    """The signed checkpoint must be there, verify, and cover exactly the entries read."""
    if checkpoint is None:
        result.problem(last_line, "no signed checkpoint at the end: the log may be truncated")
        return
    number, record = checkpoint
    body = checkpoint_body(record.get("count"), record.get("head_hash"), record.get("signed_at"), record.get("agreement_filter"))
    if not _signed(key, record.get("signature", ""), canonical_json(body)):
        result.problem(number, "the checkpoint's signature does not verify with this public key")
    if record.get("count") != result.entries or record.get("head_hash") != result.head_hash:
        result.problem(
            number,
            f"checkpoint covers {record.get('count')} entries ending at {str(record.get('head_hash'))[:12]}..., "
            f"the log holds {result.entries} ending at {result.head_hash[:12]}... (truncated or extended)",
        )


def verify_lines(lines: list[str], key: Ed25519PublicKey) -> Verification:
    result = Verification()
    prev, expected_seq, checkpoint = GENESIS_HASH, 1, None
    for number, record in _parse(lines, result):
        kind = record.get("type")
        if kind == "header":
            continue
        if kind == "checkpoint":
            checkpoint = (number, record)
            continue
        if checkpoint is not None:
            result.problem(number, "entry after the checkpoint (appended after export?)")
        if kind not in ("entry", "redacted"):
            result.problem(number, f"unknown record type {kind!r}")
            continue
        seq = record.get("seq")
        if seq != expected_seq:
            result.problem(number, f"sequence {seq} where {expected_seq} was expected (entry deleted, inserted or reordered)")
        if record.get("prev_hash") != prev:
            result.problem(number, f"entry {seq} does not link to the previous entry's hash (chain broken)")
        stated = record.get("entry_hash", "")
        _check_entry(number, record, seq, stated, key, result)
        prev = stated
        result.hashes.append(stated)
        expected_seq = (seq if isinstance(seq, int) else expected_seq) + 1
        result.entries += 1
    result.head_hash = prev
    _check_checkpoint(checkpoint, len(lines), key, result)
    return result


def verify_file(path: Path, public_key: Path) -> Verification:
    key = load_key(public_key)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"audit log {path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a UTF-8 JSON Lines audit export") from None
    return verify_lines(lines, key)
