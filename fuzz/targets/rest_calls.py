"""REST requests as bytes, answered in-process by the coordinator's FastAPI app (Starlette's TestClient).

The first byte picks a route (every method and path the app serves, pages included), the second who
asks (no credentials, an admin / analyst / auditor API key, the same as a page session, a forged key;
bit 3: a JSON or a form body; bit 4: a same-origin Origin header). The rest is UTF-8 text, one line per
path parameter, then the query string, then the body; placeholders (world.py) name things that exist.
Any answer is fine but a 5xx: bad input must be a 4xx with a body that says why.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote

import httpx

from cleanroom.coordinator.web.app import create_app
from cleanroom.coordinator.web.auth import SESSION_COOKIE
from fuzz.targets import world as worlds
from fuzz.targets.crash import Crash

with warnings.catch_warnings():  # Starlette would rather have httpx2 behind its TestClient: same requests
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

REBUILD = 5000
_PARAM = re.compile(r"\{(\w+)\}")
ORIGIN = "http://testserver"


class Route(NamedTuple):
    method: str
    path: str


class Site(NamedTuple):
    world: worlds.World
    client: TestClient
    routes: tuple[Route, ...]
    headers: tuple[dict[str, str], ...]


def _site() -> Site:
    world = worlds.build()
    # As `serve` builds it: the REST API beside a gRPC server that serves (/readyz would say 503 without one).
    app = create_app(world.coordinator, readiness=lambda: None)
    web = app.state.web
    keys = [web.keys.create(party, role)["key"] for party, role in (("", "admin"), ("vendor", "analyst"), ("vendor", "auditor"))]
    sessions = [web.sessions.create(web.keys.authenticate(key).key_id) for key in keys]
    headers = (
        {},
        *({"Authorization": f"Bearer {key}"} for key in keys),
        *({"Cookie": f"{SESSION_COOKIE}={token}"} for token in sessions),
        {"X-API-Key": "crk_" + "0" * 40},
    )
    client = TestClient(app, base_url=ORIGIN, raise_server_exceptions=False)
    return Site(world, client, tuple(sorted(set(_routes(app.routes)))), headers)


def _routes(routes: list[Any]) -> list[Route]:
    """Every method and path served, inside included routers too (FastAPI keeps those as their router)."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):
            found += _routes(route.original_router.routes)
        found += [Route(m, route.path) for m in getattr(route, "methods", None) or () if m != "HEAD"]
    return found


def _request(site: Site, data: bytes) -> httpx.Request | None:
    route = site.routes[data[0] % len(site.routes)]
    who = data[1]
    names = _PARAM.findall(route.path)
    parts = data[2:].decode("utf-8", "replace").split("\n", len(names) + 1)
    parts += [""] * (len(names) + 2 - len(parts))
    strings = site.world.strings
    path = route.path
    for name, value in zip(names, parts, strict=False):
        path = path.replace("{" + name + "}", quote(strings.get(value, value), safe=""), 1)
    params = [(k, strings.get(v, v)) for k, v in parse_qsl(parts[len(names)], keep_blank_values=True)]
    headers = dict(site.headers[who % len(site.headers)])
    headers["Content-Type"] = "application/json" if who & 8 else "application/x-www-form-urlencoded"
    if who & 16:
        headers["Origin"] = ORIGIN
    body = parts[len(names) + 1].encode() if route.method != "GET" else None
    try:
        return site.client.build_request(route.method, path, params=params, headers=headers, content=body)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return None  # the client cannot even send it


_state: dict[str, Any] = {"site": None, "inputs": 0}


def check(data: bytes) -> None:
    if len(data) < 2:
        return
    if _state["site"] is None or _state["inputs"] >= REBUILD:
        if _state["site"] is not None:
            _state["site"].client.close()
            _state["site"].world.close()
        _state["site"], _state["inputs"] = _site(), 0
    _state["inputs"] += 1
    site: Site = _state["site"]
    request = _request(site, data)
    if request is None:
        return
    answer = site.client.send(request)
    if answer.status_code >= 500:
        raise Crash(f"{request.method} {request.url} answered {answer.status_code}: {answer.text[:500]}")
