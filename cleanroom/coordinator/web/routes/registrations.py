"""/v1 deal-registration routes (the vendor's analyst key, admin): a program's conflict counts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path

from cleanroom.coordinator.web import models
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.registrations import program_conflicts
from cleanroom.coordinator.web.roles import require_role
from cleanroom.coordinator.web.routes.common import ID, Ctx, v1_router

router = v1_router()
Analyst = Annotated[Principal, Depends(require_role("analyst", "read registration conflicts"))]
ProgramId = Annotated[str, Path(pattern=ID, description="registration program id (prg_...)")]


@router.get(
    "/registrations/programs/{program_id}/conflicts",
    response_model=models.RegistrationConflicts,
    tags=["registrations"],
    summary="How many accounts of the vendor's program are registered by two or more partners (counts only)",
    description=(
        "Counts only: the coordinator holds OPRF tokens, not accounts. The vendor's client names the conflicting "
        "accounts of its own CRM with the program's secret (`cleanroom-client registrations program conflicts --file`). "
        "Only the program's vendor (or an admin) reads this; 404 for a program that does not exist."
    ),
)
def get_program_conflicts(p: Analyst, web: Ctx, program_id: ProgramId) -> dict[str, Any]:
    return program_conflicts(web.reads, p, program_id)
