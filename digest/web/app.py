"""The Starlette application: routes, templates and the helpers every page shares.

Pages work without JavaScript; ``/static/alerts.js`` only adds validate-as-you-type on the alert form
(progressive enhancement, no inline scripts: the CSP forbids them). Every feed string reaches HTML
through jinja2 autoescape; outside HTML (never stored as such here) would go through digest.sanitize.

Public names: :func:`create_app`, :class:`WebContext`, :func:`render`, :func:`current_user`,
:func:`count_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp

from digest.config import Settings
from digest.errors import NotFoundError
from digest.models import User
from digest.resources import templates_dir
from digest.sanitize import display_text, safe_url
from digest.web import security


@dataclass
class WebContext:
    settings: Settings
    store: Any
    templates: Jinja2Templates


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


def current_user(request: Request) -> User | None:
    """The signed-in user, or None (also when the session was signed out of or predates a
    token-generation bump). An unsubscribed (inactive) user stays signed in: the alerts page is
    where they resume their digests."""
    c = ctx(request)
    session = security.current_session(request, c.settings)
    if session is None:
        return None
    if session.session_id is not None and c.store.token_used(security.session_identity(session.session_id)):
        return None
    try:
        user = c.store.get_user(session.user_id)
    except NotFoundError:
        return None
    if user.token_generation != session.generation:
        return None
    return user  # type: ignore[no-any-return]


def render(request: Request, name: str, *, title: str, status_code: int = 200, **context: Any) -> Response:
    """Render a page of templates/web; ``title`` names it in the tab, the history and to screen
    readers ("Sign in · digest"), so every page must give one. It may hold feed text (a paper's
    title) or a visitor's (a search): an override it leaves open is closed (display_text, as in
    email and feeds), or it would reverse the " · digest" that follows it."""
    c = ctx(request)
    context["title"] = display_text(title)
    context.setdefault("user", current_user(request))
    context["csrf"] = security.csrf_token(request, c.settings)
    context["base_url"] = c.settings.web.base_url
    response = c.templates.TemplateResponse(request, name, context, status_code=status_code)
    return security.finish(request, response, c.settings)


def signin_redirect(next_path: str) -> Response:
    """To the sign-in page, which leads back to ``next_path`` once the emailed link is confirmed."""
    return RedirectResponse(f"/signin?next={quote(next_path, safe='/')}", status_code=303)


def require_user(request: Request) -> User | Response:
    user = current_user(request)
    if user is None:
        query = request.url.query
        return signin_redirect(request.url.path + (f"?{query}" if query else ""))
    return user


async def form_with_csrf(request: Request) -> tuple[dict[str, str], Response | None]:
    """The posted form as strings, or a 403 response when its CSRF token does not check out."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not security.check_csrf(request, ctx(request).settings, values.get("csrf")):
        return values, render(request, "error.html", status_code=403, title="Form expired",
                              message="This form has expired or did not come from this site. Reload the page "
                                      "and try again.")
    return values, None


async def healthz(request: Request) -> Response:
    """Liveness and database reachability, for load balancers and systemd watchdogs."""
    try:
        ctx(request).store.work_summary()
    except Exception as exc:  # any database failure means "not healthy"
        return PlainTextResponse(f"database: {type(exc).__name__}", status_code=503)
    return PlainTextResponse("ok")


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico on their own (pages outside base.html, such as the digest
    preview, link no icon): the site's icon, rather than a 404 in the console and the log."""
    return FileResponse(templates_dir() / "web" / "static" / "favicon.svg", media_type="image/svg+xml",
                        headers={"cache-control": "public, max-age=86400"})


async def server_error(request: Request, exc: Exception) -> Response:
    """The 500 page: plain, the same for every failure (the exception goes to the log, never to the
    visitor), and built without the database or the templates, which may be what failed. Its
    security headers and ``Cache-Control: no-store`` come from SecurityHeaders around the app."""
    return PlainTextResponse("Something went wrong on our side. Try again in a minute.", status_code=500)


async def not_found(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", status_code=404, title="Not found",
                  message=str(exc) if isinstance(exc, NotFoundError) else "There is nothing here.")


def count_of(n: int, noun: str) -> str:
    """"1 paper", "2 papers", "0 papers": a count with its noun (a regular English plural)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "web")),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["safe_url"] = safe_url  # only http(s) links from feeds reach an href
    env.filters["count_of"] = count_of
    return env


def create_app(settings: Settings, store: Any) -> ASGIApp:
    """The web application: the Starlette app of the routes below, inside
    :class:`~digest.web.security.SecurityHeaders` (outside Starlette's ServerErrorMiddleware, so
    that the 500 page carries the security headers too)."""
    from digest.web import account, digest_page, links, pages

    routes = [
        Route("/", pages.home),
        Route("/healthz", healthz),
        Route("/favicon.ico", favicon),
        Route("/search", pages.search),
        Route("/trending", pages.trending),
        Route("/trending/subscribe", account.subscribe_trending, methods=["POST"]),
        Route("/papers/{paper_id:path}", pages.paper),
        Route("/signin", account.signin, methods=["GET", "POST"]),
        Route("/signin/sent", account.signin_sent),  # before /signin/{token}, which would take "sent"
        Route("/signin/{token}", account.signin_link, methods=["GET", "POST"]),
        Route("/signout", account.signout, methods=["POST"]),
        Route("/alerts", account.alerts, methods=["GET", "POST"]),
        Route("/resume", account.resume_digests, methods=["POST"]),
        Route("/alerts/check", account.check_query),
        Route("/alerts/preview", account.preview_query, methods=["GET", "POST"]),
        Route("/alerts/{sub_id:int}", account.alert, methods=["GET", "POST"]),
        Route("/alerts/{sub_id:int}/pause", account.pause_alert, methods=["POST"]),
        Route("/alerts/{sub_id:int}/delete", account.delete_alert, methods=["POST"]),
        Route("/settings", account.delivery_settings, methods=["GET", "POST"]),
        Route("/tags", account.my_tags),
        Route("/feeds", account.my_feeds),
        Route("/preview", account.digest_preview),
        Route("/unsubscribe/one-click/{token}", links.one_click_unsubscribe, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", links.unsubscribe, methods=["GET", "POST"]),
        Route("/feedback/{token}", links.feedback, methods=["GET", "POST"]),
        Route("/digest/{token}", digest_page.digest_page),
        Route("/feeds/{feed_token}/{name}.{fmt}", links.feed),
        Mount("/static", StaticFiles(directory=str(templates_dir() / "web" / "static")), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, NotFoundError: not_found, 500: server_error})
    app.state.ctx = WebContext(settings, store, Jinja2Templates(env=_environment()))
    return security.SecurityHeaders(app)
