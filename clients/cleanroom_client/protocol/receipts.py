"""The client's own record of what left this machine, countersigned by the coordinator."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

from cleanroom.auditlog.heads import AuditHead, head_from_dict
from cleanroom.crypto.signing import load_public_key, verify_bytes, verify_json
from cleanroom.errors import InputError
from cleanroom.protocol import upload_digest
from cleanroom_client.profile import Profile
from cleanroom_client.remote import UploadReceipt, receipt_record

RECEIPTS_FILE = "receipts.jsonl"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def release_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The release a receipts entry records, as one object: the body's fields and the signature."""
    if "body_json" in entry:
        return {**json.loads(entry["body_json"]), "signature": entry["signature"]}
    release: dict[str, Any] = entry["release"]
    return release


class ReceiptLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, profile: Profile) -> ReceiptLog:
        """The profile's receipts log."""
        return cls(profile.path / RECEIPTS_FILE)

    def record_upload(self, receipt: UploadReceipt, chunk_digests: list[str]) -> None:
        """The receipt as received; its audit head must have been checked (``protocol.heads.verified_head``)."""
        entry = {
            "type": "upload",
            "recorded_at": _now(),
            "sent_chunk_digests": chunk_digests,
            "receipt": receipt_record(receipt),
        }
        self._append(entry, receipt.audit_head)

    def record_release(self, release: dict[str, Any], head: AuditHead | None = None) -> None:
        """A verified release and the checked audit head it came with (kept beside it: not under its signature)."""
        self._append({"type": "release", "recorded_at": _now(), "release": release}, head)

    def record_signed_release(self, body_json: str, signature: bytes, head: AuditHead | None = None) -> None:
        """A release kept as the exact text the coordinator signed: a large one (the vendor's per-deal
        attribution, megabytes) is neither parsed nor encoded again to be kept, and verifies byte for byte."""
        self._append({"type": "release", "recorded_at": _now(), "body_json": body_json, "signature": signature.hex()}, head)

    def record_alert(self, delivery: dict[str, Any]) -> None:
        """One alert delivery and how it went (delivered, pending, rejected): our own note, signed by nobody."""
        self._append({"type": "alert", "recorded_at": _now(), "alert": delivery})

    def record_evaluation(self, outcome: dict[str, Any]) -> None:
        """One deal-registration request this vendor's client evaluated or refused: our own note, signed by nobody."""
        self._append({"type": "registration_evaluation", "recorded_at": _now(), "evaluation": outcome})

    def _append(self, entry: dict[str, Any], head: AuditHead | None = None) -> None:
        if head is not None:
            entry["audit_head"] = head.to_dict()
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


_RECEIPT_FIELDS = (
    "upload_id",
    "run_id",
    "agreement_id",
    "terms_hash",
    "kind",
    "party",
    "total_points",
    "total_chunks",
    "upload_digest",
    "received_at",
)


def upload_kind(receipt: dict[str, Any]) -> str:
    """An upload receipt's kind as the coordinator signs it and people read it: the log keeps the
    wire's enum name (UPLOAD_KIND_OWN), the signed body and the screens say own, reblinded."""
    return str(receipt["kind"]).lower().replace("upload_kind_", "")


def alert_row(alert: dict[str, Any]) -> tuple[str, str, str, str]:
    """(agreement, run, what, delivery id) of an alert delivery's receipt, for the tables."""
    what = f"alert to {alert['receiver_id']} ({alert['host']}): {alert['status']} after {alert['attempts']} attempt(s)"
    if alert.get("error"):
        what += f", {alert['error']}"
    return alert["agreement_id"], alert["run_id"], what, alert["delivery_id"]


def receipt_body(receipt: dict[str, Any]) -> dict[str, Any]:
    """The exact object the coordinator signed for an upload receipt."""
    body = {k: receipt.get(k, "") for k in _RECEIPT_FIELDS}
    body["kind"] = upload_kind(body)
    body["total_points"] = int(body["total_points"])
    body["total_chunks"] = int(body["total_chunks"])
    return body


def release_body(release: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in release.items() if k != "signature"}


def verify_entries(entries: list[dict[str, Any]], public_pem: bytes) -> list[dict[str, Any]]:
    """Problems with the receipts: bad signatures, or digests that differ from what we sent."""
    problems = []
    for index, entry in enumerate(entries, start=1):
        if entry.get("type") == "upload":
            receipt = entry["receipt"]
            signature = base64.b64decode(receipt.get("signature", ""))
            if not verify_json(public_pem, receipt_body(receipt), signature):
                problems.append({"index": index, "problem": "upload receipt: coordinator signature does not verify"})
            if upload_digest(entry.get("sent_chunk_digests", [])) != receipt.get("upload_digest"):
                problems.append(
                    {
                        "index": index,
                        "problem": "upload receipt: the digest the coordinator acknowledged is not what this client sent",
                    }
                )
        elif entry.get("type") == "release":
            signed = entry if "body_json" in entry else entry["release"]
            try:
                signature = bytes.fromhex(signed.get("signature", ""))
            except ValueError:
                signature = b""
            if "body_json" in entry:
                verified = verify_bytes(public_pem, str(entry["body_json"]).encode("utf-8"), signature)
            else:
                verified = verify_json(public_pem, release_body(signed), signature)
            if not verified:
                problems.append({"index": index, "problem": "release: coordinator signature does not verify"})
        elif entry.get("type") != "alert":  # an alert's outcome is our own note: nothing to verify
            problems.append({"index": index, "problem": f"unknown receipt type {entry.get('type')!r}"})
        problem = _head_problem(entry, public_pem)
        if problem:
            problems.append({"index": index, "problem": problem})
    return problems


def _head_problem(entry: dict[str, Any], public_pem: bytes) -> str | None:
    """What is wrong with the audit head a receipt keeps, if anything (most receipts of old clients have none)."""
    if entry.get("audit_head") is None:
        return None
    try:
        head = head_from_dict(entry["audit_head"], "audit head")
    except InputError as exc:
        return str(exc)
    if not head.signed_by(load_public_key(public_pem)):
        return f"audit head (entry {head.count}): coordinator signature does not verify"
    return None
