"""The REST routers, one per resource; ``ROUTERS`` in the order the app includes them."""

from __future__ import annotations

from cleanroom.coordinator.web.routes import agreements, api_keys, attribution, audit, operations, overlap, registrations

ROUTERS = (
    agreements.router, overlap.router, attribution.router, registrations.router, audit.router, api_keys.router,
    operations.router,
)  # fmt: skip
