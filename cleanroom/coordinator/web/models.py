"""The REST API's response and request bodies (they make the OpenAPI document).

Release bodies allow extra fields: they are the coordinator's signed
releases, passed on unchanged, and a newer coordinator may add to them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cleanroom.coordinator.limits import MAX_POSTED_HEADS


class ErrorDetail(BaseModel):
    code: str = Field(
        description="Stable code: the gRPC status name (INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, INTERNAL)"
    )
    message: str = Field(description="What was wrong, for people")


class ErrorBody(BaseModel):
    error: ErrorDetail


class Me(BaseModel):
    key_id: str
    party: str
    role: Literal["analyst", "auditor", "admin"]


class DpTerms(BaseModel):
    epsilon: float | None
    budget: float | None


class AgreementSummary(BaseModel):
    agreement_id: str
    version: int
    state: str = Field(description="proposed, active or revoked")
    proposer: str
    counterparty: str
    parties: list[str]
    terms_hash: str
    created_at: str
    approved_by: list[str] = Field(description="parties that approved the current terms hash")
    populations: dict[str, list[str]]
    min_count: int
    min_set_size: int
    dp: DpTerms | None
    attribution: bool
    vendor: str | None


class Run(BaseModel):
    run_id: str
    purpose: str
    state: str
    version: int
    terms_hash: str
    created_at: str
    completed_at: str | None


class ReleaseMeta(BaseModel):
    release_id: str
    kind: str
    viewer: str
    run_id: str
    released_at: str
    epsilon: float


class AgreementDetail(AgreementSummary):
    terms: dict[str, Any] = Field(description="the approved terms, as both parties hashed them")
    runs: list[Run]
    releases: list[ReleaseMeta] = Field(description="releases made under it (an analyst sees its own party's)")


class AgreementPage(BaseModel):
    items: list[AgreementSummary]
    next_cursor: str | None


class Cell(BaseModel):
    model_config = ConfigDict(extra="allow")
    mine: str
    theirs: str
    count: int | None = Field(description="null when suppressed")
    suppressed: bool


class Totals(BaseModel):
    model_config = ConfigDict(extra="allow")
    mine: int
    theirs: int
    overlap: int | None
    overlap_suppressed: bool


class GreenfieldCell(BaseModel):
    model_config = ConfigDict(extra="allow")
    theirs: str = Field(description="the other side's population")
    count: int | None = Field(description="its accounts the viewer does not have; null when suppressed")
    suppressed: bool


class OverlapRelease(BaseModel):
    """The signed release exactly as the coordinator stored it."""

    model_config = ConfigDict(extra="allow")
    viewer: str
    other: str
    cells: list[Cell]
    totals: Totals
    min_count: int
    agreement_id: str
    run_id: str
    terms_version: int
    terms_hash: str
    released_at: str
    signature: str
    dp: dict[str, Any] | None = None
    greenfield: list[GreenfieldCell] | None = Field(default=None, description="present when the terms grant greenfield sizing")


class Overlap(BaseModel):
    agreement_id: str
    viewer: str
    partner: str | None
    release: OverlapRelease
    latest_complete_run_id: str | None
    newer_run_unreleased: bool = Field(description="a later run completed but its result was not released to the viewer yet")


class RegistrationConflicts(BaseModel):
    program_id: str
    vendor: str
    title: str
    as_of: str
    conflicts: int = Field(description="accounts on which two or more partners hold active registrations")
    registrations_in_conflict: int = Field(description="the active registrations on those accounts")


class RankedPartner(BaseModel):
    rank: int
    partner: str
    agreement_id: str
    run_id: str | None
    released_at: str | None
    count: int | None
    suppressed: bool
    min_count: int | None
    my_accounts: int | None
    their_accounts: int | None
    share_of_mine: float | None
    dp: bool


class Unranked(BaseModel):
    partner: str
    agreement_id: str
    reason: str


class PopulationChoices(BaseModel):
    mine: list[str]
    theirs: list[str]


class Ranking(BaseModel):
    viewer: str
    mine: str | None
    theirs: str | None
    partners: list[RankedPartner]
    unavailable: list[Unranked]
    populations: PopulationChoices


class AttributionRelease(BaseModel):
    job_id: str
    viewer: str
    view: Literal["vendor", "partner"]
    model: str | None
    as_of: str | None
    released_at: str
    agreement_ids: list[str]
    deal_count: int | None = Field(description="deals credited (vendor view)")
    body: dict[str, Any] = Field(description="the release: partners and metrics (vendor) or the partner's own figures")
    signature: str | None


class AttributionPage(BaseModel):
    viewer: str
    items: list[AttributionRelease]
    next_cursor: str | None


class AuditEntry(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    agreement_id: str | None
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str
    signature: str


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None


class VerificationProblem(BaseModel):
    seq: int | None
    problem: str


class HeldAuditHead(BaseModel):
    """A signed audit head a party kept from a release or receipt (``cleanroom-client receipts export-heads``)."""

    count: int = Field(ge=1, le=2**63 - 1, description="entries the log held, the last being the one it covers")
    head_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="that entry's hash")
    signed_at: str = Field(min_length=1, max_length=40)
    signature: str = Field(pattern=r"^[0-9a-f]{128}$", description="the coordinator's Ed25519 signature (hex)")
    source: str | None = Field(default=None, max_length=200, description="where the party kept it")


class HeadsExport(BaseModel):
    format: Literal["cleanroom.audit-heads/v1"]
    party: str | None = Field(default=None, max_length=200)
    exported_at: str | None = Field(default=None, max_length=64)
    heads: list[HeldAuditHead] = Field(min_length=1, max_length=MAX_POSTED_HEADS)


class HeadCheck(BaseModel):
    status: Literal["ok", "shorter", "diverging", "forged"] = Field(
        description="ok: the log holds the entry; shorter: the log ends before it (rolled back); diverging: another "
        "entry is in its place; forged: not signed by this coordinator"
    )
    count: int
    head_hash: str
    signed_at: str
    source: str
    missing: int = Field(description="entries missing before this head's (shorter only)")
    message: str


class Verification(BaseModel):
    status: Literal["verified", "broken", "rolled back"] = Field(
        description="rolled back: the chain is intact but shorter than, or diverging from, a head a party holds"
    )
    entries: int
    head_hash: str
    checked_at: str
    problems: list[VerificationProblem]
    heads: list[HeadCheck] | None = Field(default=None, description="each posted head checked (POST only)")


class DisclosedRelease(BaseModel):
    kind: str
    run_id: str
    released_at: str
    terms_version: int | None
    terms_hash: str | None
    released: dict[str, Any]


class DisclosedViewer(BaseModel):
    viewer: str
    releases: list[DisclosedRelease]


class CurrentTerms(BaseModel):
    version: int
    terms_hash: str


class DisclosureReport(BaseModel):
    agreement_id: str
    parties: list[str]
    state: str
    current_terms: CurrentTerms
    viewers: list[DisclosedViewer]
    denied_requests: list[dict[str, Any]]


class ApiKey(BaseModel):
    key_id: str
    party: str
    role: Literal["analyst", "auditor", "admin"]
    label: str
    created_at: str
    revoked_at: str | None


class NewApiKey(ApiKey):
    key: str = Field(description="the key itself: shown this once, stored only as a hash")


class ApiKeyPage(BaseModel):
    items: list[ApiKey]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party: str = Field("", max_length=63, description="the party the key acts for (may be empty for admin)")
    role: Literal["analyst", "auditor", "admin"]
    label: str = Field("", max_length=200)
