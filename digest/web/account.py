"""Signed-in pages: sign-in, My alerts (with validation as you type and a 30-day preview), delivery
settings, My tags, private feed URLs and the digest preview. Every POST checks its CSRF token."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode
from zoneinfo import available_timezones

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from digest.config import Settings
from digest.errors import ConflictError, NotFoundError, QueryError
from digest.models import Subscription, User
from digest.store.base import row_id
from digest.store.users import CHANNELS, EVERY
from digest.tokens import TokenError, feed_url, verify_token
from digest.web import security
from digest.web.app import ctx, form_with_csrf, render, require_user, signin_redirect
from digest.web.signin import LINK_SECONDS, return_path, send_signin_email, signin_identity
from digest.web.views import HitView, hit_view

log = logging.getLogger("digest.web")
PREVIEW_DAYS = 30
PREVIEW_HITS = 10
_ZONES = sorted(available_timezones())
#: The values the settings form offers: exactly these strings, nothing int() merely accepts.
_HOURS = tuple(str(h) for h in range(24))
_WEEKDAYS = tuple(str(d) for d in range(7))


# --- sign-in ---------------------------------------------------------------------------------------


async def signin(request: Request) -> Response:
    """GET: the form (``next``: the page to return to). POST: mail a link, then redirect to the
    "link sent" page (post/redirect/get), so that a reload or Back/Forward sends no second mail."""
    c = ctx(request)
    if request.method == "GET":
        return render(request, "signin.html", next=security.local_path(request.query_params.get("next")),
                      title="Sign in")
    form, denied = await form_with_csrf(request)
    if denied:
        return denied
    email = form.get("email", "").strip()
    try:
        user = c.store.get_user(email)
    except (NotFoundError, ValueError):
        user = None
    # Same answer, in the same time, whether or not the address is known: the page must not reveal
    # who has an account, so the link is mailed after the response (a relay takes seconds to accept).
    # An unsubscribed (inactive) user gets a link too: signing in is how they resume their digests.
    mail = (BackgroundTask(_mail_signin_link, c.settings, user, security.local_path(form.get("next")))
            if user is not None else None)
    response = RedirectResponse("/signin/sent", status_code=303, background=mail)
    security.remember_signin_address(response, c.settings, email, LINK_SECONDS)
    return response


def _mail_signin_link(settings: Settings, user: User, next_path: str) -> None:
    """Mail a sign-in link, after the sign-in form was answered: a failure is the operator's to fix
    (it goes to the log); the visitor was already told, as for any address, that a link is on its way."""
    try:
        send_signin_email(settings, user, next_path)
    except Exception as exc:
        log.error("user=%s sign-in mail failed: %s", user.email, exc)


async def signin_sent(request: Request) -> Response:
    """Where the sign-in form leads: "a link is on its way" (a GET, safe to reload)."""
    email = security.signin_address(request, ctx(request).settings, LINK_SECONDS)
    return render(request, "signin_sent.html", email=email, minutes=LINK_SECONDS // 60, title="Sign in")


async def signin_link(request: Request) -> Response:
    """GET shows a button (mail scanners prefetch links; a GET must not sign anyone in), POST signs in
    and leads to the page that asked for the sign-in (carried in the signed token)."""
    c = ctx(request)
    token = request.path_params["token"]
    try:
        data = verify_token("signin", token, settings=c.settings)
        user = c.store.get_user(data.user_id)
        verify_token("signin", token, settings=c.settings, generation=user.token_generation)
    except (TokenError, NotFoundError) as exc:
        return render(request, "error.html", status_code=400, title="Sign-in link not valid",
                      message=f"{exc}. Ask for a new link on the sign-in page.")
    used = signin_identity(data)  # the same for every spelling of this token
    if request.method == "GET":
        if c.store.token_used(used):
            return _used_link(request)
        return render(request, "signin_confirm.html", token=token, email=user.email, title="Sign in")
    _, denied = await form_with_csrf(request)
    if denied:
        return denied
    if not c.store.use_token(used, user_id=user.id, expires=data.issued + timedelta(seconds=LINK_SECONDS)):
        return _used_link(request)
    response = RedirectResponse(return_path(data), status_code=303)
    security.set_session(response, c.settings, user.id, user.token_generation)
    log.info("user=%s signed in", user.email)
    return response


def _used_link(request: Request) -> Response:
    return render(request, "error.html", status_code=400, title="Sign-in link not valid",
                  message="This sign-in link was already used. Ask for a new link on the sign-in page.")


async def signout(request: Request) -> Response:
    """End the session on the server too: its id is recorded as used, so a copy of the cookie (a
    synced browser profile, someone at a shared machine) opens nothing afterwards."""
    _, denied = await form_with_csrf(request)
    if denied:
        return denied
    c = ctx(request)
    session = security.current_session(request, c.settings)
    if session is not None and session.session_id is not None:
        c.store.use_token(security.session_identity(session.session_id), user_id=session.user_id,
                          expires=session.expires)
    response = RedirectResponse("/", status_code=303)
    security.clear_session(response)
    return response


# --- alerts ----------------------------------------------------------------------------------------


def _validate(store: Any, query: str) -> QueryError | None:
    from digest.match.saved import check_query

    try:
        check_query(store, query)
    except QueryError as exc:
        return exc
    return None


def _owned(request: Request, user: User) -> Subscription:
    sub: Subscription = ctx(request).store.get_subscription(int(request.path_params["sub_id"]))
    if sub.user_id != user.id:
        raise NotFoundError("subscription", str(request.path_params["sub_id"]))
    return sub


def _bars(per_day: list[tuple[date, int]]) -> dict[str, Any]:
    """Geometry of the inline SVG bar chart (numbers only; the template draws it)."""
    peak = max((n for _, n in per_day), default=0) or 1
    width, height, gap = 8, 40, 2
    bars = [{"x": i * (width + gap), "h": round(height * n / peak, 1), "y": round(height - height * n / peak, 1),
             "w": width, "label": f"{d.isoformat()}: {n}"} for i, (d, n) in enumerate(per_day)]
    return {"bars": bars, "width": max(len(bars) * (width + gap), 1), "height": height,
            "total": sum(n for _, n in per_day)}


def query_preview(store: Any, query: str, now: datetime) -> dict[str, Any]:
    """What ``query`` would have matched over the last 30 days (up to the newest stored paper, as
    `digest query test` counts): matches per day and the top hits with highlights. Handlers run it
    in a worker thread (``run_in_threadpool``): it evaluates the query on a month of papers."""
    from digest.match.search import query_test

    try:
        result = query_test(store, query, days=PREVIEW_DAYS, top=PREVIEW_HITS)
    except QueryError as exc:  # an alert saved before a check it now fails (exclusions alone): say why
        return {"chart": _bars([]), "warnings": [exc.reason], "hits": []}
    return {"chart": _bars(list(result.per_day)), "warnings": list(result.warnings),
            "hits": [hit_view(h.paper, h.score, h.explanation) for h in result.top]}


def _form_values(form: dict[str, str]) -> dict[str, Any]:
    every = form.get("every", "daily")
    channel = form.get("channel", "both")
    return {"name": form.get("name", "").strip(), "query": form.get("query", "").strip(),
            "every": every if every in EVERY else "daily",
            "channel": channel if channel in CHANNELS else "both"}


async def alerts(request: Request) -> Response:
    user = require_user(request)
    if isinstance(user, Response):
        return user
    c = ctx(request)
    values: dict[str, Any] = {"name": "", "query": "", "every": "daily", "channel": "both"}
    error: str | None = None
    if request.method == "POST":
        form, denied = await form_with_csrf(request)
        if denied:
            return denied
        values = _form_values(form)
        problem = _validate(c.store, values["query"])
        if not values["name"]:
            error = "Give the alert a name."
        elif problem is not None:
            error = str(problem)  # "query error at column N: ..."
        else:
            try:
                sub = c.store.add_subscription(user.id, values["name"], query=values["query"], every=values["every"],
                                               channel=values["channel"], origin="web")
            except ConflictError:
                error = f"You already have an alert named “{values['name']}”: choose another name, or edit that one."
            else:
                log.info("user=%s alert=%s saved", user.email, sub.name)
                return RedirectResponse(f"/alerts/{sub.id}", status_code=303)
    subs = c.store.list_subscriptions(user.id)
    return render(request, "alerts.html", subs=subs, values=values, error=error, title="My alerts",
                  status_code=400 if error else 200)


async def alert(request: Request) -> Response:
    user = require_user(request)
    if isinstance(user, Response):
        return user
    c = ctx(request)
    sub = _owned(request, user)
    error: str | None = None
    values: dict[str, Any] = {"name": sub.name, "query": sub.query, "every": sub.every, "channel": sub.channel}
    if request.method == "GET" and sub.kind == "query" and sub.query:
        # A query stored before today's checks (or imported from a hand-edited export) may no longer
        # parse: show why, as the form does, so that the user can correct it.
        problem = _validate(c.store, sub.query)
        error = str(problem) if problem is not None else None  # names its column
    if request.method == "POST":
        form, denied = await form_with_csrf(request)
        if denied:
            return denied
        values = _form_values(form)
        problem = _validate(c.store, values["query"]) if sub.kind == "query" else None
        if problem is not None:
            error = str(problem)
        else:
            changes = {k: values[k] for k in ("every", "channel")}
            if values["name"]:
                changes["name"] = values["name"]
            if sub.kind == "query":
                changes["query"] = values["query"]
            try:
                sub = c.store.update_subscription(sub.id, **changes)
            except ConflictError:
                error = f"You already have an alert named “{changes['name']}”: choose another name."
            else:
                return RedirectResponse(f"/alerts/{sub.id}", status_code=303)
    preview = (await run_in_threadpool(query_preview, c.store, values["query"], datetime.now(timezone.utc))
               if sub.kind == "query" and values["query"] and error is None else None)
    return render(request, "alert.html", sub=sub, values=values, error=error, preview=preview, title=sub.name,
                  status_code=400 if error and request.method == "POST" else 200)


async def _signed_in_post(request: Request) -> User | Response:
    """For a signed-in user's POST without fields of its own: the user, or the response refusing
    the request (no session, or a missing or wrong CSRF token)."""
    user = require_user(request)
    if isinstance(user, Response):
        return user
    _, denied = await form_with_csrf(request)
    return denied if denied else user


async def _owned_post(request: Request) -> tuple[User, Subscription] | Response:
    """For POSTs on one alert: the signed-in owner and the alert, or the response refusing the request."""
    user = await _signed_in_post(request)
    return user if isinstance(user, Response) else (user, _owned(request, user))


async def pause_alert(request: Request) -> Response:
    owned = await _owned_post(request)
    if isinstance(owned, Response):
        return owned
    _, sub = owned
    ctx(request).store.update_subscription(sub.id, paused=not sub.paused)
    return RedirectResponse("/alerts", status_code=303)


async def delete_alert(request: Request) -> Response:
    owned = await _owned_post(request)
    if isinstance(owned, Response):
        return owned
    user, sub = owned
    ctx(request).store.delete_subscription(sub.id)
    log.info("user=%s alert=%s deleted", user.email, sub.name)
    return RedirectResponse("/alerts", status_code=303)


async def check_query(request: Request) -> Response:
    """Validate-as-you-type: ``{"ok": false, "column": 7, "error": "..."}`` for the alert form's JS."""
    problem = _validate(ctx(request).store, request.query_params.get("q", ""))
    if problem is None:
        return JSONResponse({"ok": True})
    return JSONResponse({"ok": False, "column": problem.column, "error": problem.reason})


