"""/v1/api-keys (admin): list, create and revoke API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path

from cleanroom.coordinator.web import models
from cleanroom.coordinator.web.auth import Principal
from cleanroom.coordinator.web.roles import require_admin
from cleanroom.coordinator.web.routes.common import Ctx, v1_router

router = v1_router()
Admin = Annotated[Principal, Depends(require_admin("manage API keys"))]


@router.get("/api-keys", response_model=models.ApiKeyPage, tags=["api keys"], summary="API keys (admin)")
def list_keys(p: Admin, web: Ctx, include_revoked: bool = False) -> dict[str, Any]:
    return {"items": web.keys.list(include_revoked)}


@router.post(
    "/api-keys",
    response_model=models.NewApiKey,
    status_code=201,
    tags=["api keys"],
    summary="Create an API key (admin); the key is in this response only",
)
def create_key(p: Admin, web: Ctx, body: models.ApiKeyCreate) -> dict[str, Any]:
    return web.keys.create(body.party, body.role, body.label, actor=p.party or "operator")


@router.delete(
    "/api-keys/{key_id}",
    response_model=models.ApiKey,
    tags=["api keys"],
    summary="Revoke an API key (admin); its sessions end at once",
)
def revoke_key(p: Admin, web: Ctx, key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]) -> dict[str, Any]:
    return web.keys.revoke(key_id, actor=p.party or "operator")
