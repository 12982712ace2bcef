"""Users, subscriptions, topic tags, user labels and muted authors.

Rows carry an ``origin``: the config file owns the rows it created ("config") and re-applying it
updates or removes exactly those; rows made from the command line or the web are never touched by
a config sync.

Public (through :class:`digest.store.Store`): the methods of :class:`UserStore`.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, update

from digest.config import check_email
from digest.errors import ConflictError, NotFoundError
from digest.models import SUBSCRIPTION_KINDS, Subscription, Tag, User
from digest.store.base import MAX_ROW_ID, StoreBase, row_id, utcnow
from digest.store.schema import (MatchRow, MutedAuthorRow, PaperAliasRow, PaperRow, PaperTagRow, SubscriptionRow, TagRow,
                                  UserLabelRow, UserRow)
from digest.text import MutedAuthors, mute_key, narrower_mute

EVERY = ("daily", "weekly")
CHANNELS = ("email", "feed", "both")

UserRef = str | int
SubscriptionRef = str | int


def normalize_email(email: str) -> str:
    # Mail systems treat addresses case-insensitively in practice; one user per address.
    return email.strip().lower()


def _new_feed_token() -> str:
    return secrets.token_urlsafe(24)


def _user(row: Any) -> User:
    return User(id=row.id, email=row.email, name=row.name, timezone=row.timezone, hour=row.hour,
                weekday=row.weekday, feed_token=row.feed_token, token_generation=row.token_generation,
                origin=row.origin, active=row.active, send_empty=row.send_empty,
                show_updates=row.show_updates, created=row.created, unsubscribed=bool(row.unsubscribed))


def _subscription(row: Any, email: str) -> Subscription:
    return Subscription(id=row.id, user_id=row.user_id, user_email=email, name=row.name, kind=row.kind,
                        query=row.query, every=row.every, channel=row.channel, threshold=row.threshold,
                        paused=row.paused, origin=row.origin, created=row.created)


def _check_subscription(kind: str | None, every: str | None, channel: str | None, threshold: Any = None) -> None:
    if kind is not None and kind not in SUBSCRIPTION_KINDS:
        raise ValueError(f"subscription kind {kind!r} is not one of {', '.join(SUBSCRIPTION_KINDS)}")
    if every is not None and every not in EVERY:
        raise ValueError(f"every {every!r} is not one of {', '.join(EVERY)}")
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    if threshold is not None and not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
        raise ValueError(f"threshold {threshold!r} is not a finite number")


_U: Table = UserRow.__table__  # type: ignore[assignment]
_S: Table = SubscriptionRow.__table__  # type: ignore[assignment]
_T: Table = TagRow.__table__  # type: ignore[assignment]
_L: Table = UserLabelRow.__table__  # type: ignore[assignment]
_M: Table = MutedAuthorRow.__table__  # type: ignore[assignment]
_MATCHES: Table = MatchRow.__table__  # type: ignore[assignment]
_PT: Table = PaperTagRow.__table__  # type: ignore[assignment]
#: What a subscription's stored matches were found by: changing any of them makes them another query's results.
_MATCHED_BY = ("kind", "query", "threshold")
#: What a new user starts with, of what :meth:`UserStore.upsert_user` leaves as it was for a stored one.
_NEW_USER = {"timezone": "UTC", "hour": 7, "weekday": 0, "show_updates": False, "send_empty": False}


def _tag_spellings(conn: Connection, user_id: int, tag: str) -> list[str]:
    """How the user's labels spell ``tag``, ignoring case, first used first (none: not used yet)."""
    wanted = tag.strip().casefold()
    rows = conn.execute(select(_L.c.tag, func.min(_L.c.id)).where(_L.c.user_id == user_id)
                        .group_by(_L.c.tag).order_by(func.min(_L.c.id)))
    return [name for name, _ in rows if name.casefold() == wanted]


