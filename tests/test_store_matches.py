"""Stored matches, watermarks, paper tags and corpus statistics, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from digest.errors import NotFoundError
from digest.store import Store
from digest.store.matches import NewMatch, NewPaperTag
from digest.store.schema import PaperRow


def _paper(store: Store, pid: str) -> None:
    with store.write() as conn:
        conn.execute(PaperRow.__table__.insert().values(
            id=pid, title=pid, title_key=pid, first_author_key="", authors=[], abstract="", categories=[],
            keywords=[], first_seen=datetime(2026, 1, 1, tzinfo=timezone.utc), seq=0))


@pytest.fixture
def two_subs(store: Store) -> tuple[int, int]:
    for pid in ("arxiv:2501.00001", "arxiv:2501.00002", "arxiv:2501.00003"):
        _paper(store, pid)
    a = store.upsert_user("a@example.org")
    b = store.upsert_user("b@example.org")
    return (store.add_subscription(a.id, "llm", query="llm").id, store.add_subscription(b.id, "llm", query="gpt").id)


def test_save_matches_is_idempotent_and_keeps_best(store: Store, two_subs: tuple[int, int]) -> None:
    """A match takes the score and explanation of its paper's newest event (a new version scoring
    lower still reaches the digests, and its explanation's spans index the text the paper has now);
    rows of one event keep the best; saving the same rows again changes nothing."""
    s1, s2 = two_subs
    rows = [NewMatch(s1, "arxiv:2501.00001", 3.0, {"clauses": ["a"]}, 5),
            NewMatch(s1, "arxiv:2501.00002", 1.5, {}, 6),
            NewMatch(s2, "arxiv:2501.00001", 2.0, {}, 5)]
    assert store.save_matches(rows) == 3
    assert store.save_matches(rows) == 0
    worse = [NewMatch(s1, "arxiv:2501.00001", 1.0, {"clauses": ["worse"]}, 9)]
    assert store.save_matches(worse) == 1
    assert store.save_matches(worse) == 0
    moved = store.matches(subscription=s1, since_seq=8)
    assert [(m.score, m.seq, m.explanation) for m in moved] == [(1.0, 9, {"clauses": ["worse"]})]
    assert store.save_matches(rows) == 0  # an older event does not move it back
    assert store.save_matches([NewMatch(s1, "arxiv:2501.00001", 4.0, {"clauses": ["better"]}, 9)]) == 1
    got = store.matches(subscription=s1)
    assert [(m.paper_id, m.score, m.seq) for m in got] == [("arxiv:2501.00002", 1.5, 6), ("arxiv:2501.00001", 4.0, 9)]
    assert got[1].explanation == {"clauses": ["better"]}
    assert got[1].user_email == "a@example.org" and got[1].subscription == "llm"
    assert store.match_count() == 3


def test_one_batch_with_two_events_of_a_paper_keeps_the_newer(store: Store, two_subs: tuple[int, int]) -> None:
    """Two events of one paper in one batch (v1 and v2 matched together) store v2's row, even when v1
    scored higher; of two rows of one event, the higher score."""
    s1, _ = two_subs
    assert store.save_matches([NewMatch(s1, "arxiv:2501.00001", 3.0, {"v": 1}, 5),
                               NewMatch(s1, "arxiv:2501.00001", 1.0, {"v": 2}, 7),
                               NewMatch(s1, "arxiv:2501.00002", 1.0, {"low": 1}, 6),
                               NewMatch(s1, "arxiv:2501.00002", 2.0, {"high": 1}, 6)]) == 2
    got = {m.paper_id: (m.score, m.seq, m.explanation) for m in store.matches(subscription=s1)}
    assert got == {"arxiv:2501.00001": (1.0, 7, {"v": 2}), "arxiv:2501.00002": (2.0, 6, {"high": 1})}


def test_matches_filters(store: Store, two_subs: tuple[int, int]) -> None:
    s1, s2 = two_subs
    store.save_matches([NewMatch(s1, "arxiv:2501.00001", 3.0, {}, 1), NewMatch(s1, "arxiv:2501.00002", 2.0, {}, 2),
                        NewMatch(s1, "arxiv:2501.00003", 5.0, {}, 2), NewMatch(s2, "arxiv:2501.00003", 1.0, {}, 3)])
    assert len(store.matches()) == 4
    assert {m.subscription_id for m in store.matches(user="b@example.org")} == {s2}
    assert [m.paper_id for m in store.matches(user="a@example.org", subscription="llm")] == [
        "arxiv:2501.00001", "arxiv:2501.00003", "arxiv:2501.00002"]
    assert [m.seq for m in store.matches(since_seq=1, until_seq=2)] == [2, 2]
    assert len(store.matches(limit=2)) == 2
    assert store.matches(newest_first=True)[0].seq == 3
    assert [m.subscription_id for m in store.matches(subscription="b@example.org/llm")] == [s2]
    with pytest.raises(NotFoundError):  # two users have a subscription named "llm"
        store.matches(subscription="llm")
    with pytest.raises(NotFoundError):
        store.matches(user="nobody@example.org")


def test_watermarks(store: Store) -> None:
    assert store.get_watermark("match") == 0
    store.set_watermark("match", 10)
    store.set_watermark("match", 12)
    with store.write() as conn:
        store.set_watermark("tags", 3, conn=conn)
        assert store.get_watermark("tags", conn=conn) == 3
    assert (store.get_watermark("match"), store.get_watermark("tags")) == (12, 3)


def test_watermark_rolls_back_with_its_transaction(store: Store, two_subs: tuple[int, int]) -> None:
    s1, _ = two_subs
    with pytest.raises(RuntimeError):
        with store.write() as conn:
            store.save_matches([NewMatch(s1, "arxiv:2501.00001", 1.0, {}, 1)], conn=conn)
            store.set_watermark("match", 1, conn=conn)
            raise RuntimeError("crash")
    assert store.get_watermark("match") == 0 and store.match_count() == 0


def test_paper_tags_and_counts(store: Store, two_subs: tuple[int, int]) -> None:
    store.upsert_tag("empty", "nothing", origin="config")
    ids = store.ensure_tags([("cs.LG", "cat:cs.LG"), ("diffusion", 'kw:"diffusion"')])
    assert ids == store.ensure_tags([("cs.LG", "cat:cs.LG"), ("diffusion", 'kw:"diffusion"')])
    rows = [NewPaperTag(ids["cs.LG"], "arxiv:2501.00001", 1.0, {}), NewPaperTag(ids["cs.LG"], "arxiv:2501.00002", 1.0, {}),
            NewPaperTag(ids["diffusion"], "arxiv:2501.00002", 2.0, {})]
    assert store.save_paper_tags(rows) == 3
    assert store.save_paper_tags(rows) == 0
    assert store.tag_counts() == [("cs.LG", 2), ("diffusion", 1), ("empty", 0)]
    assert store.paper_tags("arxiv:2501.00002") == ["cs.LG", "diffusion"]
    assert sorted(store.papers_with_tag("cs.LG")) == ["arxiv:2501.00001", "arxiv:2501.00002"]
    assert {t.origin for t in store.list_tags() if t.name != "empty"} == {"source"}


def test_corpus_stats_roundtrip(store: Store) -> None:
    assert store.load_corpus_stats() == (None, 0)
    data = {"n": 2, "df": {"diffus": 1, "überall": 2}}
    store.save_corpus_stats(data, 7)
    store.save_corpus_stats({**data, "n": 3}, 9)
    assert store.load_corpus_stats() == ({**data, "n": 3}, 9)
