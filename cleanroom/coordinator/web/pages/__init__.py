"""Server-rendered pages for vendors (partner overview, attribution) and auditors (audit trail, disclosure reports).

No JavaScript and nothing from a CDN. The pages read through the same
functions as the REST API, so a page shows the API's numbers.
"""

from __future__ import annotations

from fastapi import APIRouter

from cleanroom.coordinator.web.pages import auditor, session, vendor
from cleanroom.coordinator.web.pages.session import not_found

router = APIRouter(include_in_schema=False)
for _part in (session.router, vendor.router, auditor.router):
    router.include_router(_part)

__all__ = ["not_found", "router"]