def _same_person(keys: list[str], name: str) -> list[str]:
    """Those of ``keys`` (muted keys of any form: "gates|s||s james", "lecun|y|yann", "lecun y") that
    stand for the person ``name`` names."""
    return [k for k in keys if MutedAuthors([k]).hides([name])]


class UserStore(StoreBase):
    # --- users ----------------------------------------------------------------------------------

    def _user_row(self, conn: Connection, ref: UserRef) -> Any:
        number = row_id(ref)
        if number is not None:
            row = conn.execute(select(_U).where(_U.c.id == number)).first() if 0 <= number <= MAX_ROW_ID else None
        else:
            row = conn.execute(select(_U).where(_U.c.email == normalize_email(str(ref)))).first()
        if row is None:
            raise NotFoundError("user", str(ref))
        return row

    def upsert_user(self, email: str, *, name: str | None = None, timezone: str | None = None,
                    hour: int | None = None, weekday: int | None = None, show_updates: bool | None = None,
                    send_empty: bool | None = None, origin: str = "cli", conn: Connection | None = None) -> User:
        """Create the user, or change what is given of a stored one (None: as it was, so what the
        user set on the web stays); the feed token survives updates.

        A new user gets their digest at 07:00 UTC (weekly ones on Monday), without an "Updated"
        section (``show_updates``) and only when something matched (``send_empty``). A stored user
        is made active again (a config user put back in the file), unless they unsubscribed
        themselves (:meth:`unsubscribe_user`): only they undo that.
        ValueError for an address digest cannot deliver to (:func:`digest.config.check_email`)."""
        if conn is None:
            with self.write() as c:
                return self.upsert_user(email, name=name, timezone=timezone, hour=hour, weekday=weekday,
                                        show_updates=show_updates, send_empty=send_empty, origin=origin, conn=c)
        email = check_email(normalize_email(email))
        given = {key: value for key, value in {"name": name, "timezone": timezone, "hour": hour, "weekday": weekday,
                                                "show_updates": show_updates, "send_empty": send_empty}.items()
                 if value is not None}
        existing = conn.execute(select(_U.c.id, _U.c.unsubscribed).where(_U.c.email == email)).first()
        if existing is None:
            conn.execute(_U.insert().values(email=email, feed_token=_new_feed_token(), token_generation=0,
                                            active=True, unsubscribed=False, origin=origin, created=utcnow(),
                                            **{**_NEW_USER, **given}))
        else:
            if origin == "config":  # the config file keeps the users it claimed
                given["origin"] = origin
            if not existing.unsubscribed:
                given["active"] = True
            if given:  # nothing at all for a user who unsubscribed, named without settings
                conn.execute(update(_U).where(_U.c.id == existing.id).values(**given))
        return _user(self._user_row(conn, email))

    def get_user(self, ref: UserRef) -> User:
        """By email (any case) or numeric id; NotFoundError otherwise."""
        with self.read() as conn:
            return _user(self._user_row(conn, ref))

    def user_by_feed_token(self, token: str) -> User:
        with self.read() as conn:
            row = conn.execute(select(_U).where(_U.c.feed_token == token)).first()
        if row is None or not row.active:
            raise NotFoundError("feed token", token[:4] + "…")
        return _user(row)

    def list_users(self, *, active_only: bool = False) -> list[User]:
        stmt = select(_U).order_by(_U.c.email)
        if active_only:
            stmt = stmt.where(_U.c.active.is_(True))
        with self.read() as conn:
            return [_user(r) for r in conn.execute(stmt)]

    def set_user_active(self, ref: UserRef, active: bool) -> User:
        """Start or stop the user's digests (an import, the web's "resume"). Active again also clears
        the mark of :meth:`unsubscribe_user`: the user chose to resume."""
        return self._set_user(ref, active=active, **({"unsubscribed": False} if active else {}))

    def unsubscribe_user(self, ref: UserRef) -> User:
        """The user unsubscribed from all digests themselves (a link in a digest): inactive, and
        marked so, so that re-applying the config (:meth:`upsert_user`, which ``digest init`` calls at
        every service start) does not subscribe them again. :meth:`set_user_active` undoes it."""
        return self._set_user(ref, active=False, unsubscribed=True)

    def set_delivery_time(self, ref: UserRef, *, timezone: str, hour: int, weekday: int) -> User:
        """Change when the user's digests go out, and nothing else: unlike :meth:`upsert_user` it
        does not make an unsubscribed user active again."""
        return self._set_user(ref, timezone=timezone, hour=hour, weekday=weekday)

    def set_digest_options(self, ref: UserRef, *, show_updates: bool, send_empty: bool) -> User:
        """Whether the user's digests get an "Updated" section and go out also when nothing matched;
        nothing else changes (an unsubscribed user stays so)."""
        return self._set_user(ref, show_updates=show_updates, send_empty=send_empty)

    def _set_user(self, ref: UserRef, **values: Any) -> User:
        """Set these columns of one user, and nothing else; the user as stored afterwards."""
        with self.write() as conn:
            row = self._user_row(conn, ref)
            conn.execute(update(_U).where(_U.c.id == row.id).values(**values))
            return _user(self._user_row(conn, row.id))

    def rotate_feed_token(self, ref: UserRef) -> str:
        """A new private-feed token; links with the old one stop working."""
        token = _new_feed_token()
        with self.write() as conn:
            row = self._user_row(conn, ref)
            conn.execute(update(_U).where(_U.c.id == row.id).values(feed_token=token))
        return token

    def bump_token_generation(self, ref: UserRef) -> int:
        """Revoke every signed link (unsubscribe, feedback, sign-in) issued so far."""
        with self.write() as conn:
            row = self._user_row(conn, ref)
            conn.execute(update(_U).where(_U.c.id == row.id).values(token_generation=row.token_generation + 1))
            return int(row.token_generation) + 1

    # --- subscriptions ----------------------------------------------------------------------------

    def _subscription_row(self, conn: Connection, ref: SubscriptionRef) -> tuple[Any, str]:
        """``ref`` is a numeric id or ``"USER_EMAIL/NAME"`` (the name may itself contain slashes)."""
        stmt = select(_S, _U.c.email).join(_U, _U.c.id == _S.c.user_id)
        number = row_id(ref)
        if number is not None:
            row = conn.execute(stmt.where(_S.c.id == number)).first() if 0 <= number <= MAX_ROW_ID else None
        else:
            email, sep, name = str(ref).partition("/")
            if not sep:
                raise NotFoundError("subscription", f"{ref} (use USER_EMAIL/NAME or an id)")
            row = conn.execute(stmt.where(_U.c.email == normalize_email(email), _S.c.name == name)).first()
        if row is None:
            raise NotFoundError("subscription", str(ref))
        return row, row.email

    def add_subscription(self, user: UserRef, name: str, *, kind: str = "query", query: str = "",
                         every: str = "daily", channel: str = "both", threshold: float | None = None,
                         paused: bool | None = None, origin: str = "cli", replace: bool = False,
                         conn: Connection | None = None) -> Subscription:
        """Create the subscription; ConflictError when the user has one of that name, unless
        ``replace`` (the config and an import say what a subscription is, whatever it was). A
        replaced subscription whose query changed forgets the old query's matches. ``paused`` None:
        a new subscription runs, a replaced one stays as it was (its unsubscribe link paused it).
        The config (``origin="config"``) never replaces a subscription someone else made: ConflictError.

        Query validation is the caller's job (``digest.match.score.validate_for_save``): the store
        does not know the query language.
        """
        if conn is None:
            with self.write() as c:
                return self.add_subscription(user, name, kind=kind, query=query, every=every, channel=channel,
                                             threshold=threshold, paused=paused, origin=origin, replace=replace,
                                             conn=c)
        _check_subscription(kind, every, channel, threshold)
        name = name.strip()
        if not name:
            raise ValueError("a subscription needs a name")
        urow = self._user_row(conn, user)
        values: dict[str, Any] = {"kind": kind, "query": query, "every": every, "channel": channel,
                                  "threshold": threshold, "origin": origin}
        if paused is not None:
            values["paused"] = paused
        existing = conn.execute(select(_S).where(_S.c.user_id == urow.id, _S.c.name == name)).first()
        if existing is None:
            conn.execute(_S.insert().values(user_id=urow.id, name=name, created=utcnow(), **{"paused": False, **values}))
        elif not replace or (origin == "config" and existing.origin != "config"):
            raise ConflictError(f"{urow.email} already has a subscription named {name!r}")
        else:
            if origin != "config":
                values.pop("origin")
            _forget_changed_matches(conn, existing, values)
            conn.execute(update(_S).where(_S.c.id == existing.id).values(**values))
        row, email = self._subscription_row(conn, f"{urow.email}/{name}")
        return _subscription(row, email)

    def update_subscription(self, ref: SubscriptionRef, **changes: Any) -> Subscription:
        """Change some of kind, query, every, channel, threshold, paused, name."""
        allowed = {"kind", "query", "every", "channel", "threshold", "paused", "name"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"cannot change {', '.join(sorted(unknown))} of a subscription")
        _check_subscription(changes.get("kind"), changes.get("every"), changes.get("channel"), changes.get("threshold"))
        if "name" in changes:
            changes["name"] = str(changes["name"]).strip()
            if not changes["name"]:
                raise ValueError("a subscription needs a name")
        with self.write() as conn:
            row, email = self._subscription_row(conn, ref)
            if "name" in changes and changes["name"] != row.name and conn.execute(
                    select(_S.c.id).where(_S.c.user_id == row.user_id, _S.c.name == changes["name"])).first():
                raise ConflictError(f"{email} already has a subscription named {changes['name']!r}")
            if changes:
                _forget_changed_matches(conn, row, changes)
                conn.execute(update(_S).where(_S.c.id == row.id).values(**changes))
            new, email = self._subscription_row(conn, row.id)
            return _subscription(new, email)

    def delete_subscription(self, ref: SubscriptionRef) -> None:
        """Remove the subscription and (by cascade) its stored matches."""
        with self.write() as conn:
            row, _ = self._subscription_row(conn, ref)
            conn.execute(delete(_S).where(_S.c.id == row.id))

    def get_subscription(self, ref: SubscriptionRef) -> Subscription:
        with self.read() as conn:
            row, email = self._subscription_row(conn, ref)
            return _subscription(row, email)

    def list_subscriptions(self, user: UserRef | None = None, *, active_only: bool = False,
                           kinds: Sequence[str] | None = None) -> list[Subscription]:
        """``active_only``: not paused and the user is active."""
        stmt = select(_S, _U.c.email).join(_U, _U.c.id == _S.c.user_id).order_by(_U.c.email, _S.c.name)
        if active_only:
            stmt = stmt.where(_S.c.paused.is_(False), _U.c.active.is_(True))
        if kinds is not None:
            stmt = stmt.where(_S.c.kind.in_(list(kinds)))
        with self.read() as conn:
            if user is not None:
                stmt = stmt.where(_S.c.user_id == self._user_row(conn, user).id)
            return [_subscription(r, r.email) for r in conn.execute(stmt)]

    # --- config sync ------------------------------------------------------------------------------

    def sync_config_users(self, users: Iterable[Any]) -> dict[str, int]:
        """Make config-origin users and subscriptions equal to ``users`` (``UserSettings`` values).

        Of a stored user, only the settings the file gives change (``UserSettings.given_settings``);
        a subscription renamed in the file with its query unchanged is renamed in place, keeping its
        matches and what was sent of it. A user dropped from the config is deactivated, not deleted:
        its history (sent papers, outbox) stays and putting it back restores it with the same feed
        token. Its config subscriptions go.
        """
        counts = {"users": 0, "subscriptions": 0, "deactivated": 0, "removed_subscriptions": 0}
        with self.write() as conn:
            seen: set[int] = set()
            for u in users:
                user = self.upsert_user(u.email, origin="config", conn=conn, **u.given_settings())
                seen.add(user.id)
                counts["users"] += 1
                rows = {r.name: r for r in conn.execute(select(_S).where(_S.c.user_id == user.id))}
                stored = {name: r.query for name, r in rows.items() if r.origin == "config" and r.kind == "query"}
                renamed = renamed_config_alerts(stored, {s.name.strip(): s.query for s in u.subscriptions})
                for new_name, old_name in renamed.items():
                    if new_name not in rows:  # else the user's own alert has the name: add_subscription refuses
                        conn.execute(update(_S).where(_S.c.id == rows[old_name].id).values(name=new_name))
                names = set()
                for s in u.subscriptions:
                    self.add_subscription(user.id, s.name, kind="query", query=s.query, every=s.every,
                                          channel=s.channel, threshold=s.threshold, origin="config", replace=True,
                                          conn=conn)
                    names.add(s.name.strip())
                    counts["subscriptions"] += 1
                gone = delete(_S).where(_S.c.user_id == user.id, _S.c.origin == "config")
                if names:
                    gone = gone.where(_S.c.name.not_in(sorted(names)))
                counts["removed_subscriptions"] += conn.execute(gone).rowcount or 0
            stale = [r.id for r in conn.execute(select(_U.c.id).where(_U.c.origin == "config", _U.c.active.is_(True)))
                     if r.id not in seen]
            if stale:
                conn.execute(update(_U).where(_U.c.id.in_(stale)).values(active=False))
                counts["removed_subscriptions"] += conn.execute(
                    delete(_S).where(_S.c.user_id.in_(stale), _S.c.origin == "config")).rowcount or 0
            counts["deactivated"] = len(stale)
        return counts

    # --- topic tags -------------------------------------------------------------------------------

    def upsert_tag(self, name: str, query: str, *, origin: str = "cli") -> Tag:
        with self.write() as conn:
            return self._upsert_tag(conn, name, query, origin)

    def _upsert_tag(self, conn: Connection, name: str, query: str, origin: str) -> Tag:
        """A tag whose query changes forgets what the old query found: the papers it tagged and the
        matches of the subscriptions following it (as :func:`_forget_changed_matches` does for a
        subscription). Re-tagging the stored papers is :func:`digest.match.tags.apply_tags`'s job."""
        name = name.strip()
        existing = conn.execute(select(_T.c.id, _T.c.query).where(_T.c.name == name)).first()
        if existing is None:
            conn.execute(_T.insert().values(name=name, query=query, origin=origin))
        else:
            if existing.query != query:
                followers = select(_S.c.id).where(_S.c.kind == "tag", _S.c.query == name)
                conn.execute(delete(_MATCHES).where(_MATCHES.c.subscription_id.in_(followers)))
                conn.execute(delete(_PT).where(_PT.c.tag_id == existing.id))
            conn.execute(update(_T).where(_T.c.id == existing.id).values(query=query, origin=origin))
        row = conn.execute(select(_T).where(_T.c.name == name)).one()
        return Tag(id=row.id, name=row.name, query=row.query, origin=row.origin)

    def sync_tags(self, tags: Iterable[Any]) -> dict[str, int]:
        """Make config-origin topic tags equal to ``tags`` (``TagSettings`` values); others stay."""
        with self.write() as conn:
            names = []
            for t in tags:
                self._upsert_tag(conn, t.name, t.query, "config")
                names.append(t.name.strip())
            gone = delete(_T).where(_T.c.origin == "config")
            if names:
                gone = gone.where(_T.c.name.not_in(names))
            removed = conn.execute(gone).rowcount or 0
        return {"tags": len(names), "removed": removed}

    def list_tags(self) -> list[Tag]:
        with self.read() as conn:
            return [Tag(id=r.id, name=r.name, query=r.query, origin=r.origin)
                    for r in conn.execute(select(_T).order_by(_T.c.name))]

    def get_tag(self, name: str) -> Tag:
        with self.read() as conn:
            r = conn.execute(select(_T).where(_T.c.name == name.strip())).first()
        if r is None:
            raise NotFoundError("tag", name)
        return Tag(id=r.id, name=r.name, query=r.query, origin=r.origin)

    def delete_tag(self, name: str) -> None:
        with self.write() as conn:
            if not conn.execute(delete(_T).where(_T.c.name == name.strip())).rowcount:
                raise NotFoundError("tag", name)

    # --- user labels ------------------------------------------------------------------------------

    def add_label(self, user: UserRef, tag: str, paper_id: str, polarity: int = 1) -> None:
        """Label a paper: +1 "more like this" under ``tag``, -1 "not relevant". Relabelling flips it."""
        if polarity not in (1, -1):
            raise ValueError("polarity is +1 (more like this) or -1 (not relevant)")
        tag = tag.strip()
        if not tag:
            raise ValueError("a tag needs a name")
        with self.write() as conn:
            urow = self._user_row(conn, user)
            # A paper combined into another is found by its old id (an alias), as every link to it is.
            found = (conn.execute(select(PaperRow.id).where(PaperRow.id == paper_id)).first()
                     or conn.execute(select(PaperAliasRow.paper_id).where(PaperAliasRow.alias == paper_id)).first())
            if found is None:
                raise NotFoundError("paper", paper_id)
            paper_id = found[0]
            # "LLM" and "llm" are one tag: a new label takes the spelling the user wrote first.
            tag = (_tag_spellings(conn, urow.id, tag) or [tag])[0]
            where = (_L.c.user_id == urow.id, _L.c.tag == tag, _L.c.paper_id == paper_id)
            if conn.execute(select(_L.c.id).where(*where)).first() is None:
                conn.execute(_L.insert().values(user_id=urow.id, tag=tag, paper_id=paper_id, polarity=polarity,
                                                created=utcnow()))
            else:
                conn.execute(update(_L).where(*where).values(polarity=polarity, created=utcnow()))

    def remove_label(self, user: UserRef, tag: str, paper_id: str) -> bool:
        with self.write() as conn:
            urow = self._user_row(conn, user)
            n = conn.execute(delete(_L).where(_L.c.user_id == urow.id, _L.c.tag.in_(_tag_spellings(conn, urow.id, tag)),
                                              _L.c.paper_id == paper_id)).rowcount
        return bool(n)

    def labels(self, user: UserRef, tag: str | None = None) -> list[tuple[str, int]]:
        """(paper_id, polarity) of the user's labels under ``tag`` (all tags when None), oldest first."""
        with self.read() as conn:
            urow = self._user_row(conn, user)
            stmt = select(_L.c.paper_id, _L.c.polarity).where(_L.c.user_id == urow.id).order_by(_L.c.id)
            if tag is not None:
                stmt = stmt.where(_L.c.tag.in_(_tag_spellings(conn, urow.id, tag)))
            return [(r.paper_id, int(r.polarity)) for r in conn.execute(stmt)]

    def all_labels(self, user: UserRef) -> list[tuple[str, str, int]]:
        """(tag, paper_id, polarity) of every label of the user, "not relevant" ones included, oldest first."""
        with self.read() as conn:
            urow = self._user_row(conn, user)
            stmt = select(_L.c.tag, _L.c.paper_id, _L.c.polarity).where(_L.c.user_id == urow.id).order_by(_L.c.id)
            return [(r.tag, r.paper_id, int(r.polarity)) for r in conn.execute(stmt)]

    def user_tags(self, user: UserRef) -> list[tuple[str, int]]:
        """The user's label names with the number of "more like this" papers under each."""
        with self.read() as conn:
            urow = self._user_row(conn, user)
            rows = conn.execute(select(_L.c.tag, func.count(), func.min(_L.c.id)).where(_L.c.user_id == urow.id,
                                                                                      _L.c.polarity > 0)
                                .group_by(_L.c.tag).order_by(func.min(_L.c.id)))
            # Spellings that differ only in case (stored apart before labels were matched so) are one
            # tag, under the spelling first used.
            counts: dict[str, tuple[str, int]] = {}
            for name, count, _ in rows:
                shown, total = counts.get(name.casefold(), (name, 0))
                counts[name.casefold()] = (shown, total + int(count))
            return sorted(counts.values())

    # --- muted authors ----------------------------------------------------------------------------

    def mute_author(self, user: UserRef, name: str) -> str:
        """Mute an author for this user; returns the key that stands for them (digest.text.mute_key:
        "lecun|y|yann|yann"). Muting a person already muted under another spelling adds nothing,
        unless that key names them with less (:func:`digest.text.narrower_mute`: "S. Gates", or
        "gates|s|" of an earlier form, does not hide "James Gates"): the new key is added beside it,
        and unmuting removes both."""
        key = mute_key(name)
        if not key:
            raise ValueError(f"{name!r} is not an author name")
        with self.write() as conn:
            urow = self._user_row(conn, user)
            same = _same_person(self._muted_keys(conn, urow.id), name)
            # A key of the same person already stands for them unless it names them with less than
            # the new name does ("S. Gates", or "gates|s|" of an earlier form, for "S. James Gates":
            # it does not hide "James Gates"; "S. Gates" for "Sarah Gates": unmuting S. James Gates
            # would unmute her): then the new key joins it.
            kept = [k for k in same if narrower_mute(key, k)]
            if kept:
                return kept[0]
            conn.execute(_M.insert().values(user_id=urow.id, author_key=key, created=utcnow()))
        return key

    def unmute_author(self, user: UserRef, name: str) -> bool:
        """Unmute the person ``name`` names, however they were written when muted."""
        with self.write() as conn:
            urow = self._user_row(conn, user)
            muted = self._muted_keys(conn, urow.id)
            keys = _same_person(muted, name)
            # With them, the narrower keys muting them again left beside them ("gates|s|" beside
            # "S. James Gates"), which the name alone may not reach ("James Gates").
            keys += [k for k in muted if k not in keys and any(narrower_mute(k, m) for m in keys)]
            if keys:
                conn.execute(delete(_M).where(_M.c.user_id == urow.id, _M.c.author_key.in_(keys)))
        return bool(keys)

    @staticmethod
    def _muted_keys(conn: Connection, user_id: int) -> list[str]:
        """The user's muted keys, first muted first."""
        return list(conn.execute(select(_M.c.author_key).where(_M.c.user_id == user_id).order_by(_M.c.id)).scalars())

    def muted_authors(self, user: UserRef) -> set[str]:
        """Keys of the authors the user muted (digest.text.mute_key; read them with digest.text.MutedAuthors)."""
        with self.read() as conn:
            urow = self._user_row(conn, user)
            return {r[0] for r in conn.execute(select(_M.c.author_key).where(_M.c.user_id == urow.id))}


def renamed_config_alerts(stored: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """New name -> stored name of the config alerts of one user the file renamed: a stored alert
    whose name the file no longer has, and a new name in the file with exactly its query. Both map
    alert names to queries; each stored alert is paired once, in the file's order."""
    gone = [name for name in stored if name not in wanted]
    renamed: dict[str, str] = {}
    for name, query in wanted.items():
        old = next((g for g in gone if stored[g] == query), None) if name not in stored else None
        if old is not None:
            gone.remove(old)
            renamed[name] = old
    return renamed


def _forget_changed_matches(conn: Connection, row: Any, changes: dict[str, Any]) -> None:
    """Drop a subscription's stored matches when what found them changes (its kind, query or
    threshold): they are the old query's results, and a digest must not deliver them under the new one."""
    if any(key in changes and changes[key] != getattr(row, key) for key in _MATCHED_BY):
        conn.execute(delete(_MATCHES).where(_MATCHES.c.subscription_id == row.id))
