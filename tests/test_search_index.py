"""The search index (digest.match.search_index): `digest search` evaluates only the papers the
index names as candidates, and finds exactly what evaluating every stored paper finds, on both
backends: for real captures, generated queries, papers changed after they were indexed, topic tags,
and an index that starts behind the store (an upgraded installation)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from click.testing import CliRunner

from digest.bench.match import generate_queries
from digest.cli import cli
from digest.errors import QueryError
from digest.ingest import ingest_file
from digest.match import search_index
from digest.match.run import load_stats, match_new
from digest.match.document import Document
from digest.match.score import DEFAULT_THRESHOLD, compile_query
from digest.match.search import _hits, search
from digest.models import PaperRecord
from digest.sources import arxiv_rss
from digest.store import Store
from digest.store.search_index import pack_seqs, unpack_seqs

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)

#: Queries of every kind the language has, on words of the captures below.
QUERIES = [
    "quantum", "graph neural network", '"large language models"', "transformer -vision",
    "diffusion OR reinforcement", "ti:learning abs:robot", "quantm", "superconductivty", "optimi*",
    "reinforcement~", "au:smith", 'au:"del maestro"', "cat:cs.LG", "cat:math*", "cat:hep-th quantum",
    "src:arxiv-rss", "src:hf*", "id:arxiv:2411.17700", "-the", "NOT quantum", "kw:physics",
    "(language OR vision) model", "GAN", "LLM agents", "self-supervised", "selfsupervised",
    "quantum OR -superconductivity", "learning (robot OR -quantum)", "(ti:learning OR -physics) OR kw:physics",
]
#: Exclusions alone: they score 0 wherever they match, so a search finds nothing and says why.
EXCLUSIONS = ["-the", "NOT quantum", "-survey -review", "-survey OR NOT (review AND quantum)"]


def _fill(store: Store, data_dir: Path, items: int = 300) -> None:
    """Part of the real arXiv listing and every small real capture of other sources."""
    records = arxiv_rss.parse((data_dir / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml").read_bytes()).records
    store.ingest_records("arxiv-rss", records[:items], now=NOW)
    for path in sorted((data_dir / "hf-daily").glob("*.json")) + sorted((data_dir / "arxiv-atom").rglob("*.xml")) \
            + sorted((data_dir / "biorxiv").glob("*")) + sorted((data_dir / "generic-rss").glob("*.xml")):
        ingest_file(store, path, feed_name=path.stem)


def _brute(store: Store, text: str) -> list[tuple[str, float]]:
    return [(h.paper.id, h.score) for h in _hits(store, text, store.iter_papers(), None)]


def _indexed(store: Store, text: str) -> list[tuple[str, float]]:
    return [(h.paper.id, h.score) for h in search(store, text)]


def _candidates(store: Store, text: str) -> set[str]:
    stats = load_stats(store)
    return {p.id for p in search_index.candidate_papers(store, compile_query(text, stats), stats,
                                                        store.topic_tags_by_paper(), cutoff=DEFAULT_THRESHOLD)}


def test_search_finds_exactly_what_evaluating_every_paper_finds(store: Store, data_dir: Path) -> None:
    _fill(store, data_dir)
    run = match_new(store)
    assert run.indexed == store.paper_count()
    assert store.get_watermark(search_index.WATERMARK) == store.get_watermark("match")
    queries = QUERIES + generate_queries(store.newest_papers(200), 40, 11)
    # Every paper's document built once for all queries (what _hits does per query).
    stats, tags = load_stats(store), store.topic_tags_by_paper()
    docs = [(p, Document.from_paper(p, tags=tags.get(p.id, ()))) for p in store.iter_papers()]
    found = 0
    for text in queries:
        if text in EXCLUSIONS:
            continue
        compiled = compile_query(text, stats)
        results = [(p.id, r.score) for p, d in docs if (r := compiled.evaluate(d, stats)) is not None
                   and r.score >= DEFAULT_THRESHOLD]
        hits = _indexed(store, text)
        assert hits == sorted(results, key=lambda h: (-h[1], h[0])), text
        found += bool(hits)
    assert found >= len(queries) // 2  # the queries meet the captures: the comparison means something
    # ... and the index narrows: a rare word's candidates are a few papers, not the store.
    assert len(_candidates(store, "superconductivity")) < store.paper_count() // 10
    assert len(_candidates(store, "NOT quantum")) == store.paper_count()


def test_a_search_of_exclusions_alone_says_at_once_that_it_finds_nothing(store: Store, data_dir: Path) -> None:
    """It would evaluate every stored paper (seconds on a large store) to find nothing: score 0 never
    reaches a threshold. With a threshold of 0 it is evaluated (and matches what it does not exclude)."""
    _fill(store, data_dir, items=60)
    match_new(store)
    for text in EXCLUSIONS:
        with pytest.raises(QueryError, match="only says what to exclude"):
            search(store, text)
        assert [h.paper.id for h in search(store, text, threshold=0)] == \
            [h.paper.id for h in _hits(store, text, store.iter_papers(), 0)] != []
    # An alert saved before such queries were refused still gets its page: the preview says why it is empty.
    from digest.web.account import query_preview
    preview = query_preview(store, "NOT quantum", NOW)
    assert preview["hits"] == [] and preview["warnings"] == ["the query only says what to exclude; add a word to look for"]
    # A branch of exclusions in an OR adds no candidate (it scores 0 there), but it does in an AND.
    every = store.paper_count()
    assert len(_candidates(store, "quantum OR -superconductivity")) < every // 2
    stats = load_stats(store)
    inside_and = {p.id for p in search_index.candidate_papers(
        store, compile_query("learning (robot OR -quantum)", stats), stats, {}, cutoff=DEFAULT_THRESHOLD)}
    assert inside_and >= {pid for pid, _ in _brute(store, "learning (robot OR -quantum)")}


def test_papers_changed_after_indexing_are_still_found(store: Store, data_dir: Path) -> None:
    _fill(store, data_dir, items=60)
    match_new(store)
    known = store.list_papers(source="arxiv-rss")[0]
    assert known.arxiv_id and known.version
    # A new version with a new word in its title: above the index's watermark until matched.
    store.ingest_records("arxiv-rss", [PaperRecord(
        "arxiv-rss", known.arxiv_id, title=known.title + " with zyxwvutian flows", authors=known.authors,
        abstract=known.abstract, arxiv_id=known.arxiv_id, version=known.version + 1, updated=NOW)], now=NOW)
    # Hugging Face's record of another indexed paper adds keywords (no new sequence number: pending).
    other = store.list_papers(source="arxiv-rss")[1]
    store.ingest_records("hf-daily", [PaperRecord(
        "hf-daily", str(other.arxiv_id), title=other.title, authors=other.authors, arxiv_id=other.arxiv_id,
        keywords=("quokkanomics",), tldr="A quokkanomics view.", signals={"upvotes": 3})], now=NOW)
    assert store.get_paper(other.id).seq == other.seq
    # A new paper nobody has matched yet.
    store.ingest_records("rss", [PaperRecord("rss", "https://example.org/p/1", title="Wombatology at scale",
                                             authors=("Ada Lovelace",), url="https://example.org/p/1")], now=NOW)
    for text, expected in (("zyxwvutian", known.id), ("quokkanomics", other.id), ("wombatology", None)):
        hits = _indexed(store, text)
        assert hits == _brute(store, text) and len(hits) == 1, text
        assert expected is None or hits[0][0] == expected
    assert store.search_pending()[1] == [other.id]
    match_new(store)  # indexes them all; the pending mark is cleared
    assert store.search_pending() == (0, [])
    for text in ("zyxwvutian", "quokkanomics", "wombatology", "ti:wombatology", "au:lovelace"):
        assert _indexed(store, text) == _brute(store, text) and len(_indexed(store, text)) == 1, text
        assert len(_candidates(store, text)) == 1, text


def test_topic_tags_join_the_keywords_searched(store: Store, data_dir: Path) -> None:
    _fill(store, data_dir, items=120)
    store.upsert_tag("Marsupial Robotics", "quantum")
    match_new(store)
    tagged = store.papers_with_tag("Marsupial Robotics")
    assert tagged
    for text in ('kw:"marsupial robotics"', "marsupial", "marsupal robotics", "marsup*", "kw:marsupial -quantum"):
        assert _indexed(store, text) == _brute(store, text), text
    assert {pid for pid, _ in _indexed(store, 'kw:"marsupial robotics"')} == set(tagged)
    # A tag added after the papers were indexed (no re-index): still found through the tag.
    store.upsert_tag("Wallaby Optics", "learning")
    from digest.match.tags import apply_tags
    apply_tags(store)
    assert store.papers_with_tag("Wallaby Optics")
    assert _indexed(store, "wallaby") == _brute(store, "wallaby") != []


def test_an_index_behind_the_store_catches_up(store: Store, data_dir: Path) -> None:
    """An installation upgraded to the search index has matched papers and no postings: search
    checks every paper until the next `digest match` indexes them all."""
    _fill(store, data_dir, items=40)
    store.set_watermark("match", store.max_seq())  # matched before the index existed
    assert store.get_watermark(search_index.WATERMARK) == 0
    assert len(_candidates(store, "quantum")) == store.paper_count()
    assert _indexed(store, "quantum") == _brute(store, "quantum")
    calls: list[tuple[int, int]] = []
    run = match_new(store, batch=25, progress=lambda done, total: calls.append((done, total)))
    assert run.events == 0 and run.indexed == store.paper_count()
    # `digest match` shows the catch-up on its progress bar, batch by batch.
    assert len(calls) >= 2 and calls[-1] == (store.max_seq(), store.max_seq())
    assert store.get_watermark(search_index.WATERMARK) == store.max_seq()
    assert len(_candidates(store, "quantum")) < store.paper_count()
    assert _indexed(store, "quantum") == _brute(store, "quantum")


def test_a_term_longer_than_the_column_is_found(sqlite_store: Store) -> None:
    word = "pneumono" + "x" * 150
    sqlite_store.ingest_records("rss", [PaperRecord("rss", "https://example.org/long", title=f"On {word}",
                                                    url="https://example.org/long")], now=NOW)
    match_new(sqlite_store)
    assert [pid for pid, _ in _indexed(sqlite_store, word)] == ["url:https://example.org/long"]
    assert _indexed(sqlite_store, "pneumono*") == _brute(sqlite_store, "pneumono*") != []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**62), min_size=1, max_size=300, unique=True))
def test_packed_sequence_numbers_read_back(seqs: list[int]) -> None:
    seqs.sort()
    assert unpack_seqs(pack_seqs(seqs)).tolist() == seqs


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_query_is_refused_as_before(sqlite_store: Store, text: str) -> None:
    from digest.errors import QueryError
    with pytest.raises(QueryError):
        search(sqlite_store, text)


def test_status_and_match_report_the_index(tmp_path: Path, data_dir: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "d.db"}"\n', encoding="utf-8")

    def run(*args: str) -> str:
        out = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
        assert out.exit_code == 0, out.output
        return out.output

    run("init")
    run("ingest", "--file", str(data_dir / "hf-daily" / "sotawhat_hf_daily_papers_2026-06-12.json"))
    lag = json.loads(run("status", "--json"))["search index"]
    assert lag["indexed_up_to"] == 0 and lag["lag"] == 30 and lag["postings"] == 0
    assert run("match").rstrip().endswith("30 papers indexed for search")
    state = json.loads(run("status", "--json"))["search index"]
    assert state["indexed_up_to"] == 30 and state["lag"] == 0 and state["segments"] == 1 and state["postings"] > 30
    assert "search index:" in run("status")


def test_the_benchmark_compares_with_evaluating_every_paper() -> None:
    out = CliRunner().invoke(cli, ["bench", "search", "--papers", "300", "--queries", "4", "--brute", "2", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["identical"] is True and result["brute_force_queries"] == 2 and result["index_postings"] > 0
    refused = CliRunner().invoke(cli, ["bench", "search", "--papers", "1000000"])
    assert refused.exit_code == 2 and "at most" in refused.output


def test_a_source_that_now_names_another_server_is_searched_by_it(store: Store) -> None:
    """A bioRxiv-kind feed whose record of an indexed paper now says medRxiv: its "via" label, which
    `src:` reads, changed without a new sequence number, so search checks the paper directly."""
    def record(server: str) -> PaperRecord:
        return PaperRecord("biorxiv", "10.1101/2026.01.01.000001", title="Serum markers of sepsis",
                           doi="10.1101/2026.01.01.000001", version=1, signals={"server": server})

    store.ingest_records("biorxiv-feed", [record("biorxiv")], now=NOW)
    match_new(store)
    assert _indexed(store, "src:medrxiv") == []
    store.ingest_records("biorxiv-feed", [record("medrxiv")], now=NOW)
    assert store.search_pending()[1] == ["doi:10.1101/2026.01.01.000001"]
    assert _indexed(store, "src:medrxiv") == _brute(store, "src:medrxiv") != []
    match_new(store)
    assert store.search_pending() == (0, []) and _candidates(store, "src:medrxiv") == {"doi:10.1101/2026.01.01.000001"}
