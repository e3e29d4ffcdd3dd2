"""Prometheus metrics: request latency per route, REST denials, and the store's counts.

Labels never carry a party name or an agreement id, so /metrics can be
scraped without an API key (bind it to loopback or an operator network).
The store's counts (runs, releases, audited denials over gRPC and REST)
are read at scrape time, so they survive restarts and include gRPC traffic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Message, Receive, Scope, Send

from cleanroom.coordinator.store.reads import WebReads

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class StoreCollector:
    """Counts from the store, read at each scrape."""

    def __init__(self, reads: WebReads) -> None:
        self.reads = reads

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily("cleanroom_runs", "Runs by state and purpose", labels=["state", "purpose"])
        for state, purpose, n in self.reads.counts("runs"):
            runs.add_metric([state, purpose], n)
        yield runs
        releases = CounterMetricFamily("cleanroom_releases", "Releases made, by kind", labels=["kind"])
        for kind, n in self.reads.counts("releases"):
            releases.add_metric([kind], n)
        yield releases
        agreements = GaugeMetricFamily("cleanroom_agreements", "Agreements by state", labels=["state"])
        for state, n in self.reads.counts("agreements"):
            agreements.add_metric([state], n)
        yield agreements
        total, denied_count = self.reads.audit_counts()
        denied = CounterMetricFamily("cleanroom_denied_requests", "Denied requests recorded in the audit log (gRPC and REST)")
        denied.add_metric([], denied_count)
        yield denied
        entries = GaugeMetricFamily("cleanroom_audit_entries", "Entries in the audit chain")
        entries.add_metric([], total)
        yield entries
        keys = GaugeMetricFamily("cleanroom_api_keys", "Active API keys by role", labels=["role"])
        for role, n in self.reads.counts("api_keys"):
            keys.add_metric([role], n)
        yield keys


class Metrics:
    def __init__(self, reads: WebReads) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "cleanroom_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.http_denials = Counter(
            "cleanroom_http_denials",
            "REST/page requests refused for authentication or permission",
            ["code"],
            registry=self.registry,
        )
        self.registry.register(StoreCollector(reads))

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class LatencyMiddleware:
    """Pure ASGI middleware (cheap): times every HTTP request, labelled by its route template."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(scope["method"], template, str(status["code"])).observe(time.perf_counter() - started)
