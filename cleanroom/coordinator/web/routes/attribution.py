"""/v1 attribution routes: results released to the caller, per job and per agreement."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from cleanroom.coordinator.web import models
from cleanroom.coordinator.web.attribution import agreement_attribution, attribution
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.roles import require_role
from cleanroom.coordinator.web.routes.common import ID, AgreementId, Ctx, Cursor, Viewer, v1_router

router = v1_router()
Analyst = Annotated[Principal, Depends(require_role("analyst", "read released attribution results"))]
IncludeDeals = Annotated[bool, Query(description="include the vendor's per-deal credits")]


@router.get(
    "/attribution",
    response_model=models.AttributionPage,
    tags=["attribution"],
    summary="Attribution results released to the caller, newest first",
)
def list_attribution(
    p: Analyst,
    web: Ctx,
    viewer: Viewer = None,
    agreement_id: Annotated[str | None, Query(pattern=ID)] = None,
    include_deals: IncludeDeals = False,
    limit: Annotated[int, Query(ge=1, le=100, description="page size")] = 20,
    cursor: Cursor = None,
) -> dict[str, Any]:
    return attribution(
        web.reads, p, viewer=viewer, agreement_id=agreement_id, include_deals=include_deals, limit=limit, cursor=cursor
    )


@router.get(
    "/agreements/{agreement_id}/attribution",
    response_model=models.AttributionRelease,
    tags=["attribution"],
    summary="The latest attribution result released to the caller under an agreement",
)
def get_agreement_attribution(
    p: Analyst,
    web: Ctx,
    agreement_id: AgreementId,
    viewer: Viewer = None,
    include_deals: IncludeDeals = False,
) -> dict[str, Any]:
    return agreement_attribution(web.reads, p, agreement_id, viewer=viewer, include_deals=include_deals)
