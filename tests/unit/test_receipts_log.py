"""The client's receipts log: releases kept as parsed objects (small) or as the exact signed text (large)."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cleanroom.crypto.signing import Signer
from cleanroom.terms import canonical_json
from cleanroom_client.protocol.receipts import ReceiptLog, release_of, verify_entries


def test_signed_text_and_parsed_releases_both_verify_and_read_alike(tmp_path):
    signer = Signer(Ed25519PrivateKey.generate())
    log = ReceiptLog(tmp_path / "receipts.jsonl")
    small = {"kind": "overlap", "agreement_id": "agr_1", "cells": [], "released_at": "2026-01-01T00:00:00Z"}
    log.record_release({**small, "signature": signer.sign_json(small).hex()})
    large = {
        "kind": "attribution",
        "job_id": "job_1",
        "deals": [{"ref": i, "credits": {"p": "1.00"}} for i in range(1000)],
        "note": 'é"\\',
    }
    text = canonical_json(large).decode("utf-8")
    log.record_signed_release(text, signer.sign(text.encode("utf-8")))

    entries = log.entries()
    assert entries[1]["body_json"] == text  # kept byte for byte, not re-encoded
    assert [release_of(e) for e in entries] == [
        {**small, "signature": signer.sign_json(small).hex()},
        {**large, "signature": signer.sign(text.encode()).hex()},
    ]
    assert verify_entries(entries, signer.public_pem) == []

    # One changed character in the kept text, or another coordinator's key, is caught.
    lines = log.path.read_text(encoding="utf-8").splitlines()
    tampered = json.loads(lines[1])
    tampered["body_json"] = tampered["body_json"].replace('"1.00"', '"2.00"', 1)
    log.path.write_text("\n".join([lines[0], json.dumps(tampered)]) + "\n", encoding="utf-8")
    assert verify_entries(log.entries(), signer.public_pem) == [
        {"index": 2, "problem": "release: coordinator signature does not verify"}
    ]
    other = Signer(Ed25519PrivateKey.generate())
    assert [p["index"] for p in verify_entries(entries, other.public_pem)] == [1, 2]
