"""What every /v1 router shares: the documented error answers, parameter patterns and the context dependency.

Errors: ``{"error": {"code": ..., "message": ...}}`` with the gRPC status name
as the stable code (each error class in ``cleanroom.errors`` names its HTTP
status). Lists page with ``limit`` and an opaque ``cursor`` (``next_cursor``
of the previous page; null on the last page).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from cleanroom.coordinator.web import models
from cleanroom.coordinator.web.context import WebContext, web_context
from cleanroom.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)

ID = r"^[A-Za-z0-9_-]{1,64}$"
PARTY = r"^[a-z0-9][a-z0-9_-]{0,62}$"
POPULATION = r"^[a-z0-9][a-z0-9_-]{0,31}$"
ACTION = r"^[a-z0-9_.-]{0,64}\*?$"
CURSOR = r"^[A-Za-z0-9_-]{1,400}$"

Ctx = Annotated[WebContext, Depends(web_context)]
AgreementId = Annotated[str, Path(pattern=ID, description="agreement id (agr_...)")]
Viewer = Annotated[
    str | None, Query(pattern=PARTY, description="whose releases: your own party (default); an admin may name any party")
]
Cursor = Annotated[str | None, Query(pattern=CURSOR, description="next_cursor of the previous page")]

# What each refusal means here; its status and code come from the class (the one status table).
_REFUSED = {
    InvalidArgument: "a parameter is malformed",
    Unauthenticated: "no valid API key",
    PermissionDenied: "the key's role or party may not read this (the denial is audited)",
    NotFound: "no such agreement or key, or nothing released yet",
    FailedPrecondition: "e.g. the agreement was revoked",
    ResourceExhausted: "",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    cls.http_status: {"model": models.ErrorBody, "description": f"{cls.code}: {what}" if what else cls.code}
    for cls, what in _REFUSED.items()
}


def v1_router() -> APIRouter:
    return APIRouter(prefix="/v1", responses=ERRORS)
