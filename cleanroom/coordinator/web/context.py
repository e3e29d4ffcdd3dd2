"""What the routes and the pages share: the read repository, keys, sessions, metrics and the caches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.reads import WebReads
from cleanroom.coordinator.web.audit_trail import Verifier
from cleanroom.coordinator.web.auth import ApiKeys, Principal, Sessions
from cleanroom.coordinator.web.metrics import Metrics
from cleanroom.coordinator.web.overlap import OverlapCache
from cleanroom.coordinator.web.refusals import audit_refusal
from cleanroom.crypto.signing import Signer


@dataclass
class WebContext:
    store: Store  # written to only by ``ApiKeys`` and ``audit_refusal``
    reads: WebReads
    signer: Signer
    keys: ApiKeys
    sessions: Sessions
    metrics: Metrics
    overlaps: OverlapCache
    verifier: Verifier
    # /readyz: None while gRPC serves, else why not (set by the server that runs gRPC beside this app)
    readiness: Callable[[], str | None] = lambda: "gRPC is not served by this process"

    @classmethod
    def of(cls, store: Store, sessions: Sessions) -> WebContext:
        reads = WebReads(store)
        return cls(
            store, reads, store.signer, ApiKeys(store), sessions, Metrics(reads), OverlapCache(), Verifier(reads, store.signer)
        )

    def audit_refusal(self, p: Principal, method: str, code: str, reason: str, agreement_id: str | None) -> None:
        audit_refusal(self.store, p, method, code, reason, agreement_id)


def web_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context
