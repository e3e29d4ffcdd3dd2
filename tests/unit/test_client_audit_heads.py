"""The client's side of audit heads: a forged head is refused, kept heads are checked by `receipts verify`,
exported for an auditor, and checked against the coordinator's current head."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom.auditlog.anchors import HEADS_FORMAT, HeldHead
from cleanroom.auditlog.heads import AuditHead, sign_head
from cleanroom.crypto.signing import Signer
from cleanroom.errors import ProtocolError
from cleanroom_client.protocol.heads import against_coordinator, heads_export, held, verified_head
from cleanroom_client.protocol.receipts import ReceiptLog, verify_entries
from cleanroom_client.remote import HeadProof

LOG = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1, 31)]


@pytest.fixture
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def _kept(signer: Signer, tmp_path, counts) -> ReceiptLog:
    log = ReceiptLog(tmp_path / "receipts.jsonl")
    for c in counts:
        body = {"kind": "overlap", "run_id": f"run_{c}"}
        log.record_release({**body, "signature": signer.sign_json(body).hex()}, sign_head(signer, c, LOG[c - 1], f"t{c}"))
    return log


def test_a_head_that_does_not_verify_is_refused(signer):
    good = sign_head(signer, 4, LOG[3], "t")
    assert verified_head(good, signer.public_pem, "x") == good
    assert verified_head(None, signer.public_pem, "x") is None  # a coordinator from before heads sends none
    other = Signer(Ed25519PrivateKey.generate())
    for bad in (sign_head(other, 4, LOG[3], "t"), AuditHead(5, LOG[4], "t", good.signature)):
        with pytest.raises(
            ProtocolError, match=r"the overlap release .* audit head \(entry \d\) whose signature does not verify"
        ):
            verified_head(bad, signer.public_pem, "the overlap release")


def test_receipts_verify_checks_the_kept_heads(signer, tmp_path):
    log = _kept(signer, tmp_path, [3, 9])
    assert verify_entries(log.entries(), signer.public_pem) == []
    lines = log.path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["audit_head"]["count"] = 30  # someone makes the party's evidence claim a longer log
    log.path.write_text(lines[0] + "\n" + json.dumps(edited) + "\n")
    assert verify_entries(log.entries(), signer.public_pem) == [
        {"index": 2, "problem": "audit head (entry 30): coordinator signature does not verify"}
    ]


def test_the_heads_export_holds_signed_heads_only_newest_last(signer, tmp_path):
    log = _kept(signer, tmp_path, [9, 3, 9, 20])
    document = heads_export(log, "vendor")
    assert document["format"] == HEADS_FORMAT and document["party"] == "vendor"
    assert [h["count"] for h in document["heads"]] == [3, 9, 20]  # distinct, oldest first
    assert set(document["heads"][0]) == {"count", "head_hash", "signed_at", "signature", "source"}  # no release contents
    assert [h["count"] for h in heads_export(log, "vendor", newest=2)["heads"]] == [9, 20]


def test_held_heads_against_the_coordinators_current_head(signer, tmp_path):
    kept = held(_kept(signer, tmp_path, [3, 9, 20]))
    pem = signer.public_pem
    now = HeadProof(sign_head(signer, 25, LOG[24], "now"), {3: LOG[2], 9: LOG[8], 20: LOG[19]})
    assert [c.status for c in against_coordinator(kept, now, pem)] == ["ok", "ok", "ok"]
    shorter = HeadProof(sign_head(signer, 12, LOG[11], "now"), {3: LOG[2], 9: LOG[8]})
    assert [(c.status, c.missing) for c in against_coordinator(kept, shorter, pem)] == [("ok", 0), ("ok", 0), ("shorter", 8)]
    regrown = HeadProof(sign_head(signer, 25, "f" * 64, "now"), {3: LOG[2], 9: "e" * 64, 20: "d" * 64})
    assert [c.status for c in against_coordinator(kept, regrown, pem)] == ["ok", "diverging", "diverging"]
    # The current head's own signature is the coordinator's word: a forged one is refused.
    with pytest.raises(ProtocolError, match="current head"):
        against_coordinator(kept, HeadProof(AuditHead(25, LOG[24], "now", "0" * 128), {}), pem)
    # An empty log at the coordinator: every held head is missing.
    assert {c.status for c in against_coordinator(kept, HeadProof(None, {}), pem)} == {"shorter"}
    assert isinstance(kept[0], HeldHead)
