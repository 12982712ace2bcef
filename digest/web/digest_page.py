"""One digest as a web page: every paper it selected, those its email had no room for included.

An email is capped (:data:`digest.digests.select.MAX_ITEMS`, then Gmail's clipping budget,
:func:`digest.render.email.render_email`), and says "N more papers did not fit in this email: see the
whole digest". This page is where that leads: ``GET /digest/{token}``, where ``token`` is the
digest's compact feedback token (user id, token generation, period key; :func:`digest.tokens.feedback_token`).
The token is the whole authorisation, as for the feedback and unsubscribe links of the same email:
no session, and the page sets no cookie (it has no form). It is verified with revocation by the
user's token generation (:func:`digest.web.links._verify`), and expires with the feedback links.

What it shows: what the digest held when it was built, as `digest send` recorded it with the email
(:mod:`digest.digests.record`): its sections in the email's order, first with the papers the email
showed, then, at ``#more`` (:data:`digest.render.email.MORE_ANCHOR`), the ones it did not. Nothing
done since moves a paper in or out: alerts paused, renamed, made weekly or feed-only, updates turned
on or off, a new arXiv version, later sources or votes of a trending paper. Each paper is shown as
stored now (title, authors, links; a paper merged into another since is found by its old id, one no
longer stored is listed as such), in the email's own card (:func:`digest.render.email.item_view`)
with what the email's card said: its reasons under the alert names of then, its "Updated vN" and
"Trending" badges. Every feed value is cleaned there and escaped by autoescape here. A key with no
outbox row yet is the digest a preview showed (the web preview, `digest preview`): while it is still
the user's next digest, the page shows it as it stands now
(:func:`digest.digests.send.preview_contents`).

Answers: 400 for a link that is not valid or was revoked; 410 for an expired one, a removed user, or
a digest recorded before its contents were kept (migration 0006: its email is all there is of it);
404 for a period no digest was sent for, or a digest without papers. Every answer is
``Cache-Control: private, no-store`` (the URL is a credential; like every page holding one, kept by no
cache) and ``X-Robots-Tag: noindex``; the app's headers add ``Referrer-Policy: no-referrer``, so the
token does not leak to the sites its papers link to.

Public: :func:`digest_page`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from digest.digests.record import DigestContents, RecordedItem, read_contents
from digest.errors import NotFoundError
from digest.models import Paper
from digest.render.email import MORE_ANCHOR, ItemView, item_view
from digest.sanitize import display_line, display_text
from digest.tokens import MAX_AGE, TokenError, TokenExpired, TokenRevoked
from digest.web import security
from digest.web.app import ctx
from digest.web.links import _verify

_HEADERS = {"cache-control": "private, no-store", "x-robots-tag": "noindex"}


@dataclass(frozen=True, slots=True)
class _Card:
    """One paper of the page: its card, or None for a paper no longer stored."""

    paper_id: str
    view: ItemView | None


@dataclass(frozen=True, slots=True)
class _Section:
    title: str
    kind: str
    cards: tuple[_Card, ...]


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


def _contents(store: Any, settings: Any, user_id: int, key: str) -> tuple[str, DigestContents | None] | None:
    """(subject, contents) of the digest recorded under ``key``, or of the one a preview shows while
    ``key`` is the user's next digest; contents None for a digest recorded before they were kept.
    None when there is no such digest."""
    from digest.digests.send import preview_contents

    record = store.recorded_digest(user_id, key)
    if record is not None:
        return record.subject, read_contents(record.contents)
    period = "weekly" if "-W" in key else "daily"
    upcoming, subject, contents = preview_contents(store, settings, user_id, period=period,
                                                   now=datetime.now(timezone.utc))
    return (subject, read_contents(contents)) if upcoming == key else None


def _current_papers(store: Any, ids: Iterable[str]) -> dict[str, Paper]:
    """id -> the paper as stored now; a paper merged into another since is found by its old id (an
    alias, :meth:`digest.store.Store.get_paper`), one no longer stored is left out."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Paper] = store.papers_by_ids(wanted)
    for pid in wanted:
        if pid not in found:
            try:
                found[pid] = store.get_paper(pid)
            except NotFoundError:
                continue
    return found


def _card(item: RecordedItem, paper: Paper | None, settings: Any, token: str) -> _Card:
    return _Card(item.paper_id, item_view(item.with_paper(paper), settings, token) if paper is not None else None)


def _sections(contents: DigestContents, papers: dict[str, Paper], settings: Any,
              token: str) -> tuple[list[_Section], list[_Section]]:
    """The digest's sections split in two, order kept: the papers its email showed, and the rest."""
    in_email: list[_Section] = []
    rest: list[_Section] = []
    for section in contents.sections:
        title = display_line(section.title)
        for part, wanted in ((in_email, True), (rest, False)):
            cards = tuple(_card(i, papers.get(i.paper_id), settings, token) for i in section.items if i.shown == wanted)
            if cards:
                part.append(_Section(title, section.kind, cards))
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
    found = _contents(c.store, c.settings, user.id, str(data.data.get("d", "")))
    if found is None:
        return _error(request, 404, "No such digest", "No digest was sent for this period.")
    subject, contents = found
    if contents is None:
        return _error(request, 410, "Digest page not kept",
                      "This digest was sent before digest pages were kept: its email is all there is of it.")
    if not contents.paper_ids:
        return _error(request, 404, "No papers", "This digest has no papers.")
    papers = _current_papers(c.store, contents.paper_ids)
    in_email, rest = _sections(contents, papers, c.settings, request.path_params["token"])
    return _page(request, "digest.html", title=subject, heading=display_line(subject), day=display_line(contents.day),
                 greeting=display_line(user.name or ""), sections=in_email, more_sections=rest,
                 shown=sum(len(s.cards) for s in in_email), more=sum(len(s.cards) for s in rest),
                 more_anchor=MORE_ANCHOR)
