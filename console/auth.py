"""Signing in to the console: one token (``http.console_token``), a signed session cookie, a lockout per address.

- The sign-in form takes the token; it is compared in constant time and never logged.
- A right token sets a session cookie signed with itsdangerous (Starlette's ``SessionMiddleware``) under a key
  derived from the token by HMAC, so every process with the same token accepts the cookies of the others, and a new
  token signs everyone out. The cookie is HttpOnly, SameSite=Strict, scoped to ``/console``, ``Secure`` when the
  public URL is https, and lasts :data:`SESSION_MAX_AGE_S`.
- Without it every console URL redirects to the sign-in page (:class:`RequireSignIn`).
- Wrong tokens are counted per client address in Redis (``storage.sign_in_attempts``): the fifth within a minute
  locks the address out for a minute, on every process, whatever token it sends next.
- Forms that change something carry a per-session token (:func:`form_token_ok`), on top of SameSite=Strict.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import structlog
from starlette.datastructures import URL
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from console.ports import SignInAttempts
from console.render import Renderer

log = structlog.get_logger(__name__)

PREFIX = "/console"
SIGN_IN = f"{PREFIX}/sign-in"
COOKIE = "reelay_console"
SESSION_MAX_AGE_S = 12 * 3600
OPEN_PATHS = (SIGN_IN, f"{PREFIX}/static/")  # reachable without a session: the form and its stylesheet
_KEY_PURPOSE = b"reelay console session cookie v1"


def session_key(token: str) -> str:
    """The cookie-signing key: derived from the token, so every process agrees and the token never signs itself."""
    return hmac.new(token.encode(), _KEY_PURPOSE, hashlib.sha256).hexdigest()


def session_middleware(token: str, *, secure: bool) -> Middleware:
    """The signed session cookie of the console (HttpOnly always; SameSite=Strict; Secure over https)."""
    return Middleware(
        SessionMiddleware,
        secret_key=session_key(token),
        session_cookie=COOKIE,
        max_age=SESSION_MAX_AGE_S,
        path=PREFIX,
        same_site="strict",
        https_only=secure,
    )


def signed_in(connection: HTTPConnection) -> bool:
    """Whether the request carries a valid console session."""
    return bool(connection.session.get("signed_in"))


def client_address(connection: HTTPConnection) -> str:
    """The client's address as uvicorn saw it (behind a local reverse proxy, the forwarded one)."""
    return connection.client.host if connection.client else "unknown"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and (target == PREFIX or target.startswith(PREFIX + "/")) and "\\" not in target:
        return target
    return PREFIX + "/"


def form_token_ok(request: Request, given: object) -> bool:
    """Whether a form's ``csrf`` field is this session's token."""
    expected = request.session.get("csrf")
    if not isinstance(given, str) or not isinstance(expected, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class RequireSignIn:
    """ASGI middleware: a console request without a session is redirected to the sign-in page (303)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        path = connection.url.path
        if signed_in(connection) or path == SIGN_IN or path.startswith(OPEN_PATHS[1]):
            await self.app(scope, receive, send)
            return
        here = path + (f"?{connection.url.query}" if connection.url.query else "")
        target = URL(SIGN_IN).include_query_params(next=here) if path.rstrip("/") != PREFIX else URL(SIGN_IN)
        await RedirectResponse(str(target), status_code=303)(scope, receive, send)


class SignIn:
    """The sign-in page, the sign-in form's handler and signing out."""

    def __init__(self, token: str, attempts: SignInAttempts, renderer: Renderer) -> None:
        self._token = token.encode()
        self._attempts = attempts
        self._render = renderer

    async def page(self, request: Request) -> Response:
        """``GET /console/sign-in``."""
        if signed_in(request):
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        return self._form(request)

    def _form(self, request: Request, error: str | None = None, status_code: int = 200) -> Response:
        return self._render.page(
            request,
            "sign_in.html",
            status_code=status_code,
            error=error,
            next=safe_next(request.query_params.get("next")),
        )

    async def submit(self, request: Request) -> Response:
        """``POST /console/sign-in``: the token, checked unless the address is locked out."""
        address = client_address(request)
        if await self._attempts.locked(address):
            log.warning("console.sign_in", outcome="locked_out", address=address)
            return self._form(request, "Too many wrong tokens from your address. Try again in a minute.", 429)
        form = await request.form()
        given = form.get("token")
        if not isinstance(given, str) or not hmac.compare_digest(given.strip().encode(), self._token):
            tries = await self._attempts.failed(address)
            log.warning("console.sign_in", outcome="wrong_token", address=address, tries=tries)
            return self._form(request, "That is not the console token.", 401)
        await self._attempts.succeeded(address)
        session = request.session
        session.clear()
        session.update(signed_in=True, csrf=secrets.token_urlsafe(24), since=round(time.time()))
        log.info("console.sign_in", outcome="signed_in", address=address)
        target = form.get("next")
        return RedirectResponse(safe_next(target if isinstance(target, str) else None), status_code=303)

    async def sign_out(self, request: Request) -> Response:
        """``POST /console/sign-out``: forget the session (this browser's cookie is cleared)."""
        form = await request.form()
        if form_token_ok(request, form.get("csrf")):
            request.session.clear()
            log.info("console.sign_out", address=client_address(request))
        return RedirectResponse(SIGN_IN, status_code=303)
