"""/v1 audit routes (auditor, admin): entries, the chain's verification, the signed export, disclosure reports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi.responses import Response

from cleanroom.coordinator.web import audit_trail, models
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.cursors import parse_time
from cleanroom.coordinator.web.roles import Caller, require_role
from cleanroom.coordinator.web.routes.common import ACTION, ID, PARTY, AgreementId, Ctx, Cursor, v1_router

router = v1_router()
Auditor = Annotated[Principal, Depends(require_role("auditor", "read the audit trail"))]
Exporter = Annotated[Principal, Depends(require_role("auditor", "export the audit trail"))]
Reporter = Annotated[Principal, Depends(require_role("auditor", "read disclosure reports"))]
TimeText = Annotated[str | None, Query(max_length=40, json_schema_extra={"format": "date-time"})]


@router.get("/audit/entries", response_model=models.AuditPage, tags=["audit"], summary="Audit trail entries (auditor, admin)")
def audit_entries(
    p: Auditor,
    web: Ctx,
    agreement_id: Annotated[str | None, Query(pattern=ID)] = None,
    party: Annotated[
        str | None, Query(pattern=PARTY, description="entries by this party, or whose viewer or subject it is")
    ] = None,
    action: Annotated[
        str | None, Query(pattern=ACTION, description="an action (release.overlap) or a prefix ending in * (release.*)")
    ] = None,
    program_id: Annotated[
        str | None,
        Query(pattern=ID, description="deal-registration entries of this program (prg_...): they name no agreement"),
    ] = None,
    since: Annotated[TimeText, Query(description="entries at or after this time (ISO 8601; UTC if no offset)")] = None,
    until: Annotated[TimeText, Query(description="entries before this time")] = None,
    order: Annotated[Literal["desc", "asc"], Query(description="newest first (desc) or oldest first")] = "desc",
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    return audit_trail.audit_entries(
        web.reads,
        p,
        agreement_id=agreement_id,
        party=party,
        action=action,
        program_id=program_id,
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
        order=order,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/audit/verification",
    response_model=models.Verification,
    tags=["audit"],
    summary="Is the stored audit chain intact?",
    description="Checks every entry's link, hash and Ed25519 signature, as `cleanroom audit verify` checks an export.",
)
def audit_verification(p: Auditor, web: Ctx) -> dict[str, Any]:
    return web.verifier.status()


@router.post(
    "/audit/verification",
    response_model=models.Verification,
    tags=["audit"],
    summary="Is the stored audit chain intact, and does it still hold every head a party kept?",
    description="Post a party's heads export (`cleanroom-client receipts export-heads`): the chain is checked as by GET, "
    "and each signed head against it. `rolled back` when the chain lacks a held head's entry (entries deleted) or holds "
    "another one in its place. The coordinator answers for its own store here; the independent check is "
    "`cleanroom audit verify EXPORT --receipts HEADS` on a machine of your own.",
    responses={
        413: {
            "model": models.ErrorBody,
            "description": "body over 64 KiB: post at most 150 heads (`export-heads --newest 150`)",
        }
    },
)
def audit_verification_against_heads(p: Auditor, web: Ctx, body: models.HeadsExport) -> dict[str, Any]:
    return web.verifier.against(audit_trail.posted_heads(body))


@router.get(
    "/audit/export",
    tags=["audit"],
    summary="The signed audit log as JSON Lines, for offline verification",
    description="The same file as `cleanroom audit export`; entries of other agreements appear redacted. Verify with "
    "`cleanroom audit verify FILE --public-key KEY` (the key from /v1/audit/public-key, better pinned out of band).",
    response_class=Response,
    responses={200: {"description": "JSON Lines", "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
def audit_export(p: Exporter, web: Ctx, agreement_id: Annotated[str | None, Query(pattern=ID)] = None) -> Response:
    text, name = audit_trail.export(web.reads, web.signer, p, agreement_id)
    return Response(text, media_type="application/x-ndjson", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get(
    "/audit/public-key",
    tags=["audit"],
    summary="The coordinator's Ed25519 public key (PEM)",
    response_class=Response,
    responses={200: {"description": "PEM", "content": {"application/x-pem-file": {"schema": {"type": "string"}}}}},
)
def audit_public_key(p: Caller, web: Ctx) -> Response:
    return Response(web.signer.public_pem, media_type="application/x-pem-file")


@router.get(
    "/agreements/{agreement_id}/disclosure-report",
    response_model=models.DisclosureReport,
    tags=["audit"],
    summary="Everything released under an agreement, per viewer",
)
def disclosure_report(p: Reporter, web: Ctx, agreement_id: AgreementId) -> dict[str, Any]:
    return audit_trail.disclosure_report(web.reads, p, agreement_id)
