"""How refusals are answered: JSON ``{"error": {"code", "message"}}`` on /v1, error pages elsewhere.

The status of each refusal is the one its class carries (``cleanroom.errors``:
``code``, ``http_status``); statuses Starlette raises itself (unknown path,
wrong method) take their code from ``code_for_http_status``. Every refusal
answered to a known key on a /v1 route is audited as ``request.denied``, as
gRPC audits its refusals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from cleanroom.coordinator.web import pages
from cleanroom.coordinator.web.access import Denied
from cleanroom.coordinator.web.context import WebContext
from cleanroom.errors import InvalidArgument, PermissionDenied, RequestError, Unauthenticated, code_for_http_status

log = logging.getLogger("cleanroom.coordinator.web")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _is_page(request: Request) -> bool:
    return not (request.url.path.startswith("/v1") or request.url.path in ("/healthz", "/readyz", "/metrics"))


async def _audit(request: Request, code: str, reason: str, exc: Exception | None = None) -> None:
    """Audit a refusal answered on a /v1 route to a caller whose key was accepted (others have no party to name)."""
    principal = getattr(request.state, "principal", None)
    if principal is None or not request.url.path.startswith("/v1"):
        return
    route = getattr(request.scope.get("route"), "path", request.url.path)
    named = exc.agreement_id if isinstance(exc, Denied) else None
    agreement_id = named or request.path_params.get("agreement_id") or request.query_params.get("agreement_id")
    web: WebContext = request.app.state.web
    await run_in_threadpool(web.audit_refusal, principal, f"REST {request.method} {route}", code, reason, agreement_id)


async def request_error(request: Request, exc: RequestError) -> Response:
    if isinstance(exc, (Unauthenticated, PermissionDenied)):
        request.app.state.web.metrics.http_denials.labels(exc.code).inc()
    await _audit(request, exc.code, str(exc), exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    return JSONResponse(error_body(exc.code, str(exc)), status_code=exc.http_status, headers=headers)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    problems = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body")) or "request"
        problems.append(f"{where}: {e.get('msg', 'invalid')}")
    message = "; ".join(problems) or "invalid request"
    await _audit(request, InvalidArgument.code, message)
    return JSONResponse(error_body(InvalidArgument.code, message), status_code=InvalidArgument.http_status)


def _allowed_methods(app: FastAPI, path: str) -> str:
    """Every method of every route on this path, not only the first route's."""
    allowed: set[str] = set()
    for route in app.router.routes:
        methods = getattr(route, "methods", None)
        if methods and route.path_regex.match(path):  # type: ignore[attr-defined]
            allowed |= methods
    return ", ".join(sorted(allowed))


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404 and _is_page(request):
        return pages.not_found(request)
    message = {404: f"no such endpoint: {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}.get(
        exc.status_code, str(exc.detail)
    )
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request.app, request.url.path)
    return JSONResponse(
        error_body(code_for_http_status(exc.status_code), message), status_code=exc.status_code, headers=headers or None
    )


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("INTERNAL", "internal error; the coordinator's log has the details"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestError, request_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, internal_error)
