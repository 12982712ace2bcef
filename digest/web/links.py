"""The URLs we put in mail and feed readers: unsubscribe (page and RFC 8058 one-click), feedback
and private feeds over HTTP with conditional GET.

The token in the URL is the authorisation for all of them; none needs a session. See
:mod:`digest.tokens` for the URL layout and token purposes.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from digest.dates import rfc5322_date
from digest.digests.unsubscribe import apply_unsubscribe, token_alert, verified_token
from digest.errors import NotFoundError
from digest.store.base import MAX_ROW_ID, row_id
from digest.text import MutedAuthors
from digest.tokens import TokenData, TokenError, feed_url, feedback_kind
from digest.web.app import ctx, form_with_csrf, render

log = logging.getLogger("digest.web")
#: Seconds a rendered feed is reused before it is rebuilt from the store. Feed readers poll every
#: few minutes and digests change at most every few minutes, so this bounds staleness cheaply.
FEED_CACHE_SECONDS = 15.0
FEED_MAX_AGE = 300
FEED_TYPES = {"atom": "application/atom+xml; charset=utf-8", "rss": "application/rss+xml; charset=utf-8"}
DEFAULT_FEEDBACK_TAG = "more-like-this"


def _verify(request: Request, purpose: str) -> TokenData:
    """Verify a link token, including revocation against the user's current generation."""
    c = ctx(request)
    return verified_token(c.store, c.settings, purpose, request.path_params["token"])


def _apply_unsubscribe(request: Request, data: TokenData, *, via: str) -> str:
    """Apply it as every way in does (digest.digests.unsubscribe); the page's sentence."""
    done = apply_unsubscribe(ctx(request).store, data, via=via)
    if done.alert is not None:
        return f"You will get no more mail for “{done.alert}”."
    return "You will get no more digests from us."


async def unsubscribe(request: Request) -> Response:
    """GET: a confirmation page (link scanners prefetch GETs, so a GET changes nothing); its button
    POSTs here. POST: do it."""
    try:
        data = _verify(request, "unsubscribe")
    except (TokenError, NotFoundError) as exc:
        return render(request, "error.html", status_code=400, title="Unsubscribe link not valid", message=str(exc))
    store = ctx(request).store
    user = store.get_user(data.user_id)
    try:
        sub = token_alert(store, data)  # an alert-level token: the email's "Stop one alert" links
    except NotFoundError:
        return render(request, "error.html", status_code=404, title="Stop an alert",
                      message="This alert no longer exists (it was deleted after this email was sent).")
    alert = sub.name if sub is not None else None
    title = "Stop an alert" if alert is not None else "Unsubscribe"
    if request.method == "GET":
        return render(request, "unsubscribe.html", token=request.path_params["token"], email=user.email, done=None,
                      alert=alert, title=title)
    _, denied = await form_with_csrf(request)
    if denied:
        return denied
    return render(request, "unsubscribe.html", token="", email=user.email, alert=alert,
                  done=_apply_unsubscribe(request, data, via="web"), title=title)


async def one_click_unsubscribe(request: Request) -> Response:
    """RFC 8058 §3.2: the mailbox provider POSTs ``List-Unsubscribe=One-Click`` without cookies or a
    session; the signed token is the whole authorisation, so there is no CSRF check here. A mail
    client without RFC 8058 support opens the same https URI of List-Unsubscribe in a browser (a
    GET, which link scanners also send): that shows the ordinary confirmation page and changes nothing."""
    if request.method == "GET":
        return await unsubscribe(request)  # the same {token}: the page of the ordinary unsubscribe link
    try:
        data = _verify(request, "unsubscribe")
    except (TokenError, NotFoundError) as exc:
        return PlainTextResponse(str(exc), status_code=400)
    form = await request.form()
    if form.get("List-Unsubscribe") not in (None, "One-Click"):
        return PlainTextResponse("expected List-Unsubscribe=One-Click", status_code=400)
    return PlainTextResponse(_apply_unsubscribe(request, data, via="one-click"))


def _feedback_title(kind: str, author: str) -> str:
    """The heading (and tab title) of a feedback page, as the digest's link named the action."""
    return {"more": "More like this", "not-relevant": "Not relevant"}.get(kind) or f"Mute {author}"


async def feedback(request: Request) -> Response:
    """``?p=PAPER&k=m|n|a[&a=AUTHOR][&t=TAG]`` (or the long kind names): GET confirms, POST records
    it. ``t`` is the user tag whose recommendation the link was under: its profile learns from the
    click; without one, labels go under :data:`DEFAULT_FEEDBACK_TAG`."""
    c = ctx(request)
    try:
        data = _verify(request, "feedback")
    except (TokenError, NotFoundError) as exc:
        return render(request, "error.html", status_code=400, title="Feedback link not valid", message=str(exc))
    code, paper_id, author = (request.query_params.get(k, "") for k in ("k", "p", "a"))
    tag = request.query_params.get("t", "").strip() or DEFAULT_FEEDBACK_TAG
    kind = feedback_kind(code)  # the short codes of digest.tokens, or the long names of older links
    if kind is None or not paper_id or (kind == "mute-author" and not author):
        return render(request, "error.html", status_code=400, title="Feedback link not valid",
                      message="This link is incomplete.")
    try:
        paper = c.store.get_paper(paper_id)
    except NotFoundError:
        paper = None
    if paper is None and kind != "mute-author":
        return render(request, "error.html", status_code=404, title=_feedback_title(kind, author),
                      message="This paper is no longer stored here, so there is nothing to record.")
    if request.method == "GET":
        return render(request, "feedback.html", paper=paper, paper_id=paper_id, done=False,
                      title=_feedback_title(kind, author),
                      action=str(request.url.path) + "?" + str(request.url.query))
    _, denied = await form_with_csrf(request)
    if denied:
        return denied
    if kind == "mute-author":
        try:
            c.store.mute_author(data.user_id, author)
        except ValueError as exc:  # a name with no letters to know an author by
            return render(request, "error.html", status_code=400, title=_feedback_title(kind, author), message=str(exc))
    elif paper is not None:
        c.store.add_label(data.user_id, tag, paper.id, 1 if kind == "more" else -1)
    log.info("user=%s feedback=%s paper=%s", data.user_id, kind, paper_id)
    return render(request, "feedback.html", paper=paper, paper_id=paper_id, done=True,
                  title=_feedback_title(kind, author),
                  action="")


