"""Heavy terms (digest.match.search_index.heavy_terms, migration 0007): search leaves out the papers
that mention a common word too lightly to reach the threshold, without evaluating them, and still
finds exactly what evaluating every stored paper finds, whatever the threshold, typo, filter, tag or
change since indexing. On both backends; generated corpora on SQLite."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.match import search_index
from digest.match.document import Document
from digest.match.run import load_stats, match_new
from digest.match.score import DEFAULT_THRESHOLD, compile_query
from digest.match.search import _hits, search
from digest.match.tags import apply_tags
from digest.models import PaperRecord
from digest.store import Store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
FILLER = "We study the structure of random objects and their limits in several regimes."
THRESHOLDS = (None, 0.5, 0.9, 1.2, 1.6, 2.1, 3.0)


def _paper(n: int, title: str, abstract: str, *, category: str = "math.CO") -> PaperRecord:
    arxiv_id = f"2411.{n:05d}"
    return PaperRecord("arxiv-rss", arxiv_id, arxiv_id=arxiv_id, version=1, title=title, abstract=abstract,
                       authors=(f"Author {n}",), categories=(category,), published=NOW)


def _lattice_corpus() -> list[PaperRecord]:
    """"lattice" in nearly every paper, mostly once in the abstract (which never reaches the threshold
    for a word that common), and, in a few, in the title or many times over; one "latice" typo."""
    papers = [_paper(i, f"Random objects {i}", f"A lattice appears. {FILLER}") for i in range(80)]
    papers += [_paper(100 + i, f"Lattice paths {i}", FILLER) for i in range(5)]
    papers += [_paper(200 + i, f"Counting {i}", f"{'The lattice grows. ' * (2 + i)}{FILLER}",
                      category="cs.LG" if i % 2 else "math.CO") for i in range(6)]
    papers += [_paper(300, "Counting again", f"Lattices and lattice models. {FILLER}"),
               _paper(301, "A typo", f"A latice and a lattice and a lattice. {FILLER}"),
               _paper(302, "Nothing here", FILLER)]
    return papers


def _found(store: Store, text: str, threshold: float | None) -> list[tuple[str, float]]:
    return [(h.paper.id, h.score) for h in search(store, text, threshold=threshold)]


def _everywhere(store: Store, text: str, threshold: float | None) -> list[tuple[str, float]]:
    return [(h.paper.id, h.score) for h in _hits(store, text, store.iter_papers(), threshold)]


def _candidates(store: Store, text: str, cutoff: float | None) -> set[str]:
    stats = load_stats(store)
    return {p.id for p in search_index.candidate_papers(store, compile_query(text, stats), stats,
                                                        store.topic_tags_by_paper(), cutoff=cutoff)}


def test_a_common_word_skips_the_papers_that_mention_it_lightly(store: Store) -> None:
    store.ingest_records("arxiv-rss", _lattice_corpus(), now=NOW)
    match_new(store)
    light = "arxiv:2411.00003"
    # Its document, as indexed, has "lattice" once in the abstract: posted, but not heavy.
    terms = search_index.document_terms(Document.from_paper(store.get_paper(light), batch=False))
    assert "t:lattic" in terms and not any(t.startswith("h") and t.endswith(":lattic") for t in terms)
    heavy = search_index.document_terms(Document.from_paper(store.get_paper("arxiv:2411.00100"), batch=False))
    assert {"h1:lattic", "h2:lattic"} <= heavy  # a title hit weighs 2.5
    everyone = _candidates(store, "lattice", None)
    narrowed = _candidates(store, "lattice", DEFAULT_THRESHOLD)
    assert light in everyone and light not in narrowed and len(narrowed) < len(everyone) // 4
    for text in ("lattice", "latice", "lattices", "ti:lattice", "abs:lattice", "lattice cat:cs.LG",
                 "lattice -counting", "lattice src:arxiv-rss", "lattice OR paths", "lattice*"):
        for threshold in THRESHOLDS:
            assert _found(store, text, threshold) == _everywhere(store, text, threshold), (text, threshold)
    assert _found(store, "lattice", None), "the comparison must have hits to compare"


def test_a_typo_near_two_common_words_adds_up_their_light_mentions(store: Store) -> None:
    """"zorbekal" accepts both "zorbikal" and "zorbakal", each in half the papers: a paper with each
    three times in its abstract reaches neither word's heavy level, yet their mentions add up to a
    match."""
    papers = [_paper(i, f"Objects {i}", f"One {('zorbikal', 'zorbakal')[i % 2]}. {FILLER}") for i in range(80)]
    both = _paper(99, "Objects again", f"{'A zorbikal. ' * 3}{'A zorbakal. ' * 3}{FILLER}")
    store.ingest_records("arxiv-rss", [*papers, both], now=NOW)
    match_new(store)
    assert compile_query("zorbekal", load_stats(store)).root.words[0].dist  # type: ignore[attr-defined]
    for threshold in THRESHOLDS:
        assert _found(store, "zorbekal", threshold) == _everywhere(store, "zorbekal", threshold), threshold
    assert [pid for pid, _ in _found(store, "zorbekal", None)] == ["arxiv:2411.00099"]
    assert _candidates(store, "zorbekal", DEFAULT_THRESHOLD) == {"arxiv:2411.00099"}


def test_papers_the_index_cannot_judge_are_still_evaluated(store: Store) -> None:
    """A light paper whose text grew after indexing (pending), and one tagged with the word, reach
    the threshold through what the index has not seen: both are found."""
    store.ingest_records("arxiv-rss", _lattice_corpus(), now=NOW)
    store.upsert_tag("Lattice theory", "ti:paths")  # joins the keywords of the five "Lattice paths" papers
    match_new(store)
    store.upsert_tag("Lattice gauge", "abs:typo OR ti:typo")
    apply_tags(store)
    grown = store.get_paper("arxiv:2411.00004")
    store.ingest_records("hf-daily", [PaperRecord(
        "hf-daily", "2411.00004", arxiv_id="2411.00004", title=grown.title, keywords=("lattice",),
        tldr="A lattice, again.", signals={"upvotes": 2})], now=NOW)
    assert store.search_pending()[1] == [grown.id]
    hits = {pid for pid, _ in _found(store, "lattice", None)}
    assert {grown.id, "arxiv:2411.00301"} <= hits
    for threshold in THRESHOLDS:
        assert _found(store, "lattice", threshold) == _everywhere(store, "lattice", threshold), threshold


def test_upgrading_rebuilds_the_index_with_heavy_terms(sqlite_store: Store) -> None:
    """Postings written before migration 0007 have no heavy terms: the upgrade drops them, and the
    next `digest match` indexes every paper again; meanwhile search evaluates every paper."""
    from alembic import command

    from digest.store.engine import alembic_config, upgrade

    sqlite_store.ingest_records("arxiv-rss", _lattice_corpus(), now=NOW)
    match_new(sqlite_store)
    command.downgrade(alembic_config(sqlite_store.engine), "0006")
    upgrade(sqlite_store.engine)
    assert sqlite_store.search_index_size()[1] == 0
    assert sqlite_store.get_watermark(search_index.WATERMARK) == 0
    assert len(_candidates(sqlite_store, "lattice", DEFAULT_THRESHOLD)) == sqlite_store.paper_count()
    assert _found(sqlite_store, "lattice", None) == _everywhere(sqlite_store, "lattice", None)
    assert match_new(sqlite_store).indexed == sqlite_store.paper_count()
    assert len(_candidates(sqlite_store, "lattice", DEFAULT_THRESHOLD)) < sqlite_store.paper_count() // 4


# --- generated corpora ------------------------------------------------------------------------------

#: Words and their near neighbours (plurals, typos), so fuzzy queries meet two keys in one paper.
WORDS = ("lattice", "lattices", "latice", "graph", "graphs", "grpah", "matrix", "matrices", "network", "LATTICE")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Path:
    return _sqlite_template


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="digest-heavy-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


_texts = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(papers=st.lists(st.tuples(_texts, _texts, st.sampled_from(("cs.LG", "math.CO"))), min_size=1, max_size=24),
       query=st.sampled_from(WORDS + ("ti:lattice", "abs:graph", "lattice cat:cs.LG", "matrix -graph", "grap")),
       threshold=st.sampled_from(THRESHOLDS))
def test_generated_corpora_find_what_every_paper_finds(template: Path, workdir: Path,
                                                       papers: list[tuple[str, str, str]], query: str,
                                                       threshold: float | None) -> None:
    path = Path(tempfile.mkstemp(suffix=".db", dir=workdir)[1])
    shutil.copyfile(template, path)
    store = Store.open(f"sqlite:///{path}", migrate=False)
    try:
        store.ingest_records("arxiv-rss", [_paper(i, title or "Untitled", f"{abstract}. {FILLER}", category=cat)
                                           for i, (title, abstract, cat) in enumerate(papers)], now=NOW)
        match_new(store)
        assert _found(store, query, threshold) == _everywhere(store, query, threshold)
    finally:
        store.close()


def test_the_weights_heavy_terms_were_stored_with_are_the_current_ones() -> None:
    """A tripwire: heavy terms are weighed when papers are indexed, so new weights or levels leave the
    stored ones wrong and search would skip papers that now match. Changing them needs a migration
    that empties the index and its watermark (as 0007 does); then update this test."""
    from digest.match.score import FIELD_WEIGHTS
    assert FIELD_WEIGHTS == {"title": 2.5, "tldr": 1.8, "keywords": 1.5, "abstract": 0.5}
    assert search_index.HEAVY_LEVELS == (1.0, 2.0)
