"""The Starlette application: routes, templates and the helpers every page shares.

Pages work without JavaScript; ``/static/alerts.js`` only adds validate-as-you-type on the alert form
(progressive enhancement, no inline scripts: the CSP forbids them). Every feed string reaches HTML
through jinja2 autoescape; outside HTML (never stored as such here) would go through digest.sanitize.

Public names: :func:`create_app`, :class:`WebContext`, :func:`render`, :func:`current_user`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from digest.config import Settings
from digest.errors import NotFoundError
from digest.models import User
from digest.resources import templates_dir
from digest.sanitize import safe_url
from digest.web import security


@dataclass
class WebContext:
    settings: Settings
    store: Any
    templates: Jinja2Templates


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


def current_user(request: Request) -> User | None:
    """The signed-in user, or None (also when the session predates a token-generation bump). An
    unsubscribed (inactive) user stays signed in: the alerts page is where they resume their digests."""
    c = ctx(request)
    found = security.session_user_id(request, c.settings)
    if found is None:
        return None
    try:
        user = c.store.get_user(found[0])
    except NotFoundError:
        return None
    if user.token_generation != found[1]:
        return None
    return user  # type: ignore[no-any-return]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    c = ctx(request)
    context.setdefault("user", current_user(request))
    context["csrf"] = security.csrf_token(request, c.settings)
    context["base_url"] = c.settings.web.base_url
    response = c.templates.TemplateResponse(request, name, context, status_code=status_code)
    return security.finish(request, response, c.settings)


def require_user(request: Request) -> User | Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)
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


async def not_found(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", status_code=404, title="Not found",
                  message=str(exc) if isinstance(exc, NotFoundError) else "There is nothing here.")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "web")),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["safe_url"] = safe_url  # only http(s) links from feeds reach an href
    return env


def create_app(settings: Settings, store: Any) -> Starlette:
    from digest.web import account, links, pages

    routes = [
        Route("/", pages.home),
        Route("/healthz", healthz),
        Route("/search", pages.search),
        Route("/trending", pages.trending),
        Route("/trending/subscribe", account.subscribe_trending, methods=["POST"]),
        Route("/papers/{paper_id:path}", pages.paper),
        Route("/signin", account.signin, methods=["GET", "POST"]),
        Route("/signin/{token}", account.signin_link, methods=["GET", "POST"]),
        Route("/signout", account.signout, methods=["POST"]),
        Route("/alerts", account.alerts, methods=["GET", "POST"]),
        Route("/resume", account.resume_digests, methods=["POST"]),
        Route("/alerts/check", account.check_query),
        Route("/alerts/preview", account.preview_query),
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
        Route("/feeds/{feed_token}/{name}.{fmt}", links.feed),
        Mount("/static", StaticFiles(directory=str(templates_dir() / "web" / "static")), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(security.SecurityHeaders)],
                    exception_handlers={404: not_found, NotFoundError: not_found})
    app.state.ctx = WebContext(settings, store, Jinja2Templates(env=_environment()))
    return app
