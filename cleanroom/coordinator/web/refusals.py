"""Refused REST and page requests go into the audit chain, as refused gRPC calls do.

One ``request.denied`` entry per refusal answered to a known key: the route,
the status code, the reason, the key's id and role, under the agreement the
request named. Entries stay small whatever the caller sent: ids and messages
are cut to a bound (the caller's input can be echoed in a message).
"""

from __future__ import annotations

import re
from typing import Any

from cleanroom.coordinator.store import Store
from cleanroom.coordinator.web.auth import Principal

MAX_REASON = 500
MAX_METHOD = 200
_AGREEMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def named_agreement(*candidates: Any) -> str | None:
    """The first candidate that looks like an agreement id; None when the request named none (or junk)."""
    for value in candidates:
        if isinstance(value, str) and _AGREEMENT_ID.match(value):
            return value
    return None


def audit_refusal(store: Store, p: Principal, method: str, code: str, reason: str, agreement_id: str | None) -> None:
    details = {
        "method": bounded(method, MAX_METHOD),
        "code": code,
        "reason": bounded(reason, MAX_REASON),
        "key_id": p.key_id,
        "role": p.role,
    }
    store.audit_now(p.party or "operator", "request.denied", named_agreement(agreement_id), details)
