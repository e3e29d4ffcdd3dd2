"""Browser sessions: logging in and out, the session's principal, and running a page view for it.

Login: the API key is posted once over a form; the server answers with a
random session token in a cookie that is
- HttpOnly (scripts cannot read it),
- SameSite=Strict (no other site can make the browser send it, which is
  also the CSRF defence; the two POST forms additionally check Origin),
- Secure whenever the request came over HTTPS (directly, or through a TLS
  proxy on this host that sets X-Forwarded-Proto). Over plain HTTP a Secure
  cookie would not be stored by most browsers, and plain HTTP is only ever
  served on loopback (see ``app.HttpServer``), where the traffic does not
  leave the machine.
The session lasts 8 hours at most, ends at logout and when the key is revoked.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cleanroom.coordinator.web.access import Denied, check_role
from cleanroom.coordinator.web.auth import SESSION_COOKIE, Principal
from cleanroom.coordinator.web.context import WebContext
from cleanroom.coordinator.web.pages.rendering import render
from cleanroom.errors import PermissionDenied, RequestError

router = APIRouter(include_in_schema=False)


def web(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


def session_principal(request: Request) -> Principal | None:
    ctx = web(request)
    key_id = ctx.sessions.key_id(request.cookies.get(SESSION_COOKIE))
    principal = ctx.keys.principal(key_id) if key_id else None
    if principal is not None:
        request.state.principal = principal
    return principal


def error_page(request: Request, principal: Principal | None, exc: RequestError) -> HTMLResponse:
    """A refused page view as a page; a permission denial is audited, as over the API and gRPC."""
    if isinstance(exc, PermissionDenied) and principal is not None:
        named = exc.agreement_id if isinstance(exc, Denied) else None
        web(request).audit_refusal(principal, f"PAGE GET {request.url.path}", exc.code, str(exc), named)
        web(request).metrics.http_denials.labels(exc.code).inc()
    return render(request, "error.html", exc.http_status, principal=principal, code=exc.code, message=str(exc))


def not_found(request: Request) -> HTMLResponse:
    message = f"There is no page at {request.url.path}."
    return render(request, "error.html", 404, principal=session_principal(request), code="NOT_FOUND", message=message)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


def _home(principal: Principal) -> str:
    return "/audit" if principal.role == "auditor" else "/partners"


def _safe_next(value: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no '//'): never an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


def same_origin(request: Request) -> bool:
    """Whether a form post came from this site's own pages (a cross-site post carries another Origin)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # no Origin header (older clients, scripts): SameSite=Strict still protects the session
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin == expected


def page(request: Request, role: str, view: Callable[[Principal], Response]) -> Response:
    """Run a page view for a logged-in principal with ``role`` (or admin); refusals become error pages."""
    principal = session_principal(request)
    if principal is None:
        return _login_redirect(request)
    try:
        check_role(principal, role, f"open {request.url.path}")
        return view(principal)
    except RequestError as exc:
        return error_page(request, principal, exc)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    principal = session_principal(request)
    if principal is not None:
        return RedirectResponse(_safe_next(next) or _home(principal), status_code=303)
    return render(request, "login.html", next=_safe_next(next) or "", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    body = (await request.body())[:8192].decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    next_path = _safe_next(form.get("next"))
    if not same_origin(request):
        return render(request, "login.html", 403, next=next_path or "", error="This form must be sent from this site.")
    ctx = web(request)
    principal = ctx.keys.authenticate(form.get("api_key", ""))
    if principal is None:
        ctx.metrics.http_denials.labels("UNAUTHENTICATED").inc()
        return render(request, "login.html", 401, next=next_path or "", error="That API key is not valid, or it was revoked.")
    token = ctx.sessions.create(principal.key_id)
    response = RedirectResponse(next_path or _home(principal), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ctx.sessions.lifetime),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    if same_origin(request):
        web(request).sessions.drop(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.get("/")
def home(request: Request) -> Response:
    principal = session_principal(request)
    return RedirectResponse(_home(principal) if principal else "/login", status_code=303)
