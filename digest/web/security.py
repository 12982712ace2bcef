"""Sessions, CSRF tokens and security headers for the web app.

* Session: a signed cookie (itsdangerous, its own salt) holding ``[user_id, token_generation,
  session id]``; HttpOnly, SameSite=Lax, Secure when ``[web] base_url`` is https. No passwords exist
  anywhere: a session starts from an emailed (or operator-issued) sign-in link. Signing out records
  the random session id as used (digest.store.used_tokens), so a copy of the cookie opens nothing
  afterwards; bumping the user's token generation ends every session along with every link sent
  before. A cookie made before sessions had an id (``[user_id, token_generation]``) is honoured
  until it expires; signing out of it only drops it from the browser.
* CSRF: a random nonce in an HttpOnly cookie, and in each form the nonce *signed* with the server
  key. A POST passes when the form's token unsigns to the cookie's nonce (OWASP "signed double-submit
  cookie"): an attacker can neither read the cookie nor forge the signature. The RFC 8058 one-click
  endpoint is the one POST without it (the token in its URL is the authorisation).
* Headers: a CSP without inline scripts or styles, frame-ancestors 'none' and X-Frame-Options,
  nosniff, a no-referrer policy (our URLs carry tokens) on every response, the 500 page of
  Starlette's ServerErrorMiddleware included: :class:`SecurityHeaders` wraps the whole application
  (digest.web.app.create_app), not one of its user middlewares, which sit inside that one.
* Redirect targets: :func:`local_path` lets only a path of this site through (no open redirect).
* "Link sent": the address a sign-in link was mailed to, for the page the sign-in form redirects to
  (post/redirect/get), travels in a short-lived signed cookie rather than in that page's URL (where
  access logs and the history would keep it).

Public names: :class:`SecurityHeaders`, :class:`Session`, :func:`current_session`,
:func:`session_identity`, :func:`set_session`, :func:`clear_session`, :func:`csrf_token`,
:func:`check_csrf`, :func:`finish`, :func:`local_path`, :func:`remember_signin_address`,
:func:`signin_address`, :data:`CSP`, :data:`DEFAULT_NEXT`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.config import Settings
from digest.tokens import secret_key

SESSION_COOKIE = "digest_session"
CSRF_COOKIE = "digest_csrf"
SIGNIN_SENT_COOKIE = "digest_signin_sent"
SESSION_MAX_AGE = 30 * 86400
#: Where sign-in leads when the request names no (acceptable) page to return to.
DEFAULT_NEXT = "/alerts"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware (no per-request task overhead) adding the headers above. An error
    response that sets no caching policy of its own gets ``Cache-Control: no-store`` too: a proxy
    must not keep serving a passing failure."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [h for h in _HEADERS if h[0] not in present]
                if message["status"] >= 400 and b"cache-control" not in present:
                    added.append((b"cache-control", b"no-store"))
                message["headers"] = list(message.get("headers", [])) + added
            await send(message)

        await self.app(scope, receive, with_headers)


def _secure(settings: Settings) -> bool:
    return settings.web.base_url.startswith("https://")


def _session_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(settings), salt="digest.web.session")


def _csrf_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key(settings), salt="digest.web.csrf")


@dataclass(frozen=True, slots=True)
class Session:
    """A valid session cookie's content."""

    user_id: int
    generation: int
    #: The random id sign-out records as used; None in a cookie made before sessions had one.
    session_id: str | None
    #: When the cookie stops being accepted anyway (SESSION_MAX_AGE after it was set).
    expires: datetime


def current_session(request: Request, settings: Settings) -> Session | None:
    """The session of a well-signed, unexpired cookie, else None. Whether it was signed out of is the
    store's to say (:func:`session_identity`)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data, issued = _session_serializer(settings).loads(raw, max_age=SESSION_MAX_AGE, return_timestamp=True)
    except BadSignature:
        return None
    if not (isinstance(data, list) and len(data) in (2, 3) and all(isinstance(v, int) for v in data[:2])):
        return None
    session_id = data[2] if len(data) == 3 else None
    if len(data) == 3 and not (isinstance(session_id, str) and 16 <= len(session_id) <= 64):
        return None
    return Session(int(data[0]), int(data[1]), session_id, issued + timedelta(seconds=SESSION_MAX_AGE))


def session_identity(session_id: str) -> str:
    """What marks the session ``session_id`` signed out (digest.store.used_tokens)."""
    return f"session:{session_id}"


def set_session(response: Response, settings: Settings, user_id: int, generation: int) -> None:
    """Start a new session (a fresh random id: signing out of it ends this one only)."""
    value = _session_serializer(settings).dumps([user_id, generation, secrets.token_urlsafe(24)])
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
                        secure=_secure(settings), path="/")


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def _nonce(request: Request) -> str:
    """This request's CSRF nonce: the cookie's, or a fresh one that :func:`finish` will set."""
    state: Any = request.state
    nonce = getattr(state, "csrf_nonce", None)
    if nonce is None:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        nonce = cookie if 20 <= len(cookie) <= 64 else None
        if nonce is None:
            nonce = secrets.token_urlsafe(24)
            state.csrf_new = True
        state.csrf_nonce = nonce
    return str(nonce)


def csrf_token(request: Request, settings: Settings) -> str:
    """The value for a form's hidden ``csrf`` field."""
    return str(_csrf_serializer(settings).dumps(_nonce(request)))


def check_csrf(request: Request, settings: Settings, form_value: Any) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not isinstance(form_value, str) or not form_value:
        return False
    try:
        nonce = _csrf_serializer(settings).loads(form_value)
    except BadSignature:
        return False
    return isinstance(nonce, str) and hmac.compare_digest(nonce, cookie)


def finish(request: Request, response: Response, settings: Settings) -> Response:
    """Set the CSRF cookie if this request minted a nonce; pages are never cached (they hold tokens)."""
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(CSRF_COOKIE, request.state.csrf_nonce, httponly=True, samesite="lax",
                            secure=_secure(settings), path="/")
    response.headers.setdefault("cache-control", "no-store")
    return response


def local_path(value: str | None) -> str:
    """``value`` when it is a path of this site, else :data:`DEFAULT_NEXT`.

    Browsers resolve ``//host/...`` and ``/\\host/...`` (WHATWG URL: a backslash is a slash in http
    URLs) as another site, and they drop tabs and newlines from a URL (a slash, a tab, a slash is
    ``//`` again): none of those may pass, or our sign-in mail would take its reader wherever a
    crafted link said (an open redirect). A value not starting with "/" (a scheme, a relative
    path) is refused too."""
    if (not value or not value.startswith("/") or value[1:2] in ("/", "\\")
            or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)):
        return DEFAULT_NEXT
    return value


def _signin_sent_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(settings), salt="digest.web.signin-sent")


def remember_signin_address(response: Response, settings: Settings, email: str, max_age: int) -> None:
    """Keep the address a sign-in link went to for the "link sent" page (signed: no other site can
    make that page show a text of its choosing)."""
    response.set_cookie(SIGNIN_SENT_COOKIE, _signin_sent_serializer(settings).dumps(email), max_age=max_age,
                        httponly=True, samesite="lax", secure=_secure(settings), path="/signin")


def signin_address(request: Request, settings: Settings, max_age: int) -> str | None:
    """The address :func:`remember_signin_address` kept, while it is fresh; else None."""
    raw = request.cookies.get(SIGNIN_SENT_COOKIE)
    if not raw:
        return None
    try:
        email = _signin_sent_serializer(settings).loads(raw, max_age=max_age)
    except BadSignature:
        return None
    return email if isinstance(email, str) else None