async def preview_query(request: Request) -> Response:
    """The 30-day preview of an alert being typed, with its form kept filled in to save from.

    The form's Preview button POSTs here (the form carries the CSRF token, which must never end up
    in a URL: address bar, history, access logs); that answers with a redirect to the GET of this
    page with only the alert's fields (``name``, ``query``, ``every``, ``channel``; ``alert`` when
    an existing alert is being edited). A plain link may give the query as ``q``. No side effects."""
    user = require_user(request)
    if isinstance(user, Response):
        return user
    c = ctx(request)
    if request.method == "POST":
        form, denied = await form_with_csrf(request)
        if denied:
            return denied
        fields = {k: v for k, v in _form_values(form).items() if v}
        editing = _editable_alert(c.store, user, request.query_params.get("alert"))
        if editing is not None:
            fields["alert"] = str(editing.id)
        return RedirectResponse(f"/alerts/preview?{urlencode(fields)}", status_code=303)
    values = _form_values(dict(request.query_params.items()))
    values["query"] = values["query"] or request.query_params.get("q", "").strip()
    editing = _editable_alert(c.store, user, request.query_params.get("alert"))
    problem = _validate(c.store, values["query"]) if values["query"] else None
    preview = (await run_in_threadpool(query_preview, c.store, values["query"], datetime.now(timezone.utc))
               if values["query"] and problem is None else None)
    return render(request, "preview_query.html", values=values, error=str(problem) if problem else None,
                  preview=preview, editing=editing, title="Alert preview")


