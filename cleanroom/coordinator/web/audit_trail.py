"""The audit trail for auditors: entries (filtered, paged in SQL), the chain's verification, the export, disclosure reports."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from cleanroom.auditlog.anchors import HeldHead, check_heads, distinct
from cleanroom.auditlog.heads import AuditHead
from cleanroom.auditlog.verify import verify_lines
from cleanroom.coordinator.audit.export import chain_lines, entry_dict, export_text
from cleanroom.coordinator.audit.report import disclosure_report_from
from cleanroom.coordinator.store.connection import now, time_text
from cleanroom.coordinator.store.reads import AuditQuery, WebReads
from cleanroom.coordinator.web.access import agreement_for
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.cursors import decode_cursor, encode_cursor
from cleanroom.coordinator.web.models import HeadsExport
from cleanroom.coordinator.web.redaction import redact_report
from cleanroom.crypto.signing import Signer, load_public_key
from cleanroom.errors import InvalidArgument, NotFound


def audit_entries(
    reads: WebReads,
    p: Principal,
    *,
    agreement_id: str | None = None,
    party: str | None = None,
    action: str | None = None,
    program_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    order: str = "desc",
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Entries the caller may see: its party's agreements' and its own; an admin's, all."""
    if agreement_id:
        agreement_for(reads, p, agreement_id)
    after = decode_cursor(cursor, (int,))
    query = AuditQuery(
        visible_to=None if p.is_admin else p.party,
        agreement_id=agreement_id or None,
        party=party or None,
        action=action or None,
        program_id=program_id or None,
        since=time_text(since) if since else None,
        until=time_text(until) if until else None,
        descending=order == "desc",
        after_seq=after[0] if after else None,
        limit=limit + 1,
    )
    rows = reads.audit_entries(query)
    page, more = rows[:limit], len(rows) > limit
    return {"items": [entry_dict(r) for r in page], "next_cursor": encode_cursor(page[-1].seq) if more else None}


def audit_actions(reads: WebReads, p: Principal) -> list[str]:
    return reads.audit_actions(None if p.is_admin else p.party)


class Verifier:
    """The whole stored chain checked as `cleanroom audit verify` checks an export: links, hashes, signatures.

    Entries of agreements the caller is not in are checked too (the chain is
    one); problems name only sequence numbers. The result is kept until the
    chain grows: the running coordinator holds the store's file lock, so
    nothing else can change it in between.
    """

    def __init__(self, reads: WebReads, signer: Signer) -> None:
        self.reads, self.signer = reads, signer
        self._verified: tuple[tuple[int, str], dict[str, Any], list[str]] | None = None
        self._lock = threading.Lock()

    def status(self) -> dict[str, Any]:
        return dict(self._checked()[0])

    def against(self, held: list[HeldHead]) -> dict[str, Any]:
        """The chain's status, and each head a party holds checked against it: a chain that verifies but lacks
        a held head's entry, or holds another one there, was rolled back."""
        status, hashes = self._checked()
        checks = check_heads(distinct(held), hashes, load_public_key(self.signer.public_pem))
        if status["status"] == "verified" and any(c.rolled_back for c in checks):
            status = {**status, "status": "rolled back"}
        return {**status, "heads": [c.to_dict() for c in checks]}

    def _checked(self) -> tuple[dict[str, Any], list[str]]:
        with self._lock:
            # A write between these two reads only makes the next call check again: the key is the older head.
            head = self.reads.chain_head()
            if self._verified and self._verified[0] == head:
                return self._verified[1], self._verified[2]
            with self.reads.reading() as con:
                lines = list(chain_lines(con, None))
            text, _ = export_text(lines, self.signer, None)
            result = verify_lines(text.splitlines(), load_public_key(self.signer.public_pem))
            seqs = {n: line["seq"] for n, line in enumerate(lines, start=2)}  # line 1 is the header
            status = {
                "status": "verified" if result.ok else "broken",
                "entries": result.entries,
                "head_hash": result.head_hash,
                "checked_at": now(),
                "problems": [{"seq": seqs.get(pr["line"]), "problem": pr["problem"]} for pr in result.problems],
            }
            self._verified = (head, status, result.hashes)
            return status, result.hashes


def export(reads: WebReads, signer: Signer, p: Principal, agreement_id: str | None) -> tuple[str, str]:
    """The signed JSON Lines export (as `cleanroom audit export`), and a file name."""
    if agreement_id:
        agreement_for(reads, p, agreement_id)
    elif not p.is_admin:
        raise InvalidArgument("name the agreement (agreement_id=...): an auditor exports the agreements its party is in")
    with reads.reading() as con:
        lines = list(chain_lines(con, agreement_id))
    text, _ = export_text(lines, signer, agreement_id)
    return text, f"audit-{agreement_id or 'all'}.jsonl"


def disclosure_report(reads: WebReads, p: Principal, agreement_id: str) -> dict[str, Any]:
    """Everything released under the agreement, per viewer; redacted for the other party's auditor."""
    agreement_for(reads, p, agreement_id)
    with reads.reading() as con:
        report = disclosure_report_from(con, agreement_id)
    if report is None:
        raise NotFound(f"agreement {agreement_id!r} does not exist")
    return report if p.is_admin else redact_report(report, p.party)


def posted_heads(body: HeadsExport) -> list[HeldHead]:
    """A posted heads export as held heads, each named by its place in the post (and where the party kept it)."""
    return [
        HeldHead(
            AuditHead(h.count, h.head_hash, h.signed_at, h.signature), f"heads[{i}]" + (f" ({h.source})" if h.source else "")
        )
        for i, h in enumerate(body.heads)
    ]
