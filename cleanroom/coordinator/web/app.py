"""The FastAPI application and the HTTP server thread inside `cleanroom coordinator serve`.

`serve --http HOST:PORT` runs uvicorn in a thread of the coordinator process,
sharing its ``Coordinator`` and ``Store`` with gRPC: one DuckDB connection
behind the store's lock, so REST reads what gRPC wrote the moment it is
committed (a second process could not even open the file: DuckDB locks it).

Plain HTTP only on a loopback address; any other address needs a TLS
certificate and key (or a TLS proxy in front, on the same host).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Collection
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import Message, Receive, Scope, Send

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.web import errors, pages
from cleanroom.coordinator.web.auth import Sessions
from cleanroom.coordinator.web.body_limit import BodyLimit
from cleanroom.coordinator.web.context import WebContext
from cleanroom.coordinator.web.host_check import TrustedHost, allowed_for
from cleanroom.coordinator.web.metrics import LatencyMiddleware
from cleanroom.coordinator.web.routes import ROUTERS
from cleanroom.errors import InputError


def _version() -> str:
    try:
        return version("cleanroom")
    except PackageNotFoundError:
        return "0"


class SecurityHeaders:
    """Headers on every response: no caching of releases, no framing, no sniffing; a strict CSP for pages."""

    PAGE_CSP = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",  # "no-referrer" would make browsers send Origin: null on our own forms
                    b"cache-control": b"no-store",
                }
                if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                    extra[b"content-security-policy"] = self.PAGE_CSP.encode()
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


DESCRIPTION = (
    "Released overlap counts, partner rankings and attribution results for vendors; the signed audit trail, its "
    "verification and disclosure reports for compliance auditors. Authenticate with an API key "
    "(`Authorization: Bearer crk_...` or `X-API-Key`). Only numbers the coordinator already released are served: "
    "no call here makes a release or spends a privacy budget. Nothing here returns points or tokens."
)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, with validation errors documented as they are answered: 400, not 422."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path in schema.get("paths", {}).values():
        for op in path.values():
            op.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    app.openapi_schema = schema
    return schema


def create_app(
    coordinator: Coordinator,
    *,
    session_seconds: float | None = None,
    allowed_hosts: Collection[str] | None = None,
    readiness: Callable[[], str | None] | None = None,
) -> FastAPI:
    """``allowed_hosts``: the Host names answered (``host_check``); None answers any, for an app driven in-process.
    ``readiness``: None when gRPC serves, else why not (/readyz); without it /readyz says gRPC is not served."""
    app = FastAPI(
        title="Cleanroom coordinator API",
        version=_version(),
        description=DESCRIPTION,
        openapi_url="/v1/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN; the pages stay offline
        redoc_url=None,
    )
    sessions = Sessions(session_seconds) if session_seconds else Sessions()
    web = WebContext.of(coordinator.store, sessions)
    if readiness is not None:
        web.readiness = readiness
    app.state.web = web
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(pages.router)
    errors.install(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(LatencyMiddleware, metrics=web.metrics)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=coordinator.limits.max_body_bytes)  # before anything reads a body
    if allowed_hosts is not None:
        app.add_middleware(TrustedHost, allowed=allowed_hosts)  # outermost: a foreign Host gets nothing else
    return app


# -- serving in a thread of the coordinator process ------------------------------------------


def parse_listen(listen: str) -> tuple[str, int]:
    if listen.isdigit():
        return "127.0.0.1", int(listen)
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise InputError(f"--http wants HOST:PORT (e.g. 127.0.0.1:8080), not {listen!r}")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpServer:
    """uvicorn in a daemon thread; ``port`` is the bound one (port 0 picks a free port)."""

    def __init__(self, app: FastAPI, listen: str, certfile: Path | None = None, keyfile: Path | None = None) -> None:
        import uvicorn

        host, port = parse_listen(listen)
        if (certfile is None) != (keyfile is None):
            raise InputError("--http-cert and --http-key go together")
        if certfile is None and not is_loopback(host):
            raise InputError(
                f"plain HTTP is served on loopback only; to serve on {host}, give --http-cert and --http-key (TLS), "
                "or put a TLS proxy in front and listen on 127.0.0.1"
            )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only then (else
        # Nagle and delayed ACKs add ~40 ms to every request on a kept-alive connection).
        self.socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError as exc:
            self.socket.close()
            raise InputError(f"cannot listen on {listen} for HTTP: {exc.strerror}") from None
        self.socket.listen(1024)
        self.host, self.port = host, self.socket.getsockname()[1]
        self.scheme = "https" if certfile else "http"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_keep_alive=15,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, name="http", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def start(self, timeout: float = 15.0) -> HttpServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise InputError(f"the HTTP server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.socket.close()


def start_http(
    coordinator: Coordinator,
    listen: str,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    allowed_hosts: Collection[str] = (),
    readiness: Callable[[], str | None] | None = None,
) -> HttpServer:
    """Serve on ``listen``, answering the Host names of that address and ``allowed_hosts``."""
    hosts = allowed_for(parse_listen(listen)[0], allowed_hosts)
    return HttpServer(create_app(coordinator, allowed_hosts=hosts, readiness=readiness), listen, certfile, keyfile).start()
