"""Refused REST and page requests go into the audit chain, as refused gRPC calls do.

One ``request.denied`` entry per refusal answered to a known key: the route,
the status code, the reason, the key's id and role, under the agreement the
request named. Entries stay small whatever the caller sent: ids and messages
are cut to a bound (the caller's input can be echoed in a message).
"""

from __future__ import annotations

from cleanroom.coordinator.limits import denial_details, named_agreement
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.web.auth import Principal


def audit_refusal(store: Store, p: Principal, method: str, code: str, reason: str, agreement_id: str | None) -> None:
    details = {**denial_details(method, code, reason), "key_id": p.key_id, "role": p.role}
    store.audit_now(p.party or "operator", "request.denied", named_agreement(agreement_id), details)
