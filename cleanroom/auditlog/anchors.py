"""Checking an audit log against the signed heads the parties hold (pure, offline).

A head held for entry ``count`` says what entry ``count`` hashed to. Given
the log's entry hashes in order, each head is ``ok`` (the log still holds that
entry), ``shorter`` (the log ends before it: the newest entries were deleted),
``diverging`` (the log has an entry there, but another one: the tail was
replaced), or ``forged`` (its signature is not the coordinator's: it proves
nothing, and someone edited the receipts). A rollback is visible only against
heads somebody kept; entries newer than every held head are covered by the
chain alone.

Heads are read from a client's receipts (``receipts.jsonl``: each entry may
carry ``audit_head``), its profile directory, or a heads export (``HEADS_FORMAT``,
written by ``cleanroom-client receipts export-heads``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cleanroom.auditlog.heads import AuditHead, head_from_dict
from cleanroom.errors import InputError

HEADS_FORMAT = "cleanroom.audit-heads/v1"
RECEIPTS_FILE = "receipts.jsonl"


@dataclass(frozen=True)
class HeldHead:
    head: AuditHead
    source: str  # where it was read: a file and line, or an index in a posted export


@dataclass(frozen=True)
class HeadCheck:
    held: HeldHead
    status: str  # ok | shorter | diverging | forged
    missing: int  # entries the log lacks before this head's entry (shorter only)
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def rolled_back(self) -> bool:
        """The log lacks this (genuine) head's entry, or holds another one there."""
        return self.status in ("shorter", "diverging")

    def to_dict(self) -> dict[str, Any]:
        head = self.held.head
        return {
            "status": self.status,
            "count": head.count,
            "head_hash": head.head_hash,
            "signed_at": head.signed_at,
            "source": self.held.source,
            "missing": self.missing,
            "message": self.message,
        }


def check_head(held: HeldHead, length: int, hashes: Mapping[int, str], key: Ed25519PublicKey) -> HeadCheck:
    """One head against a log of ``length`` entries whose hashes at (at least) the held positions are ``hashes``."""
    head = held.head
    if not head.signed_by(key):
        return HeadCheck(
            held,
            "forged",
            0,
            "its signature does not verify with the coordinator's key: it is not a head this coordinator signed "
            "(receipts edited, or another coordinator's key given); it proves nothing either way",
        )
    if head.count > length:
        missing = head.count - length
        return HeadCheck(
            held,
            "shorter",
            missing,
            f"rolled back: the coordinator signed at {head.signed_at} that its log held {head.count} entries; this log "
            f"holds {length}, so at least {missing} entries were deleted. Keep this head and the receipts as evidence "
            "and ask the operator to restore the store from a backup that has them",
        )
    found = hashes.get(head.count, "")
    if found != head.head_hash:
        return HeadCheck(
            held,
            "diverging",
            0,
            f"diverging: entry {head.count} is not the entry the coordinator signed for at {head.signed_at} "
            f"({head.head_hash[:12]}..., the log has {found[:12] or 'none'}...): entries up to it were "
            "deleted and others written in their place. Keep this head and the receipts as evidence",
        )
    return HeadCheck(held, "ok", 0, f"the log holds entry {head.count} as signed at {head.signed_at}")


def check_heads(held: Sequence[HeldHead], entry_hashes: Sequence[str], key: Ed25519PublicKey) -> list[HeadCheck]:
    """Every held head checked against the log whose entry hashes (entry 1 first) are given."""
    hashes = dict(enumerate(entry_hashes, start=1))
    return [check_head(h, len(entry_hashes), hashes, key) for h in held]


def distinct(held: Sequence[HeldHead]) -> list[HeldHead]:
    """One of each head (a release asked for again carries the head it was first given), oldest first."""
    seen: dict[tuple[int, str, str], HeldHead] = {}
    for h in held:
        seen.setdefault((h.head.count, h.head.head_hash, h.head.signature), h)
    return sorted(seen.values(), key=lambda h: h.head.count)


def heads_from_export(document: Any, name: str) -> list[HeldHead]:
    """The heads of a heads export (``HEADS_FORMAT``) already parsed from JSON; InputError naming ``name`` if malformed."""
    if not isinstance(document, dict) or document.get("format") != HEADS_FORMAT or not isinstance(document.get("heads"), list):
        raise InputError(f'{name} is not an audit heads export: expected {{"format": "{HEADS_FORMAT}", "heads": [...]}}')
    return [
        HeldHead(head_from_dict(value, f"{name} heads[{i}]"), f"{name} heads[{i}]") for i, value in enumerate(document["heads"])
    ]


def _from_jsonl(path: Path, lines: list[str]) -> list[HeldHead]:
    held = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            entry = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
        if isinstance(entry, dict) and entry.get("audit_head") is not None:
            where = f"{path} line {number}"
            held.append(HeldHead(head_from_dict(entry["audit_head"], where), where))
    return held


def read_held_heads(path: Path) -> list[HeldHead]:
    """Heads from a profile directory (its receipts), a receipts file, or a heads export."""
    if path.is_dir():
        path = path / RECEIPTS_FILE
        if not path.exists():
            raise InputError(
                f"{path.parent} holds no {RECEIPTS_FILE}: give a client profile directory, its receipts, or a heads export"
            )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text (a receipts file or a heads export)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None  # JSON Lines: a receipts file
    if isinstance(document, dict) and "format" in document:
        return heads_from_export(document, str(path))
    return _from_jsonl(path, text.splitlines())
