"""/v1/me and /v1/agreements: who the key is, and the agreements of its party."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query

from cleanroom.coordinator.web import models
from cleanroom.coordinator.web.agreements import agreement_detail
from cleanroom.coordinator.web.agreements import list_agreements as list_page
from cleanroom.coordinator.web.roles import Caller
from cleanroom.coordinator.web.routes.common import PARTY, AgreementId, Ctx, Cursor, v1_router

router = v1_router()


@router.get("/me", response_model=models.Me, tags=["auth"], summary="Who this key is")
def me(p: Caller) -> dict[str, Any]:
    return {"key_id": p.key_id, "party": p.party, "role": p.role}


@router.get(
    "/agreements",
    response_model=models.AgreementPage,
    tags=["agreements"],
    summary="Agreements of the caller's party (admin: all)",
)
def list_agreements(
    p: Caller,
    web: Ctx,
    state: Annotated[Literal["proposed", "active", "revoked"] | None, Query()] = None,
    party: Annotated[str | None, Query(pattern=PARTY, description="only agreements this party is in")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="page size")] = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    return list_page(web.reads, p, state=state, party=party, limit=limit, cursor=cursor)


@router.get(
    "/agreements/{agreement_id}",
    response_model=models.AgreementDetail,
    tags=["agreements"],
    summary="One agreement: terms, runs, releases",
)
def get_agreement(p: Caller, web: Ctx, agreement_id: AgreementId) -> dict[str, Any]:
    return agreement_detail(web.reads, p, agreement_id)
