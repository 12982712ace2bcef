"""`digest send`: build every digest that is due, record it in the outbox, deliver the outbox.

For each active user and each period (daily, weekly) whose send instant has come
(:mod:`digest.digests.periods`) and that has no outbox row yet: select (:func:`build_digest`, every
item), cap it for the email (:func:`cap_digest`), render (:func:`digest.render.email.render_email`),
build the message bytes once (:func:`digest.render.message.build_message`) and enqueue them with the
papers, the new watermark and what the digest held (its sections and every item, those the email had
no room for included: :mod:`digest.digests.record`, for the digest's web page) in one transaction
per digest (many digests share one commit). Then the outbox is drained
(:func:`digest.deliver.outbox.deliver_pending`), or, in a large run, drained by a child process
while the digests are still being built. Every
step is idempotent: running it twice, or in two processes at once, sends each digest once.

Matching first: ``send_due(match_first=True)`` (what `digest send` does) runs the matcher over new
papers before selecting, so an operator who runs it by hand gets every paper ingested so far. The
scheduler runs matching as its own job and passes ``match_first=False``. A dry run changes nothing
at all (no matching, no outbox row, no watermark): it reports what the stored matches would give.

An empty digest is not sent unless the user asked for it (``send_empty``); its period is still
recorded (status "empty") so it is not reconsidered until the next period.

Each paper goes to a user once: a paper matched by a daily and a weekly alert of one user, both due
in the same run, goes in the digest built first; the second is built knowing what the first took
(``sent_in_run`` of :func:`build_digest`), since neither is recorded before the batch is.

One recipient whose message cannot be built (an address that needs SMTPUTF8, a domain that is no
domain name) stops no one else: that digest is recorded "failed" with the reason (`digest status`)
and its watermark stays, so nothing is lost once the cause is fixed.

Public: :class:`SendReport`, :class:`Planned`, :func:`send_due`, :func:`render_digest`,
:func:`message_bytes`, :func:`outbox_row`, :func:`record_contents`, :func:`preview`, :func:`preview_contents`,
:data:`ENQUEUE_BATCH`, :data:`BACKGROUND_FROM`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from digest.config import Settings
from digest.deliver.outbox import BackgroundDelivery, DeliveryRun, deliver_pending
from digest.deliver.smtp import envelope_sender
from digest.digests.periods import PERIODS, DuePeriod, after_last_digest, due_periods, next_to_send
from digest.digests.record import contents_of
from digest.digests.select import MATCH_WATERMARK, build_digest, cap_digest
from digest.models import Digest, Subscription, User
from digest.render.email import RenderCache, RenderedEmail, digest_day, render_email
from digest.render.message import build_message, list_id_for, message_id_for
from digest.store.outbox import Enqueue

log = logging.getLogger(__name__)

#: Digests recorded per transaction (:meth:`digest.store.Store.enqueue_digests`).
ENQUEUE_BATCH = 100
#: From this many due digests on, delivery runs alongside enqueueing; below it, starting a process
#: costs more than it saves.
BACKGROUND_FROM = 500
#: Subscription channels that mean email digests.
_EMAIL_CHANNELS = ("email", "both")


@dataclass(frozen=True, slots=True)
class Planned:
    """One due digest and what became of it."""

    user_email: str
    period: str
    period_key: str
    papers: int
    subject: str
    #: enqueued | empty | failed | already | dry-run
    outcome: str
    outbox_id: int | None = None
    #: why the message could not be built (outcome "failed")
    error: str | None = None


@dataclass
class SendReport:
    planned: list[Planned] = field(default_factory=list)
    delivery: DeliveryRun | None = None
    matched: int | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for p in self.planned if p.outcome == outcome)


def _mail_domain(settings: Settings) -> str:
    address = envelope_sender(settings)
    return address.rpartition("@")[2] or "localhost"


def render_digest(digest: Digest, user: User, settings: Settings, *,
                  cache: RenderCache | None = None) -> RenderedEmail:
    return render_email(digest, settings=settings, user_feed_token=user.feed_token,
                        generation=user.token_generation, cache=cache)


def message_bytes(digest: Digest, rendered: RenderedEmail, user: User, settings: Settings, *,
                  now: datetime) -> tuple[str, bytes]:
    """(Message-ID, the complete message). The id depends only on user and period (RFC 5322 §3.6.4).

    Bodies are 8bit where their lines allow (RFC 6152); the SMTP transport re-encodes them for a
    server without 8BITMIME (:func:`digest.render.message.seven_bit`)."""
    domain = _mail_domain(settings)
    message_id = message_id_for(user.id, digest.period, digest.period_key, domain)
    data = build_message(rendered=rendered, sender=settings.smtp.from_, recipient=(user.name, user.email),
                         message_id=message_id, date=now, list_id=list_id_for(digest.period, domain),
                         unsubscribe_https=rendered.unsubscribe_https, unsubscribe_mailto=rendered.unsubscribe_mailto,
                         eight_bit=True)
    return message_id, data


def record_contents(digest: Digest, rendered: RenderedEmail) -> dict[str, Any]:
    """What the outbox keeps of ``digest`` (every item, uncapped) whose email is ``rendered``
    (:func:`digest.digests.record.contents_of`): the digest's web page lists it."""
    return contents_of(digest.sections, rendered.paper_ids, day=digest_day(digest))


