"""/v1 overlap routes: one agreement's released overlap, and the caller's partners ranked by it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import JSONResponse, Response

from cleanroom.coordinator.web import models
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.overlap import overlap
from cleanroom.coordinator.web.ranking import ranking
from cleanroom.coordinator.web.roles import require_role
from cleanroom.coordinator.web.routes.common import ID, POPULATION, AgreementId, Ctx, Viewer, v1_router

router = v1_router()
Analyst = Annotated[Principal, Depends(require_role("analyst", "read released overlap counts"))]


@router.get(
    "/agreements/{agreement_id}/overlap",
    response_model=models.Overlap,
    tags=["overlap"],
    summary="The overlap released to the caller (stored releases only)",
    description=(
        "Returns the latest overlap release the coordinator made to the viewer under this agreement (or the one of `run_id`), "
        "exactly as it was signed and stored. This endpoint never makes a new release, so it never spends a differential-privacy "
        "budget: until the party's client has fetched a run's result (`cleanroom-client overlap`), the answer is 404. "
        "`newer_run_unreleased` says when a later run has completed but was not released yet."
    ),
)
def get_overlap(
    p: Analyst,
    web: Ctx,
    agreement_id: AgreementId,
    viewer: Viewer = None,
    run_id: Annotated[str | None, Query(pattern=ID)] = None,
) -> Response:
    # Returned as is (the response model documents it): the signed release goes out byte for byte as
    # stored, with no defaults added, and the hot path skips re-validating what the coordinator wrote.
    return JSONResponse(overlap(web.reads, web.overlaps, p, agreement_id, viewer=viewer, run_id=run_id))


@router.get(
    "/partners/ranking",
    response_model=models.Ranking,
    tags=["overlap"],
    summary="The caller's partners ranked by released overlap",
    description=(
        "Ranks every partner the viewer has an agreement with by the latest overlap released to the viewer: by the cell "
        "(`mine`, `theirs`) when both are given, else by the total overlap. Suppressed cells (< k) rank last; partners "
        "with nothing to rank on are listed under `unavailable` with the reason."
    ),
)
def partner_ranking(
    p: Analyst,
    web: Ctx,
    viewer: Viewer = None,
    mine: Annotated[str | None, Query(pattern=POPULATION, description="the viewer's population")] = None,
    theirs: Annotated[str | None, Query(pattern=POPULATION, description="the partner's population")] = None,
) -> dict[str, Any]:
    return ranking(web.reads, p, viewer=viewer, mine=mine, theirs=theirs)
