"""One digest as a web page: every paper it selected, those its email had no room for included.

An email is capped (:data:`digest.digests.select.MAX_ITEMS`, then Gmail's clipping budget,
:func:`digest.render.email.render_email`), and says "N more papers did not fit in this email: see the
whole digest". This page is where that leads: ``GET /digest/{token}``, where ``token`` is the
digest's compact feedback token (user id, token generation, period key; :func:`digest.tokens.feedback_token`).
The token is the whole authorisation, as for the feedback and unsubscribe links of the same email:
no session, and the page sets no cookie (it has no form). It is verified with revocation by the
user's token generation (:func:`digest.web.links._verify`), and expires with the feedback links.

What it shows: the digest recorded in the outbox under that key, rebuilt uncapped from the stored
matches (:func:`digest.digests.select.replay_digest`), in the email's sections and order; first the
papers the email showed (the outbox row's ``paper_ids``), then, at ``#more``
(:data:`digest.render.email.MORE_ANCHOR`), the ones it did not, in the same sections. A key with no
outbox row yet is the digest a preview showed (the web preview, `digest preview`): while it is still
the user's next digest, the page shows it as it stands now. The cards are the email's own
(:func:`digest.render.email.item_view`): every feed value cleaned there and escaped by autoescape here.

Answers: 400 for a link that is not valid or was revoked, 410 for an expired one, a removed user or a
digest whose papers are no longer stored, 404 for a period no digest was sent for. Every answer is
``Cache-Control: private, no-store`` (the URL is a credential; like every page holding one, kept by no
cache) and ``X-Robots-Tag: noindex``; the app's headers add ``Referrer-Policy: no-referrer``, so the
token does not leak to the sites its papers link to.

Public: :func:`digest_page`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from digest.digests.select import build_digest, replay_digest
from digest.errors import NotFoundError
from digest.models import Digest, User
from digest.render.email import MORE_ANCHOR, ItemView, digest_day, item_view, subject_for
from digest.sanitize import display_line, display_text
from digest.tokens import MAX_AGE, TokenError, TokenExpired, TokenRevoked
from digest.web import security
from digest.web.app import ctx
from digest.web.links import _verify

_HEADERS = {"cache-control": "private, no-store", "x-robots-tag": "noindex"}


@dataclass(frozen=True, slots=True)
class _Section:
    title: str
    kind: str
    items: tuple[ItemView, ...]


def _page(request: Request, name: str, *, title: str, status_code: int = 200, **context: Any) -> Response:
    """A page of templates/web without the session or the CSRF cookie that
    :func:`digest.web.app.render` reads and sets: opened from a mail (or by a mail scanner), it
    needs neither, and a token page has no signed-in user to show."""
    c = ctx(request)
    context.update(title=display_text(title), user=None, csrf="", base_url=c.settings.web.base_url)
    response = c.templates.TemplateResponse(request, name, context, status_code=status_code, headers=_HEADERS)
    return security.finish(request, response, c.settings)


def _error(request: Request, status_code: int, title: str, message: str) -> Response:
    return _page(request, "error.html", status_code=status_code, title=title, message=message)


def _token_error(request: Request, exc: TokenError) -> Response:
    if isinstance(exc, TokenExpired):
        days = (MAX_AGE["feedback"] or 0) // 86400
        return _error(request, 410, "Digest link expired",
                      f"This link has expired: a digest's page stays open for {days} days after it was sent.")
    if isinstance(exc, TokenRevoked):
        return _error(request, 400, "Digest link revoked",
                      "This link was revoked: the links of every email sent before were reset.")
    return _error(request, 400, "Digest link not valid",
                  "This link is not valid: it may have been cut short or changed. Open it from your email again.")


def _previewed(store: Any, settings: Any, user: User, key: str, now: datetime) -> tuple[Digest, tuple[str, ...]] | None:
    """The digest of ``key`` as the preview shows it while it is the user's next one, uncapped, and
    the papers the preview's email shows; None for any other key nothing was recorded under."""
    from digest.digests.send import preview

    period = "weekly" if "-W" in key else "daily"
    capped, rendered = preview(store, settings, user.id, period=period, now=now)
    if capped.period_key != key:
        return None
    whole = build_digest(store, user, period, key, now=now, start=capped.period_start, end=capped.period_end,
                         max_items=sys.maxsize)
    return whole, rendered.paper_ids


def _sections(digest: Digest, shown: set[str], settings: Any, token: str) -> tuple[list[_Section], list[_Section]]:
    """The digest's sections split in two, order kept: the papers its email showed, and the rest."""
    in_email: list[_Section] = []
    rest: list[_Section] = []
    for section in digest.sections:
        title = display_line(section.title)
        for part, wanted in ((in_email, True), (rest, False)):
            items = tuple(item_view(i, settings, token) for i in section.items if (i.paper.id in shown) == wanted)
            if items:
                part.append(_Section(title, section.kind, items))
    return in_email, rest


async def digest_page(request: Request) -> Response:
    """``GET /digest/{token}``: the whole digest; see the module doc."""
    c = ctx(request)
    try:
        data = _verify(request, "feedback")
    except TokenError as exc:
        return _token_error(request, exc)
    except NotFoundError:  # signed by us for a user who is gone
        return _error(request, 410, "Digest gone", "This digest is no longer here: its reader's account was removed.")
    user = c.store.get_user(data.user_id)
    key = str(data.data.get("d", ""))
    record = c.store.recorded_digest(user.id, key)
    if record is not None:
        digest, shown = replay_digest(c.store, user, record), record.paper_ids
    else:
        found = _previewed(c.store, c.settings, user, key, datetime.now(timezone.utc))
        if found is None:
            return _error(request, 404, "No such digest", "No digest was sent for this period.")
        digest, shown = found
    if not digest.items:
        if record is not None and record.paper_ids:
            return _error(request, 410, "Digest gone",
                          "The papers of this digest are no longer listed here: the alerts that found them "
                          "were changed or deleted since.")
        return _error(request, 404, "No papers", "This digest has no papers.")
    in_email, rest = _sections(digest, set(shown), c.settings, request.path_params["token"])
    subject = subject_for(digest)
    return _page(request, "digest.html", title=subject, heading=subject, day=digest_day(digest),
                 greeting=display_line(digest.user_name or ""), sections=in_email, more_sections=rest,
                 shown=sum(len(s.items) for s in in_email), more=sum(len(s.items) for s in rest),
                 more_anchor=MORE_ANCHOR)
