"""Matches, paper tags, watermarks on the ingest sequence, and the matcher's corpus statistics.

Writes that must land together (a batch of matches, its paper tags, the corpus statistics and the
watermark) take an optional ``conn`` so the caller can put them in one transaction: that is what
makes ``digest match`` idempotent and crash-safe (a crash redoes at most the batch in flight).

Public (through :class:`digest.store.Store`): the methods of :class:`MatchStore` and the row tuples
:class:`NewMatch` and :class:`NewPaperTag`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, and_, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from digest.errors import NotFoundError
from digest.models import StoredMatch
from digest.store.base import MAX_ROW_ID, StoreBase, row_id, utcnow
from digest.store.schema import (CorpusStatsRow, MatchRow, PaperTagRow, SubscriptionRow, TagRow, UserRow,
                                 WatermarkRow)

_MATCH: Table = MatchRow.__table__  # type: ignore[assignment]
_PT: Table = PaperTagRow.__table__  # type: ignore[assignment]
_W: Table = WatermarkRow.__table__  # type: ignore[assignment]
_CS: Table = CorpusStatsRow.__table__  # type: ignore[assignment]
_S: Table = SubscriptionRow.__table__  # type: ignore[assignment]
_U: Table = UserRow.__table__  # type: ignore[assignment]
_T: Table = TagRow.__table__  # type: ignore[assignment]


class NewMatch(NamedTuple):
    subscription_id: int
    paper_id: str
    score: float
    explanation: dict[str, Any]
    seq: int


class NewPaperTag(NamedTuple):
    tag_id: int
    paper_id: str
    score: float
    explanation: dict[str, Any]


@lru_cache(maxsize=8)
def _keep_best_upsert(dialect: str, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    """The keep-best upsert of :meth:`MatchStore._upsert_keep_best` for rows of ``columns``, without
    values: executed with a list of rows, SQLAlchemy's "insertmanyvalues" sends them in multi-row
    batches from one compiled statement. A statement with the values inlined is compiled afresh for
    every batch (~8 s of a 20 s match of 1,500 papers against 10,000 subscriptions)."""
    ins: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    new = ins.excluded
    changed_when = new.score > table.c.score
    if "seq" in columns:
        changed_when = or_(new.seq > table.c.seq, and_(new.seq == table.c.seq, changed_when))
    updates: dict[str, Any] = {c: new[c] for c in columns if c not in keys and c != "created"}
    return (ins.on_conflict_do_update(index_elements=list(keys), set_=updates, where=changed_when)
            .returning(table.c.id))


class MatchStore(StoreBase):
    def _upsert_keep_best(self, conn: Connection, table: Table, keys: Sequence[str],
                          rows: list[dict[str, Any]]) -> int:
        """Insert rows; on a key conflict keep the best score, or, for rows with an ingest ``seq``
        (matches), the newest paper event's.

        Paper tags keep the higher score. A match row from a newer event (a new arXiv version, a
        changed abstract) replaces the stored one whatever it scores: its score and explanation
        describe the text the paper has now, and the explanation's spans index that text (the
        email highlights them). Rows of the same event keep the higher score. The ``seq`` moves to
        the newer event, so a new version that scores the same as the old one lifts its match above
        the digest watermarks and a digest can show it as updated (digest.digests.select). Returns
        how many rows were inserted or changed: 0 when re-running the same batch (matching stays
        idempotent).
        """
        if not rows:
            return 0
        with_seq = "seq" in rows[0]

        def replaces(row: dict[str, Any], known: dict[str, Any]) -> bool:
            if with_seq and row["seq"] != known["seq"]:
                return bool(row["seq"] > known["seq"])
            return bool(row["score"] > known["score"])

        # One key may appear twice in a batch (a paper with two events); PostgreSQL refuses to
        # update a row twice in one statement, so merge the rows of one key first, as the upsert does.
        best: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            key = tuple(row[k] for k in keys)
            known = best.get(key)
            if known is None or replaces(row, known):
                best[key] = row
        stmt = _keep_best_upsert(self.dialect, table, tuple(keys), tuple(rows[0]))
        # RETURNING lists inserted and updated rows only, on both backends: that count tells a
        # re-run (0) apart from new work; rowcount is not reliable here across drivers.
        return len(conn.execute(stmt, list(best.values())).all())

    # --- matches ----------------------------------------------------------------------------------

    def save_matches(self, rows: Iterable[NewMatch], *, conn: Connection | None = None) -> int:
        """Store (subscription, paper) matches idempotently; returns the number inserted or changed.

        One row per (subscription, paper): the newest event's, with that event's best score and its
        explanation (see :meth:`_upsert_keep_best`)."""
        if conn is None:
            with self.write() as c:
                return self.save_matches(rows, conn=c)
        now = utcnow()
        values = [{"subscription_id": r.subscription_id, "paper_id": r.paper_id, "score": float(r.score),
                   "explanation": r.explanation, "seq": r.seq, "created": now} for r in rows]
        return self._upsert_keep_best(conn, _MATCH, ("subscription_id", "paper_id"), values)

    def matches(self, user: str | int | None = None, subscription: str | int | None = None, *,
                since_seq: int | None = None, until_seq: int | None = None,
                limit: int | None = None, newest_first: bool = False) -> list[StoredMatch]:
        """Stored matches, in ingest order (best score first within one event).

        ``user`` is an email or id; ``subscription`` an id, ``"EMAIL/NAME"`` or, with ``user``, a
        bare name. ``since_seq`` is exclusive, ``until_seq`` inclusive (digest periods).
        """
        stmt = (select(_MATCH, _S.c.name.label("sub_name"), _S.c.user_id, _U.c.email)
                .join(_S, _S.c.id == _MATCH.c.subscription_id).join(_U, _U.c.id == _S.c.user_id))
        with self.read() as conn:
            if user is not None:
                stmt = stmt.where(_S.c.user_id == self._user_id(conn, user))
            if subscription is not None:
                stmt = stmt.where(_MATCH.c.subscription_id == self._subscription_id(conn, subscription, user))
            if since_seq is not None:
                stmt = stmt.where(_MATCH.c.seq > since_seq)
            if until_seq is not None:
                stmt = stmt.where(_MATCH.c.seq <= until_seq)
            if newest_first:
                stmt = stmt.order_by(_MATCH.c.seq.desc(), _MATCH.c.score.desc(), _MATCH.c.id)
            else:
                stmt = stmt.order_by(_MATCH.c.seq, _MATCH.c.score.desc(), _MATCH.c.id)
            if limit is not None:
                stmt = stmt.limit(limit)
            return [StoredMatch(id=r.id, user_id=r.user_id, user_email=r.email, subscription_id=r.subscription_id,
                                subscription=r.sub_name, paper_id=r.paper_id, score=r.score,
                                explanation=r.explanation or {}, seq=r.seq, created=r.created)
                    for r in conn.execute(stmt)]

    def match_count(self) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.count()).select_from(_MATCH)).scalar() or 0)

    def _user_id(self, conn: Connection, user: str | int) -> int:
        number = row_id(user)
        if number is not None:
            found = conn.execute(select(_U.c.id).where(_U.c.id == number)).scalar() if 0 <= number <= MAX_ROW_ID else None
        else:
            found = conn.execute(select(_U.c.id).where(_U.c.email == str(user).strip().lower())).scalar()
        if found is None:
            raise NotFoundError("user", str(user))
        return int(found)

    def _subscription_id(self, conn: Connection, ref: str | int, user: str | int | None) -> int:
        number, ref = row_id(ref), str(ref)
        if number is not None:
            where: Any = _S.c.id == number if 0 <= number <= MAX_ROW_ID else false()
        elif user is not None:
            where = and_(_S.c.user_id == self._user_id(conn, user), _S.c.name == ref)
        elif "/" in ref:
            email, _, name = ref.partition("/")
            where = and_(_S.c.user_id == self._user_id(conn, email), _S.c.name == name)
        else:
            # A bare name without a user: fine as long as exactly one user has it.
            ids = list(conn.execute(select(_S.c.id).where(_S.c.name == ref)).scalars())
            if len(ids) != 1:
                raise NotFoundError("subscription", f"{ref} (give USER_EMAIL/NAME or --user)" if ids else ref)
            return int(ids[0])
        found = conn.execute(select(_S.c.id).where(where)).scalar()
        if found is None:
            raise NotFoundError("subscription", str(ref))
        return int(found)

    # --- watermarks -------------------------------------------------------------------------------

    def get_watermark(self, name: str, *, conn: Connection | None = None) -> int:
        """Highest ingest sequence the named stage has finished (0 when it never ran)."""
        if conn is None:
            with self.read() as c:
                return self.get_watermark(name, conn=c)
        seq = conn.execute(select(_W.c.seq).where(_W.c.name == name)).scalar()
        return int(seq or 0)

    def set_watermark(self, name: str, seq: int, *, conn: Connection | None = None) -> None:
        if conn is None:
            with self.write() as c:
                return self.set_watermark(name, seq, conn=c)
        ins: Any = postgresql.insert(_W) if self.dialect == "postgresql" else sqlite.insert(_W)
        conn.execute(ins.values(name=name, seq=seq, updated=utcnow())
                     .on_conflict_do_update(index_elements=["name"],
                                            set_={"seq": ins.excluded.seq, "updated": ins.excluded.updated}))
        return None

    # --- paper tags -------------------------------------------------------------------------------

    def ensure_tags(self, tags: Iterable[tuple[str, str]], *, origin: str = "source",
                    conn: Connection | None = None) -> dict[str, int]:
        """Ids of the named tags, creating missing ones as ``(name, query)`` with ``origin``.

        Source categories and keywords become tags this way, so every tag (configured or from a
        source) is counted, listed and subscribed to the same way.
        """
        if conn is None:
            with self.write() as c:
                return self.ensure_tags(tags, origin=origin, conn=c)
        wanted = dict(tags)
        if not wanted:
            return {}
        ids: dict[str, int] = {}
        names = sorted(wanted)
        for i in range(0, len(names), 500):
            chunk = names[i:i + 500]
            ids.update({r.name: int(r.id) for r in conn.execute(select(_T.c.id, _T.c.name).where(_T.c.name.in_(chunk)))})
        for name in names:
            if name not in ids:
                ids[name] = int(conn.execute(_T.insert().values(name=name, query=wanted[name], origin=origin)
                                             .returning(_T.c.id)).scalar_one())
        return ids

    def save_paper_tags(self, rows: Iterable[NewPaperTag], *, conn: Connection | None = None) -> int:
        """Tag papers idempotently (keep the best score); returns the number inserted or improved."""
        if conn is None:
            with self.write() as c:
                return self.save_paper_tags(rows, conn=c)
        values = [{"tag_id": r.tag_id, "paper_id": r.paper_id, "score": float(r.score),
                   "explanation": r.explanation} for r in rows]
        return self._upsert_keep_best(conn, _PT, ("tag_id", "paper_id"), values)

    def tag_counts(self) -> list[tuple[str, int]]:
        """Every tag with its number of papers, most papers first (tags with none included)."""
        stmt = (select(_T.c.name, func.count(_PT.c.id)).select_from(_T.outerjoin(_PT, _PT.c.tag_id == _T.c.id))
                .group_by(_T.c.name).order_by(func.count(_PT.c.id).desc(), _T.c.name))
        with self.read() as conn:
            return [(r[0], int(r[1])) for r in conn.execute(stmt)]

    def paper_tags(self, paper_id: str) -> list[str]:
        stmt = (select(_T.c.name).join(_PT, _PT.c.tag_id == _T.c.id).where(_PT.c.paper_id == paper_id)
                .order_by(_T.c.name))
        with self.read() as conn:
            return list(conn.execute(stmt).scalars())

    def topic_tags_by_paper(self) -> dict[str, list[str]]:
        """Paper id -> the names of the ``[[tags]]`` queries that tagged it (not the tags sources
        give, which are the paper's own keywords): what matching adds to a paper's keywords."""
        stmt = (select(_PT.c.paper_id, _T.c.name).join(_T, _T.c.id == _PT.c.tag_id)
                .where(_T.c.origin != "source").order_by(_PT.c.paper_id, _T.c.name))
        found: dict[str, list[str]] = {}
        with self.read() as conn:
            for paper_id, name in conn.execute(stmt):
                found.setdefault(paper_id, []).append(name)
        return found

    def papers_with_tag(self, tag: str) -> list[str]:
        stmt = select(_PT.c.paper_id).join(_T, _T.c.id == _PT.c.tag_id).where(_T.c.name == tag)
        with self.read() as conn:
            return list(conn.execute(stmt).scalars())

    # --- corpus statistics ------------------------------------------------------------------------

    def load_corpus_stats(self, name: str = "default") -> tuple[dict[str, Any] | None, int]:
        """The saved statistics dict and the ingest sequence it covers, or (None, 0)."""
        with self.read() as conn:
            row = conn.execute(select(_CS.c.data, _CS.c.seq).where(_CS.c.name == name)).first()
        return (row.data, int(row.seq)) if row else (None, 0)

    def save_corpus_stats(self, data: dict[str, Any], seq: int, *, name: str = "default",
                          conn: Connection | None = None) -> None:
        if conn is None:
            with self.write() as c:
                return self.save_corpus_stats(data, seq, name=name, conn=c)
        ins: Any = postgresql.insert(_CS) if self.dialect == "postgresql" else sqlite.insert(_CS)
        conn.execute(ins.values(name=name, data=data, seq=seq, updated=utcnow())
                     .on_conflict_do_update(index_elements=["name"], set_={
                         "data": ins.excluded.data, "seq": ins.excluded.seq, "updated": ins.excluded.updated}))
        return None
