"""Refusals over gRPC: our error classes to status codes and back (the statuses live on the classes)."""

from __future__ import annotations

import grpc

from cleanroom.errors import RequestError, refusal_for


def grpc_code(error: RequestError) -> grpc.StatusCode:
    return grpc.StatusCode[error.code]


def error_from_rpc(exc: grpc.RpcError) -> RequestError | None:
    """The domain error a failed call carries, if it is one of ours."""
    cls = refusal_for(exc.code().name)
    return cls(exc.details()) if cls else None