def _editable_alert(store: Any, user: User, value: str | None) -> Subscription | None:
    """The user's own query alert numbered ``value`` (the one a preview is for), or None: a new alert."""
    sub_id = row_id(value) if value else None
    if sub_id is None:
        return None
    try:
        sub: Subscription = store.get_subscription(sub_id)
    except NotFoundError:
        return None
    return sub if sub.user_id == user.id and sub.kind == "query" else None


async def resume_digests(request: Request) -> Response:
    """Undo "unsubscribe from all digests": the user is active again, with the alerts they had."""
    user = await _signed_in_post(request)
    if isinstance(user, Response):
        return user
    if not user.active:
        ctx(request).store.set_user_active(user.id, True)
        log.info("user=%s resumed their digests", user.email)
    return RedirectResponse("/alerts", status_code=303)


async def subscribe_trending(request: Request) -> Response:
    user = require_user(request)
    if isinstance(user, Response):
        return signin_redirect("/trending")  # the page of the button, not this POST-only address
    _, denied = await form_with_csrf(request)
    if denied:
        return denied
    try:
        ctx(request).store.add_subscription(user.id, "Trending papers", kind="trending", every="daily",
                                            channel="email", origin="web")
    except ConflictError:  # subscribed already (a second click): keep its settings
        pass
    return RedirectResponse("/alerts", status_code=303)


