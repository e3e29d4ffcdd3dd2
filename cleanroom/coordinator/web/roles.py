"""Authentication and roles as FastAPI dependencies.

``Caller`` is the principal of the presented API key (401 without a valid
one); ``require_role(role, what)`` also checks the key's role, before the
route runs. An API key goes in ``Authorization: Bearer crk_...`` or
``X-API-Key: crk_...``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from cleanroom.coordinator.web.access import check_admin, check_role
from cleanroom.coordinator.web.auth import Principal
from cleanroom.errors import Unauthenticated

bearer = HTTPBearer(auto_error=False, scheme_name="bearer", description="Authorization: Bearer crk_... (an API key)")
key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey", description="X-API-Key: crk_... (an API key)")


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    api_key: Annotated[str | None, Security(key_header)],
) -> Principal:
    # async, with the store lookup (a cache miss) in the threadpool: sync dependencies would each
    # cost a threadpool round trip on every request, and the event loop must never wait on the store.
    presented = credentials.credentials if credentials else api_key
    found: Principal | None = await run_in_threadpool(request.app.state.web.keys.authenticate, presented)
    if found is None:
        raise Unauthenticated(
            "a valid API key is required: send 'Authorization: Bearer <key>' (an operator creates keys with "
            "`cleanroom coordinator add-api-key`)"
            if not presented
            else "this API key is not valid or was revoked"
        )
    request.state.principal = found  # for the refusal handler, which audits refusals to a known key
    return found


Caller = Annotated[Principal, Depends(authenticated)]


def require_role(role: str, what: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller, if its key has ``role`` (or admin); ``what`` names the refused read."""

    async def with_role(p: Caller) -> Principal:
        check_role(p, role, what)
        return p

    return with_role


def require_admin(what: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def admin(p: Caller) -> Principal:
        check_admin(p, what)
        return p

    return admin