# --- feeds -----------------------------------------------------------------------------------------


class _FeedCache:
    """Rendered feeds by (feed token, name, format) for :data:`FEED_CACHE_SECONDS`. Only consulted
    after the token has been looked up: a rotated token must stop working at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str, str], tuple[float, bytes, str, datetime]] = {}

    def get(self, key: tuple[str, str, str]) -> tuple[bytes, str, datetime] | None:
        with self._lock:
            hit = self._items.get(key)
        if hit is None or time.monotonic() - hit[0] > FEED_CACHE_SECONDS:
            return None
        return hit[1], hit[2], hit[3]

    def put(self, key: tuple[str, str, str], body: bytes, updated: datetime) -> tuple[bytes, str, datetime]:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        with self._lock:
            if len(self._items) > 4096:
                self._items.clear()
            self._items[key] = (time.monotonic(), body, etag, updated)
        return body, etag, updated


_cache = _FeedCache()


def _render_feed(store: Any, settings: Any, user: Any, name: str, fmt: str) -> tuple[bytes, datetime]:
    """The feed ``name`` of ``user`` (URL names as in digest.render.feed_entries) and its last change."""
    from digest.render.feed_entries import feed_document, subscription_feed, tag_feed, trending_feed, user_feed

    # row_id: ASCII digits only ("sub-²" is no number); a number no database holds is no subscription.
    number = row_id(name[4:]) if name.startswith("sub-") else None
    if name == "all":
        spec = user_feed(store, settings, user.id)
    elif name == "trending":  # a private feed: without the authors its reader muted, as their digest
        spec = trending_feed(store, settings, muted=MutedAuthors(store.muted_authors(user.id)))
    elif name.startswith("tag-") and name[4:]:
        spec = tag_feed(store, settings, name[4:], muted=MutedAuthors(store.muted_authors(user.id)))
    elif number is not None and 0 <= number <= MAX_ROW_ID:
        sub = store.get_subscription(number)
        if sub.user_id != user.id:  # another user's subscription: as unknown as a bad name
            raise NotFoundError("feed", name)
        spec = subscription_feed(store, settings, sub.id)
    else:
        raise NotFoundError("feed", name)
    body = feed_document(spec, self_url=feed_url(settings, user.feed_token, name, format=fmt),
                         format="rss" if fmt == "rss" else "atom")
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return body, max((e.updated for e in spec.entries if e.updated), default=epoch)


def _settled_second(changed: datetime, now: datetime) -> datetime | None:
    """The whole second (HTTP dates have no finer) of the feed's last change, or None while that
    second is still running or lies ahead: another change may follow within it, and a reader's
    If-Modified-Since could not tell the two apart, so such a date is weak (RFC 9110 §8.8.2.2) and
    never earns a 304."""
    second = changed.astimezone(timezone.utc).replace(microsecond=0)
    return second if second < now.replace(microsecond=0) else None


def _last_modified(settled: datetime | None, now: datetime) -> datetime:
    """Last-Modified: the settled second of the last change, never later than the response (RFC
    9110 §8.8.2.1); while the change is not settled, the second before now, so a reader sending it
    back fetches once more instead of missing a change made later within this second."""
    return settled if settled is not None else now.replace(microsecond=0) - timedelta(seconds=1)


def _not_modified(request: Request, etag: str, settled: datetime | None) -> bool:
    """RFC 9110 §13.1: If-None-Match wins over If-Modified-Since; weak comparison for GET."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims and settled is not None:
        since = rfc5322_date(ims)
        return since is not None and settled <= since
    return False


async def feed(request: Request) -> Response:
    c = ctx(request)
    token, name, fmt = (request.path_params[k] for k in ("feed_token", "name", "fmt"))
    if fmt not in FEED_TYPES:
        raise NotFoundError("feed format", fmt)
    # The token first, the cache after: a rotated (leaked) token or an unsubscribed user's feeds stop
    # at once. NotFoundError -> 404, the same as an unknown feed.
    user = c.store.user_by_feed_token(token)
    key = (token, name, fmt)
    cached = _cache.get(key)
    if cached is None:
        body, updated = _render_feed(c.store, c.settings, user, name, fmt)
        cached = _cache.put(key, body, updated)
    body, etag, updated = cached
    now = datetime.now(timezone.utc)
    settled = _settled_second(updated, now)
    headers = {"etag": etag, "last-modified": format_datetime(_last_modified(settled, now), usegmt=True),
               # private: the URL is a secret; shared caches must not keep a copy.
               "cache-control": f"private, max-age={FEED_MAX_AGE}"}
    if _not_modified(request, etag, settled):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=FEED_TYPES[fmt], headers=headers)
