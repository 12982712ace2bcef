"""`match_new`: watermark, idempotence, crash mid-run, topic tags, tag subscriptions, muted authors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eval_papers import eval_records

from digest.config import TagSettings
from digest.match.document import Document
from digest.match.run import load_stats, match_new
from digest.match.score import DEFAULT_THRESHOLD, compile_query
from digest.match.stats import CorpusStats
from digest.store import Store


def _setup(store: Store) -> dict[str, int]:
    store.ingest_records("eval", eval_records())
    ada = store.upsert_user("ada@example.org")
    bob = store.upsert_user("bob@example.org")
    return {
        "kd": store.add_subscription(ada.id, "kd", query="knowlege distilation").id,
        "gan": store.add_subscription(bob.id, "gan", query="GAN", threshold=2.0).id,
        "fed": store.add_subscription(bob.id, "fed", query="federated learning").id,
    }


def _rows(store: Store) -> set[tuple[str, str, float, int]]:
    return {(m.subscription, m.paper_id, round(m.score, 6), m.seq) for m in store.matches()}


def test_matches_equal_brute_force_and_rerun_adds_nothing(store: Store) -> None:
    subs = _setup(store)
    run = match_new(store)
    assert run.events == store.max_seq() > 400
    assert run.watermark_to == store.get_watermark("match") == store.max_seq()
    # One batch: every paper was scored with the statistics of the whole corpus, so brute force
    # (every query on every paper) is the oracle.
    papers = list(store.iter_papers())
    stats = CorpusStats.from_documents(Document.from_paper(p) for p in papers)
    expected = set()
    for name, text, threshold in (("kd", "knowlege distilation", DEFAULT_THRESHOLD), ("gan", "GAN", 2.0),
                                  ("fed", "federated learning", DEFAULT_THRESHOLD)):
        q = compile_query(text)
        for p in papers:
            r = q.evaluate(Document.from_paper(p), stats)
            if r is not None and r.score >= threshold:
                expected.add((name, p.id))
    assert {(m.subscription, m.paper_id) for m in store.matches()} == expected
    assert run.matches == len(expected)
    by_sub = {name: {m.paper_id for m in store.matches(subscription=sid)} for name, sid in subs.items()}
    assert "arxiv:2505.11897" in by_sub["kd"]  # FiGKD: Fine-Grained Knowledge Distillation, despite the typos
    assert "arxiv:2504.05615" in by_sub["fed"]  # FedEFC: Federated Learning ...
    assert by_sub["gan"] and all("GAN" in p.title + p.abstract or "dversarial" in p.title + p.abstract
                                 for p in store.papers_by_ids(by_sub["gan"]).values())
    before = _rows(store)
    again = match_new(store)
    assert (again.events, again.matches, again.paper_tags) == (0, 0, 0)
    assert _rows(store) == before


def test_crash_mid_run_redoes_one_batch(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(store)
    calls = {"n": 0}
    real = store.save_matches

    def crash_on_third(rows: Any, **kw: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        return real(rows, **kw)

    monkeypatch.setattr(store, "save_matches", crash_on_third)
    with pytest.raises(RuntimeError):
        match_new(store, batch=100)
    # Two batches committed with their watermark; the third rolled back entirely.
    done = store.get_watermark("match")
    assert done == store.papers_after(0, limit=200)[-1][0]
    assert all(m.seq <= done for m in store.matches())
    assert store.load_corpus_stats()[1] == done
    monkeypatch.setattr(store, "save_matches", real)
    resumed = match_new(store, batch=100)
    assert resumed.watermark_from == done and resumed.watermark_to == store.max_seq()

    clean = Store.open(f"sqlite:///{tmp_path / 'clean.db'}")
    try:
        _setup(clean)
        match_new(clean, batch=100)
        assert _rows(store) == _rows(clean)
        assert store.tag_counts() == clean.tag_counts()
    finally:
        clean.close()


def test_topic_tags_source_tags_and_tag_subscriptions(store: Store) -> None:
    store.ingest_records("eval", eval_records())
    store.sync_tags([TagSettings(name="federated", query="federated learning"),
                     TagSettings(name="speech", query='"speech recognition" OR ASR')])
    ada = store.upsert_user("ada@example.org")
    store.add_subscription(ada.id, "fed-tag", kind="tag", query="federated")
    # kw: sees topic tags: this query can only match through the "speech" tag.
    store.add_subscription(ada.id, "speech-kw", query="kw:speech")
    match_new(store)
    counts = dict(store.tag_counts())
    assert counts["federated"] >= 10
    assert counts["math.CO"] >= 1  # a source category of a Kaggle-snapshot paper
    fed_papers = set(store.papers_with_tag("federated"))
    assert {m.paper_id for m in store.matches(subscription="ada@example.org/fed-tag")} == fed_papers
    assert all(m.explanation["kind"] == "tag" for m in store.matches(subscription="ada@example.org/fed-tag"))
    speech = set(store.papers_with_tag("speech"))
    assert speech and {m.paper_id for m in store.matches(subscription="ada@example.org/speech-kw")} >= speech
    assert "arxiv:2307.14132" in speech  # CIF-T ... for Automatic Speech Recognition


def test_muted_author_drops_papers_for_that_user_only(store: Store) -> None:
    store.ingest_records("eval", eval_records())
    ada = store.upsert_user("ada@example.org")
    bob = store.upsert_user("bob@example.org")
    for u in (ada, bob):
        store.add_subscription(u.id, "fed", query="federated learning")
    store.mute_author(ada.id, "Lorenzo Valerio")  # an author of FedQUIT (2408.07587)
    match_new(store)
    assert "arxiv:2408.07587" in {m.paper_id for m in store.matches(user=bob.id)}
    assert "arxiv:2408.07587" not in {m.paper_id for m in store.matches(user=ada.id)}


def test_paused_and_broken_subscriptions(store: Store) -> None:
    store.ingest_records("eval", eval_records()[:50])
    ada = store.upsert_user("ada@example.org")
    store.add_subscription(ada.id, "paused", query="learning", paused=True)
    store.add_subscription(ada.id, "broken", query='"unclosed')
    run = match_new(store)
    assert run.events == 50 and store.matches() == []
    assert [name for name, _ in run.skipped] == ["ada@example.org/broken"]


def test_statistics_without_saved_ones_come_from_the_newest_papers(store: Store,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With no statistics saved (a bulk import before the first match) they are counted over the
    newest STATS_SAMPLE papers by ingest sequence, at or below ``up_to`` when given; saved
    statistics are used as they are."""
    store.ingest_records("eval", eval_records())
    monkeypatch.setattr("digest.match.run.STATS_SAMPLE", 25)
    newest = store.newest_papers(25)
    assert load_stats(store) == CorpusStats.from_documents(Document.from_paper(p) for p in newest)
    assert load_stats(store, up_to=10) == CorpusStats.from_documents(
        Document.from_paper(p) for p in store.newest_papers(25, up_to=10))
    assert load_stats(store, up_to=10).doc_count == 10 and load_stats(store, up_to=0).doc_count == 0
    match_new(store)
    saved = load_stats(store)
    assert saved.doc_count == len(eval_records()) and saved == load_stats(store, up_to=10)
