"""A stored release is served only while its signature verifies: an edit in the store is refused, not shown.

Releases are signed when they are made; the store holds the signed text. Someone with the store
file can still change it, so the REST API and the pages check each release against the
coordinator's key before serving it, and answer ``DATA_LOSS`` (HTTP 500, the release named)
for one that fails, never its numbers.
"""

from __future__ import annotations

import json
from typing import Any

from cleanroom.coordinator.store.reads import StoredRelease
from cleanroom.crypto.signing import verify_json
from cleanroom.errors import DataLoss


def checked_overlap(stored: StoredRelease, public_pem: bytes) -> dict[str, Any]:
    """The stored overlap release, once its signature verifies; DataLoss otherwise."""
    release: dict[str, Any] = json.loads(stored.body.text)
    body = {k: v for k, v in release.items() if k != "signature"}
    try:
        signature = bytes.fromhex(str(release.get("signature", "")))
    except ValueError:
        signature = b""
    if not signature or not verify_json(public_pem, body, signature):
        raise DataLoss(
            f"the stored release {stored.release_id} (agreement {stored.agreement_id}, run {stored.run_id}) fails its "
            "signature check: it was changed after it was signed. It is not served; the audit log has what was released."
        )
    return release