def _no_papers(digest: Digest) -> dict[str, Any]:
    """The recorded contents of a digest that sent no paper (recorded empty, or failed)."""
    return contents_of((), (), day=digest_day(digest))


def outbox_row(digest: Digest, user: User, settings: Settings, *, now: datetime,
               cache: RenderCache | None = None) -> tuple[Planned, Enqueue]:
    """Render ``digest`` (built with every item it selected: its email shows the first
    :data:`~digest.digests.select.MAX_ITEMS` at most, :func:`cap_digest`) and build what
    :meth:`~digest.store.Store.enqueue_digests` records for it, its contents included.

    An empty digest the user did not ask for gets a row without a message (status "empty"). A
    message that cannot be built (:func:`digest.render.message.build_message` refuses a value) gets
    a "failed" row with the reason and no papers, leaving the watermark where it was. Neither sent
    any paper: their recorded contents have none."""
    if not digest.items and not user.send_empty:
        return (Planned(user.email, digest.period, digest.period_key, 0, "", "empty"),
                Enqueue(user.id, digest.period, digest.period_key, "", "", user.email, None, (),
                        digest.seq_from, digest.seq_to, contents=_no_papers(digest)))
    capped = cap_digest(digest)
    try:
        rendered = render_digest(capped, user, settings, cache=cache)
        message_id, data = message_bytes(capped, rendered, user, settings, now=now)
    except ValueError as exc:
        reason = f"not built: {exc}"
        log.warning("digest %s %s for %s %s", digest.period, digest.period_key, user.email, reason)
        return (Planned(user.email, digest.period, digest.period_key, 0, "", "failed", error=reason),
                Enqueue(user.id, digest.period, digest.period_key, "", "", user.email, None, (),
                        digest.seq_from, digest.seq_from, error=reason, contents=_no_papers(digest)))
    versions = {i.paper.id: i.paper.version for i in capped.items}
    ids = rendered.paper_ids
    return (Planned(user.email, digest.period, digest.period_key, len(ids) + rendered.more_count, rendered.subject,
                    "enqueued"),
            Enqueue(user.id, digest.period, digest.period_key, message_id, rendered.subject, user.email, data, ids,
                    digest.seq_from, digest.seq_to, tuple(versions.get(p) for p in ids),
                    contents=record_contents(digest, rendered)))


def _build(store: Any, user: User, due: DuePeriod, now: datetime, context: dict[str, Any]) -> Digest:
    """The due digest with every item it selects (:func:`outbox_row` caps it for the email)."""
    return build_digest(store, user, due.period, due.key, now=now, start=due.start, end=due.end, max_items=None,
                        **context)


def _first_subscribed(subscriptions: list[Subscription]) -> dict[str, datetime]:
    """period -> when the first of these subscriptions delivering that period by email was made: no
    digest is due for a period that ended before it (:func:`digest.digests.periods.due_periods`)."""
    first: dict[str, datetime] = {}
    for sub in subscriptions:
        if sub.channel in _EMAIL_CHANNELS and sub.created is not None:
            first[sub.every] = min(first.get(sub.every, sub.created), sub.created)
    return first


