"""Requests must name this server in their Host header: 400 otherwise (no DNS rebinding).

A web page on any site can make a browser send requests to a name its owner points at 127.0.0.1;
the browser then treats our API and pages as that site's own. Answering only the names we serve
under (those of the ``--http`` address, plus ``--http-allowed-host``) ends that.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Collection
from typing import Any

from starlette.types import Receive, Scope, Send

from cleanroom.coordinator.web.errors import error_body

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_ANY = ("", "0.0.0.0", "::")


def allowed_for(listen_host: str, extra: Collection[str] = ()) -> frozenset[str]:
    """The host names a server bound to ``listen_host`` answers: loopback names on a loopback or any-address
    bind (which also answers loopback), the bound name itself, and the configured ones."""
    names = {listen_host.strip("[]").lower(), *(e.lower() for e in extra)}
    if listen_host in _ANY or _is_loopback(listen_host):
        names.update(LOOPBACK_NAMES)
    return frozenset(n for n in names if n not in _ANY)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def matches(name: str, allowed: Collection[str]) -> bool:
    return name in allowed or any(a.startswith("*.") and name.endswith(a[1:]) and len(name) > len(a) - 1 for a in allowed)


class TrustedHost:
    def __init__(self, app: Any, allowed: Collection[str]) -> None:
        self.app = app
        self.allowed = frozenset(a.lower() for a in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets here; lifespan events carry no Host
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        name = host_name(header)
        if matches(name, self.allowed):
            await self.app(scope, receive, send)
            return
        message = f"Host {header[:100]!r} is not a name this server answers to (its operator adds names with --http-allowed-host)"
        body = json.dumps(error_body("INVALID_ARGUMENT", message)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
