"""Prometheus metrics: request latency per route, REST denials, and the store's counts.

Labels never carry a party name or an agreement id, so /metrics can be
scraped without an API key (bind it to loopback or an operator network).
The store's counts (runs, releases, audited denials over gRPC and REST)
are read at scrape time, so they survive restarts and include gRPC traffic.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from cleanroom.coordinator.store import Store

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class StoreCollector:
    """Counts from the store, read at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self):
        runs = GaugeMetricFamily("cleanroom_runs", "Runs by state and purpose", labels=["state", "purpose"])
        for r in self.store.rows("SELECT state, purpose, count(*) AS n FROM runs GROUP BY ALL ORDER BY ALL"):
            runs.add_metric([r["state"], r["purpose"]], r["n"])
        yield runs
        releases = CounterMetricFamily("cleanroom_releases", "Releases made, by kind", labels=["kind"])
        for r in self.store.rows("SELECT kind, count(*) AS n FROM releases GROUP BY ALL ORDER BY ALL"):
            releases.add_metric([r["kind"]], r["n"])
        yield releases
        agreements = GaugeMetricFamily("cleanroom_agreements", "Agreements by state", labels=["state"])
        for r in self.store.rows("SELECT state, count(*) AS n FROM agreements GROUP BY ALL ORDER BY ALL"):
            agreements.add_metric([r["state"]], r["n"])
        yield agreements
        audit = self.store.row(
            "SELECT count(*) AS entries, count(*) FILTER (WHERE action = 'request.denied') AS denied FROM audit_log"
        )
        denied = CounterMetricFamily("cleanroom_denied_requests", "Denied requests recorded in the audit log (gRPC and REST)")
        denied.add_metric([], audit["denied"])
        yield denied
        entries = GaugeMetricFamily("cleanroom_audit_entries", "Entries in the audit chain")
        entries.add_metric([], audit["entries"])
        yield entries
        keys = GaugeMetricFamily("cleanroom_api_keys", "Active API keys by role", labels=["role"])
        for r in self.store.rows("SELECT role, count(*) AS n FROM api_keys WHERE revoked_at IS NULL GROUP BY ALL ORDER BY ALL"):
            keys.add_metric([r["role"]], r["n"])
        yield keys


class Metrics:
    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "cleanroom_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.http_denials = Counter(
            "cleanroom_http_denials", "REST/page requests refused for authentication or permission", ["code"], registry=self.registry
        )
        self.registry.register(StoreCollector(store))

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class LatencyMiddleware:
    """Pure ASGI middleware (cheap): times every HTTP request, labelled by its route template."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def sending(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(scope["method"], template, str(status["code"])).observe(time.perf_counter() - started)