class _RunPicks:
    """The papers (id -> version) each digest built so far in this run sends, per user and period:
    none is recorded in ``sent_papers`` before its batch is, and a user's other digest of the run
    must not send them again."""

    def __init__(self) -> None:
        self._picks: dict[int, dict[str, dict[str, int | None]]] = defaultdict(dict)

    def note(self, digest: Digest, paper_ids: tuple[str, ...]) -> None:
        # Replaces what an earlier build of the same digest took (it is built again when another
        # run moved its watermark).
        versions = {i.paper.id: i.paper.version for i in digest.items}
        self._picks[digest.user_id][digest.period] = {pid: versions.get(pid) for pid in paper_ids}

    def of_others(self, user_id: int, period: str) -> dict[str, int | None]:
        """What the user's digests of the run for other periods take."""
        taken: dict[str, int | None] = {}
        for other, papers in self._picks[user_id].items():
            if other != period:
                taken.update(papers)
        return taken


def _dry_run(store: Any, settings: Settings, user: User, due: DuePeriod, *, now: datetime, cache: RenderCache,
             context: dict[str, Any], picks: _RunPicks) -> Planned:
    digest = _build(store, user, due, now, context)
    if not digest.items and not user.send_empty:
        return Planned(user.email, due.period, due.key, 0, "", "dry-run")
    rendered = render_digest(cap_digest(digest), user, settings, cache=cache)
    picks.note(digest, rendered.paper_ids)
    return Planned(user.email, due.period, due.key, len(rendered.paper_ids) + rendered.more_count, rendered.subject,
                   "dry-run")


def _settle(store: Any, planned: Planned, oid: int | None, user: User, due: DuePeriod) -> Planned | None:
    """The outcome of one enqueue; None when the watermark moved meanwhile (build again)."""
    if oid is not None:
        return replace(planned, outbox_id=oid)
    if store.outbox_keys([(user.id, due.period, due.key)]):
        return replace(planned, outcome="already")
    return None


def _enqueue_one(store: Any, settings: Settings, user: User, due: DuePeriod, *, now: datetime,
                 cache: RenderCache, context: dict[str, Any], picks: _RunPicks) -> Planned:
    # Two tries: a None from enqueue without an outbox row means another run moved the watermark
    # between our build and our enqueue; building again from the new watermark is then correct.
    for _ in range(2):
        digest = _build(store, user, due, now, context)
        planned, row = outbox_row(digest, user, settings, now=now, cache=cache)
        settled = _settle(store, planned, store.enqueue_digests([row], now=now)[0], user, due)
        picks.note(digest, row.paper_ids)
        if settled is not None:
            return settled
    log.warning("digest %s %s for %s: watermark kept moving; left for the next run", due.period, due.key, user.email)
    return Planned(user.email, due.period, due.key, 0, "", "already")


