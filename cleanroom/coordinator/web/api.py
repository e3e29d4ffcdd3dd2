"""The /v1 REST routes. Each one authenticates the API key, then asks ``WebService``.

Authentication: ``Authorization: Bearer crk_...`` or ``X-API-Key: crk_...``.
Errors: ``{"error": {"code": ..., "message": ...}}`` with the gRPC status name
as the stable code (each error class in ``cleanroom.errors`` names its HTTP status).
Lists page with ``limit`` and an opaque ``cursor`` (``next_cursor`` of the
previous page; null on the last page).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cleanroom.errors import InvalidArgument, RequestError, Unauthenticated
from cleanroom.coordinator.web import models
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.service import Denied, WebService

ID = r"^[A-Za-z0-9_-]{1,64}$"
PARTY = r"^[a-z0-9][a-z0-9_-]{0,62}$"
POPULATION = r"^[a-z0-9][a-z0-9_-]{0,31}$"
ACTION = r"^[a-z0-9_.-]{0,64}\*?$"
CURSOR = r"^[A-Za-z0-9_-]{1,400}$"


def parse_time(value: str | None, name: str) -> dt.datetime | None:
    """An ISO 8601 date or date-time (UTC when it has no offset); INVALID_ARGUMENT otherwise."""
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{name}: {value!r} is not an ISO 8601 date-time (e.g. 2026-01-31T09:00:00Z)") from None


bearer = HTTPBearer(auto_error=False, scheme_name="bearer", description="Authorization: Bearer crk_... (an API key)")
key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey", description="X-API-Key: crk_... (an API key)")


async def service(request: Request) -> WebService:
    return request.app.state.web.service


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    api_key: Annotated[str | None, Security(key_header)],
) -> Principal:
    # async, with the store lookup (a cache miss) in the threadpool: sync dependencies would each
    # cost a threadpool round trip on every request, and the event loop must never wait on the store.
    presented = credentials.credentials if credentials else api_key
    found = await run_in_threadpool(request.app.state.web.keys.authenticate, presented)
    if found is None:
        raise Unauthenticated(
            "a valid API key is required: send 'Authorization: Bearer <key>' (an operator creates keys with "
            "`cleanroom coordinator add-api-key`)" if not presented else "this API key is not valid or was revoked"
        )
    request.state.principal = found
    return found


Caller = Annotated[Principal, Depends(principal)]
Service = Annotated[WebService, Depends(service)]
AgreementId = Annotated[str, Path(pattern=ID, description="agreement id (agr_...)")]
Viewer = Annotated[str | None, Query(pattern=PARTY, description="whose releases: your own party (default); an admin may name any party")]
AgreementLimit = Annotated[int, Query(ge=1, le=500, description="page size")]
AttributionLimit = Annotated[int, Query(ge=1, le=100, description="page size")]
AuditLimit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[str | None, Query(pattern=CURSOR, description="next_cursor of the previous page")]

ERRORS = {
    status: {"model": models.ErrorBody, "description": what}
    for status, what in (
        (400, "INVALID_ARGUMENT: a parameter is malformed"),
        (401, "UNAUTHENTICATED: no valid API key"),
        (403, "PERMISSION_DENIED: the key's role or party may not read this (the denial is audited)"),
        (404, "NOT_FOUND: no such agreement or key, or nothing released yet"),
        (409, "FAILED_PRECONDITION: e.g. the agreement was revoked"),
        (429, "RESOURCE_EXHAUSTED"),
    )
}

router = APIRouter(prefix="/v1", responses=ERRORS)


@router.get("/me", response_model=models.Me, tags=["auth"], summary="Who this key is")
def me(p: Caller) -> dict:
    return {"key_id": p.key_id, "party": p.party, "role": p.role}


@router.get("/agreements", response_model=models.AgreementPage, tags=["agreements"], summary="Agreements of the caller's party (admin: all)")
def list_agreements(
    p: Caller,
    s: Service,
    state: Annotated[Literal["proposed", "active", "revoked"] | None, Query()] = None,
    party: Annotated[str | None, Query(pattern=PARTY, description="only agreements this party is in")] = None,
    limit: AgreementLimit = 50,
    cursor: Cursor = None,
) -> dict:
    return s.list_agreements(p, state=state, party=party, limit=limit, cursor=cursor)


@router.get("/agreements/{agreement_id}", response_model=models.AgreementDetail, tags=["agreements"], summary="One agreement: terms, runs, releases")
def get_agreement(p: Caller, s: Service, agreement_id: AgreementId) -> dict:
    return s.agreement(p, agreement_id)


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
    p: Caller,
    s: Service,
    agreement_id: AgreementId,
    viewer: Viewer = None,
    run_id: Annotated[str | None, Query(pattern=ID)] = None,
) -> Response:
    # Returned as is (the response model documents it): the signed release goes out byte for byte as
    # stored, with no defaults added, and the hot path skips re-validating what the coordinator wrote.
    return JSONResponse(s.overlap(p, agreement_id, viewer=viewer, run_id=run_id))


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
    p: Caller,
    s: Service,
    viewer: Viewer = None,
    mine: Annotated[str | None, Query(pattern=POPULATION, description="the viewer's population")] = None,
    theirs: Annotated[str | None, Query(pattern=POPULATION, description="the partner's population")] = None,
) -> dict:
    return s.ranking(p, viewer=viewer, mine=mine, theirs=theirs)


@router.get("/attribution", response_model=models.AttributionPage, tags=["attribution"], summary="Attribution results released to the caller, newest first")
def list_attribution(
    p: Caller,
    s: Service,
    viewer: Viewer = None,
    agreement_id: Annotated[str | None, Query(pattern=ID)] = None,
    include_deals: Annotated[bool, Query(description="include the vendor's per-deal credits")] = False,
    limit: AttributionLimit = 20,
    cursor: Cursor = None,
) -> dict:
    return s.attribution(p, viewer=viewer, agreement_id=agreement_id, include_deals=include_deals, limit=limit, cursor=cursor)


@router.get("/agreements/{agreement_id}/attribution", response_model=models.AttributionRelease, tags=["attribution"], summary="The latest attribution result released to the caller under an agreement")
def get_agreement_attribution(
    p: Caller,
    s: Service,
    agreement_id: AgreementId,
    viewer: Viewer = None,
    include_deals: Annotated[bool, Query(description="include the vendor's per-deal credits")] = False,
) -> dict:
    return s.agreement_attribution(p, agreement_id, viewer=viewer, include_deals=include_deals)


@router.get("/audit/entries", response_model=models.AuditPage, tags=["audit"], summary="Audit trail entries (auditor, admin)")
def audit_entries(
    p: Caller,
    s: Service,
    agreement_id: Annotated[str | None, Query(pattern=ID)] = None,
    party: Annotated[str | None, Query(pattern=PARTY, description="entries by this party, or whose viewer or subject it is")] = None,
    action: Annotated[str | None, Query(pattern=ACTION, description="an action (release.overlap) or a prefix ending in * (release.*)")] = None,
    since: Annotated[str | None, Query(max_length=40, json_schema_extra={"format": "date-time"}, description="entries at or after this time (ISO 8601; UTC if no offset)")] = None,
    until: Annotated[str | None, Query(max_length=40, json_schema_extra={"format": "date-time"}, description="entries before this time")] = None,
    order: Annotated[Literal["desc", "asc"], Query(description="newest first (desc) or oldest first")] = "desc",
    limit: AuditLimit = 100,
    cursor: Cursor = None,
) -> dict:
    return s.audit_entries(
        p, agreement_id=agreement_id, party=party, action=action, since=parse_time(since, "since"), until=parse_time(until, "until"),
        order=order, limit=limit, cursor=cursor,
    )


@router.get(
    "/audit/verification",
    response_model=models.Verification,
    tags=["audit"],
    summary="Is the stored audit chain intact?",
    description="Checks every entry's link, hash and Ed25519 signature, as `cleanroom audit verify` checks an export.",
)
def audit_verification(p: Caller, s: Service) -> dict:
    return s.verification(p)


@router.get(
    "/audit/export",
    tags=["audit"],
    summary="The signed audit log as JSON Lines, for offline verification",
    description="The same file as `cleanroom audit export`; entries of other agreements appear redacted. Verify with "
    "`cleanroom audit verify FILE --public-key KEY` (the key from /v1/audit/public-key, better pinned out of band).",
    response_class=Response,
    responses={200: {"description": "JSON Lines", "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
def audit_export(p: Caller, s: Service, agreement_id: Annotated[str | None, Query(pattern=ID)] = None) -> Response:
    text, name = s.export(p, agreement_id)
    return Response(text, media_type="application/x-ndjson", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get(
    "/audit/public-key",
    tags=["audit"],
    summary="The coordinator's Ed25519 public key (PEM)",
    response_class=Response,
    responses={200: {"description": "PEM", "content": {"application/x-pem-file": {"schema": {"type": "string"}}}}},
)
def audit_public_key(p: Caller, s: Service) -> Response:
    return Response(s.public_pem, media_type="application/x-pem-file")


@router.get("/agreements/{agreement_id}/disclosure-report", response_model=models.DisclosureReport, tags=["audit"], summary="Everything released under an agreement, per viewer")
def disclosure_report(p: Caller, s: Service, agreement_id: AgreementId) -> dict:
    return s.disclosure_report(p, agreement_id)


def _admin(p: Principal) -> None:
    if not p.is_admin:
        raise Denied(f"an {p.role} key cannot manage API keys; that takes an admin key")


@router.get("/api-keys", response_model=models.ApiKeyPage, tags=["api keys"], summary="API keys (admin)")
def list_keys(p: Caller, request: Request, include_revoked: bool = False) -> dict:
    _admin(p)
    return {"items": request.app.state.web.keys.list(include_revoked)}


@router.post("/api-keys", response_model=models.NewApiKey, status_code=201, tags=["api keys"], summary="Create an API key (admin); the key is in this response only")
def create_key(p: Caller, request: Request, body: models.ApiKeyCreate) -> dict:
    _admin(p)
    return request.app.state.web.keys.create(body.party, body.role, body.label, actor=p.party or "operator")


@router.delete("/api-keys/{key_id}", response_model=models.ApiKey, tags=["api keys"], summary="Revoke an API key (admin); its sessions end at once")
def revoke_key(p: Caller, request: Request, key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]) -> dict:
    _admin(p)
    return request.app.state.web.keys.revoke(key_id, actor=p.party or "operator")
