"""Operations (no key needed): liveness with the store's health, readiness, and Prometheus metrics."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from cleanroom.coordinator.store import now
from cleanroom.coordinator.web.errors import error_body
from cleanroom.coordinator.web.routes.common import Ctx
from cleanroom.errors import DataLoss

log = logging.getLogger("cleanroom.coordinator.web")
router = APIRouter()


@router.get("/healthz", response_model=None, tags=["operations"], summary="Liveness and store health (no key needed)")
def healthz(web: Ctx) -> Any:
    try:
        web.reads.ping()
    except DataLoss as exc:  # the file under the open store is damaged: name the damage
        log.error("health check failed: %s", exc)
        return JSONResponse(error_body(exc.code, str(exc)), status_code=503)
    except Exception as exc:  # the store is closed or broken: say so, as 503
        log.exception("health check failed")
        return JSONResponse(error_body("UNAVAILABLE", f"store check failed: {type(exc).__name__}"), status_code=503)
    return {"status": "ok", "store": "ok", "time": now()}


@router.get("/readyz", response_model=None, tags=["operations"], summary="Readiness: store open and gRPC serving (no key needed)")
def readyz(web: Ctx) -> Any:
    try:
        web.reads.ping()
    except Exception as exc:  # closed, damaged or broken: not ready, and why
        reason = str(exc) if isinstance(exc, DataLoss) else f"store check failed: {type(exc).__name__}"
        return JSONResponse(error_body("UNAVAILABLE", f"not ready: {reason}"), status_code=503)
    problem = web.readiness()
    if problem:
        return JSONResponse(error_body("UNAVAILABLE", f"not ready: {problem}"), status_code=503)
    return {"status": "ready", "store": "ok", "grpc": "serving", "time": now()}


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics (no key needed; no party names)",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def prometheus(web: Ctx) -> Response:
    body, content_type = web.metrics.exposition()
    return Response(body, media_type=content_type)