def send_due(store: Any, settings: Settings, *, now: datetime, dry_run: bool = False, match_first: bool = True,
             deliver: bool = True, users: list[User] | None = None) -> SendReport:
    """Build, enqueue and deliver every digest due at ``now``; see the module doc.

    Digests are recorded :data:`ENQUEUE_BATCH` per transaction. From :data:`BACKGROUND_FROM` due
    digests on (and with a database other processes can open), delivery runs in a child process
    while the rest are still being built (:class:`digest.deliver.outbox.BackgroundDelivery`).
    """
    report = SendReport()
    if match_first and not dry_run:
        from digest.match.run import match_new

        report.matched = match_new(store).matches
    users = users if users is not None else store.list_users(active_only=True)
    periods_of: dict[int, set[str]] = defaultdict(set)
    subs_of: dict[int, list[Any]] = defaultdict(list)
    for sub in store.list_subscriptions(active_only=True):
        subs_of[sub.user_id].append(sub)
        if sub.channel in _EMAIL_CHANNELS:
            periods_of[sub.user_id].add(sub.every)
    wanted = [due for u in users
              for due in due_periods(u, now, PERIODS, subscribed=_first_subscribed(subs_of[u.id]))
              if due.period in periods_of[u.id]]
    done = store.outbox_keys((d.user_id, d.period, d.key) for d in wanted)
    todo = [due for due in wanted if (due.user_id, due.period, due.key) not in done]
    last = store.last_recorded({d.user_id for d in todo})
    todo = [due for due in todo if after_last_digest(due, last.get((due.user_id, due.period)))]
    by_id = {u.id: u for u in users}
    # Shared by every digest of the run: one feed-health read, one matcher watermark, one render cache.
    feed_states = store.feed_states()
    match_seq = store.get_watermark(MATCH_WATERMARK)
    cache = RenderCache()
    picks = _RunPicks()

    def context_of(user: User, due: DuePeriod) -> dict[str, Any]:
        return {"subscriptions": subs_of[user.id], "feed_states": feed_states, "match_seq": match_seq,
                "sent_in_run": picks.of_others(user.id, due.period)}

    if dry_run:
        report.planned = [_dry_run(store, settings, by_id[d.user_id], d, now=now, cache=cache,
                                   context=context_of(by_id[d.user_id], d), picks=picks) for d in todo]
        return report

    def enqueue_all() -> None:
        for start in range(0, len(todo), ENQUEUE_BATCH):
            batch = []
            for due in todo[start:start + ENQUEUE_BATCH]:
                user = by_id[due.user_id]
                digest = _build(store, user, due, now, context_of(user, due))
                planned, row = outbox_row(digest, user, settings, now=now, cache=cache)
                picks.note(digest, row.paper_ids)
                batch.append((user, due, planned, row))
            ids = store.enqueue_digests([row for *_, row in batch], now=now)
            for (user, due, planned, _), oid in zip(batch, ids):
                settled = _settle(store, planned, oid, user, due)
                report.planned.append(settled if settled is not None else
                                      _enqueue_one(store, settings, user, due, now=now, cache=cache,
                                                   context=context_of(user, due), picks=picks))

    url = store.engine.url
    if deliver and len(todo) >= BACKGROUND_FROM and url.database not in (None, "", ":memory:"):
        with BackgroundDelivery(url.render_as_string(hide_password=False), settings, now=now,
                                workers=settings.delivery.connections) as background:
            enqueue_all()
            report.delivery = background.finish()
        return report
    enqueue_all()
    if deliver:
        report.delivery = deliver_pending(store, settings, now=now)
    return report


def _upcoming(store: Any, user: User, period: str, now: datetime) -> Digest:
    """The digest ``user`` gets next for ``period`` (see :func:`preview`), with every item it selects."""
    subscribed = _first_subscribed(store.list_subscriptions(user.id, active_only=True)).get(period)
    due = next_to_send(user, period, now, subscribed=subscribed,
                       last_recorded=store.last_recorded([user.id]).get((user.id, period)),
                       recorded=lambda d: bool(store.outbox_keys([(user.id, d.period, d.key)])))
    return build_digest(store, user, period, due.key, now=now, start=due.start, end=due.end, max_items=None)


def preview(store: Any, settings: Settings, user_ref: str | int, *, period: str = "daily",
            now: datetime) -> tuple[Digest, RenderedEmail]:
    """The digest and email ``user_ref`` would get next for ``period``; changes nothing.

    That is the latest period at ``now`` while its digest is still to be sent; once the outbox holds
    it (sent, or recorded empty or failed), or when it is not owed (it ends before the last digest
    recorded, or before the user's first subscription of ``period``), the next one that is
    (:func:`digest.digests.periods.next_to_send`), under that period's date: what arrived after the
    last digest goes out with the next, never under a date already sent."""
    user = store.get_user(user_ref)
    digest = cap_digest(_upcoming(store, user, period, now))
    return digest, render_digest(digest, user, settings)


def preview_contents(store: Any, settings: Settings, user_ref: str | int, *, period: str = "daily",
                     now: datetime) -> tuple[str, str, dict[str, Any]]:
    """(period key, subject, contents) of the digest :func:`preview` shows: what `digest send` would
    record for it if it went out now (:func:`record_contents`); changes nothing."""
    user = store.get_user(user_ref)
    whole = _upcoming(store, user, period, now)
    rendered = render_digest(cap_digest(whole), user, settings)
    return whole.period_key, rendered.subject, record_contents(whole, rendered)