# --- settings, tags, feeds, preview ----------------------------------------------------------------


async def delivery_settings(request: Request) -> Response:
    user = require_user(request)
    if isinstance(user, Response):
        return user
    c = ctx(request)
    error: str | None = None
    if request.method == "POST":
        form, denied = await form_with_csrf(request)
        if denied:
            return denied
        zone, hour, weekday = form.get("timezone", "UTC"), form.get("hour", "7"), form.get("weekday", "0")
        # "" (or no field): keep each alert's own choice.
        every, channel = form.get("every", ""), form.get("channel", "")
        if zone not in _ZONES or hour not in _HOURS or weekday not in _WEEKDAYS:
            error = "Choose a time zone from the list, an hour 0-23 and a weekday."
        elif (every and every not in EVERY) or (channel and channel not in CHANNELS):
            error = f"How often is {' or '.join(EVERY)}; deliver by is {', '.join(CHANNELS)}."
        else:
            c.store.set_delivery_time(user.id, timezone=zone, hour=int(hour), weekday=int(weekday))
            # An unticked checkbox is not in the form at all (HTML's form submission): absent is off.
            c.store.set_digest_options(user.id, show_updates="show_updates" in form, send_empty="send_empty" in form)
            changes = {k: v for k, v in (("every", every), ("channel", channel)) if v}
            for sub in c.store.list_subscriptions(user.id) if changes else ():
                c.store.update_subscription(sub.id, **changes)
            return RedirectResponse("/settings", status_code=303)
    return render(request, "settings.html", zones=_ZONES, error=error, title="Delivery settings",
                  user=c.store.get_user(user.id), status_code=400 if error else 200)


async def my_tags(request: Request) -> Response:
    user = require_user(request)
    if isinstance(user, Response):
        return user
    c = ctx(request)
    tags = []
    for name, count in c.store.user_tags(user.id):
        papers = [c.store.get_paper(pid) for pid, polarity in c.store.labels(user.id, name) if polarity > 0]
        tags.append({"name": name, "count": count, "papers": papers,
                     "similar": more_like_this(c.store, user.id, name)})
    return render(request, "tags.html", tags=tags, title="My tags")


def more_like_this(store: Any, user_id: int, tag: str, *, limit: int = 10, recent: int = 2000) -> list[HitView]:
    """Recent papers closest to the user's labelled ones (the user-tag matcher of digest.match)."""
    from digest.match.profile import profile_for
    from digest.match.run import idf_of, load_stats

    idf = idf_of(load_stats(store))
    profile = profile_for(store, user_id, tag, idf)
    labelled = {pid for pid, _ in store.labels(user_id, tag)}
    scored = []
    for paper in store.list_papers(limit=recent):
        if paper.id in labelled:
            continue
        found = profile.evaluate(paper, idf)
        if found is not None:
            scored.append(hit_view(paper, found.score, found.explanation))
    scored.sort(key=lambda h: -(h.score or 0))
    return scored[:limit]


async def my_feeds(request: Request) -> Response:
    user = require_user(request)
    if isinstance(user, Response):
        return user
    c = ctx(request)
    s = c.settings
    feeds = [("All my alerts", feed_url(s, user.feed_token, "all")),
             ("Trending", feed_url(s, user.feed_token, "trending"))]
    for sub in c.store.list_subscriptions(user.id):
        feeds.append((sub.name, feed_url(s, user.feed_token, f"sub-{sub.id}")))
    return render(request, "feeds.html", feeds=feeds, title="Private feeds")


async def digest_preview(request: Request) -> Response:
    """The exact HTML of the next digest, sandboxed: it is mail markup, not part of our site."""
    from digest.digests.send import preview

    user = require_user(request)
    if isinstance(user, Response):
        return user
    c = ctx(request)
    period = request.query_params.get("period", "daily")
    _, rendered = preview(c.store, c.settings, user.id, period=period if period in ("daily", "weekly") else "daily",
                          now=datetime.now(timezone.utc))
    response = HTMLResponse(rendered.html)
    # The mail's own inline CSS may apply; scripts, forms and plugins may not (CSP sandbox).
    response.headers["content-security-policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:"
    response.headers["cache-control"] = "no-store"
    return response

