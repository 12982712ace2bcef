"""PaperStore: merging across sources, the ingest sequence, vias, signals and reads (SQLite + PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import assume, given, settings, strategies as st

from digest.errors import NotFoundError
from digest.models import PaperRecord
from digest.store import Store
from digest.store.merge import guard_tokens, authors_overlap, title_key, titles_match

from scale_helpers import bulk_store, capture_selects, full_scans

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
VASWANI = ("Ashish Vaswani", "Noam Shazeer", "Niki Parmar")


def arxiv(aid: str, title: str, authors: tuple[str, ...] = VASWANI, *, version: int = 1, kind: str = "arxiv-rss",
          **kw: object) -> PaperRecord:
    return PaperRecord(kind, aid, title, authors, arxiv_id=aid, version=version, **kw)  # type: ignore[arg-type]


def rss(link: str, title: str, authors: tuple[str, ...] = VASWANI, **kw: object) -> PaperRecord:
    return PaperRecord("rss", link, title, authors, url=link, **kw)  # type: ignore[arg-type]


def test_new_papers_get_increasing_seq_and_events(store: Store) -> None:
    stats = store.ingest_records("cs", [arxiv("2401.00001", "First paper on widgets"),
                                        arxiv("2401.00002", "Second paper on gadgets", ("Ada Lovelace",))], now=T0)
    assert (stats.seen, stats.new, stats.added) == (2, 2, 2)
    events = store.papers_after(0)
    assert [(kind, p.id) for _, kind, p in events] == [("new", "arxiv:2401.00001"), ("new", "arxiv:2401.00002")]
    assert events[0][0] < events[1][0] == store.max_seq()
    assert [p.seq for _, _, p in events] == [e[0] for e in events]
    assert store.paper_count() == 2


def test_reingesting_the_same_capture_adds_nothing(store: Store) -> None:
    batch = [arxiv("2401.00001", "First paper on widgets"), rss("https://j.org/a", "A journal paper", ("B. Cee",))]
    store.ingest_records("cs", batch, now=T0)
    seq = store.max_seq()
    again = store.ingest_records("cs", batch, now=T0 + timedelta(hours=1))
    assert (again.new, again.new_versions, again.merged, again.unchanged) == (0, 0, 0, 2)
    assert store.max_seq() == seq and store.paper_count() == 2
    assert len(store.get_paper("arxiv:2401.00001").sources) == 1


def test_higher_version_appends_a_version_event_and_updates_text(store: Store) -> None:
    store.ingest_records("cs", [arxiv("2401.00001", "Widgets", abstract="old")], now=T0)
    stats = store.ingest_records("cs", [arxiv("2401.00001", "Widgets, revised", version=3, abstract="new",
                                              announce_type="replace")], now=T0 + timedelta(days=1))
    assert (stats.new, stats.new_versions) == (0, 1)
    p = store.get_paper("2401.00001v3")
    assert (p.version, p.title, p.abstract) == (3, "Widgets, revised", "new")
    assert [(k, ev.version) for _, k, ev in store.papers_after(0)] == [("new", 3), ("version", 3)]
    # A lower or equal version seen later (a lagging mirror) changes nothing and adds no event.
    stats = store.ingest_records("other", [arxiv("2401.00001", "Widgets", version=2)], now=T0 + timedelta(days=2))
    assert (stats.new_versions, stats.merged) == (0, 1) and store.get_paper("arxiv:2401.00001").version == 3
    assert store.max_seq() == 2


@pytest.mark.parametrize("same_batch", [True, False])
def test_two_arxiv_papers_sharing_a_doi_stay_two(store: Store, same_batch: bool) -> None:
    # A proceedings volume's DOI on each of its papers (real snapshot lines do this): both ids stay findable.
    first = arxiv("1001.0001", "Proceedings paper one", doi="10.4204/EPTCS.1")
    second = arxiv("1001.0002", "Another paper in the volume", ("J. Doe",), doi="10.4204/EPTCS.1")
    if same_batch:
        stats = store.ingest_records("snap", [first, second], now=T0)
    else:
        store.ingest_records("snap", [first], now=T0)
        stats = store.ingest_records("snap", [second], now=T0 + timedelta(hours=1))
    assert stats.merged == 0 and store.paper_count() == 2
    assert store.get_paper("1001.0002").title == "Another paper in the volume"
    assert store.get_paper("doi:10.4204/EPTCS.1").arxiv_id == "1001.0001"  # the DOI stays with its first paper


def test_biorxiv_versions_update_a_preprint_stored_from_biorxiv(store: Store) -> None:
    def preprint(version: int, title: str) -> PaperRecord:
        return PaperRecord(source_kind="biorxiv", external_id="10.1101/2024.04.28.591234", title=title,
                           authors=("J. Smith",), doi="10.1101/2024.04.28.591234", version=version)

    store.ingest_records("bio", [preprint(1, "Cells do things")], now=T0)
    stats = store.ingest_records("bio", [preprint(2, "Cells do things, revised")], now=T0 + timedelta(days=1))
    assert stats.new_versions == 1
    p = store.get_paper("doi:10.1101/2024.04.28.591234")
    assert (p.version, p.title) == (2, "Cells do things, revised")


def test_only_the_numbering_server_makes_a_new_version(store: Store) -> None:
    # A lab blog post linking ".../abs/2401.00001v2" names the version, but its title and text are
    # the post's: merging it keeps the paper's arXiv text and adds no version event.
    store.ingest_records("cs", [arxiv("2401.00001", "Widgets", abstract="arXiv text")], now=T0)
    post = PaperRecord(source_kind="rss", external_id="https://lab.org/1", title="Our new paper on widgets",
                       authors=("A. Vaswani",), abstract="A blog post.", arxiv_id="2401.00001", version=2,
                       url="https://lab.org/1")
    stats = store.ingest_records("lab", [post], now=T0 + timedelta(hours=1))
    assert (stats.new_versions, stats.merged) == (0, 1)
    p = store.get_paper("arxiv:2401.00001")
    assert (p.title, p.abstract, p.version) == ("Widgets", "arXiv text", 1)
    assert store.max_seq() == 1


def test_same_arxiv_paper_from_two_sources_merges_and_keeps_both_vias(store: Store) -> None:
    store.ingest_records("cs.LG", [arxiv("2401.00001", "Widgets", announce_type="new", categories=("cs.LG",))],
                         now=T0)
    hf = PaperRecord("hf-daily", "2401.00001", "Widgets", VASWANI, arxiv_id="2401.00001", tldr="Short.",
                     keywords=("widgets", "LLM"), code_url="https://github.com/x/y", categories=("cs.AI",),
                     signals={"upvotes": 12, "comments": 3, "github_stars": 40})
    stats = store.ingest_records("hf", [hf], now=T0 + timedelta(hours=2))
    assert (stats.new, stats.merged) == (0, 1)
    p = store.get_paper("arxiv:2401.00001")
    assert p.tldr == "Short." and p.code_url == "https://github.com/x/y"
    assert p.categories == ("cs.LG", "cs.AI") and p.keywords == ("widgets", "LLM")
    assert [(v.source_kind, v.feed_name, v.announce_type) for v in p.sources] == [
        ("arxiv-rss", "cs.LG", "new"), ("hf-daily", "hf", None)]
    assert p.sources[1].signals == {"upvotes": 12, "comments": 3, "github_stars": 40}
    assert store.max_seq() == 1  # fill-ins are not events


def test_signals_time_series_appends_only_on_change(store: Store) -> None:
    rec = PaperRecord("hf-daily", "2401.00001", "Widgets", VASWANI, arxiv_id="2401.00001",
                      signals={"upvotes": 1, "comments": 0})
    store.ingest_records("hf", [rec], now=T0)
    store.ingest_records("hf", [rec], now=T0 + timedelta(hours=1))
    store.ingest_records("hf", [replace(rec, signals={"upvotes": 9, "comments": 2})], now=T0 + timedelta(hours=2))
    history = store.signal_history(["arxiv:2401.00001", "arxiv:9999.99999"])
    assert list(history) == ["arxiv:2401.00001"]
    assert [(s.upvotes, s.comments, s.observed) for s in history["arxiv:2401.00001"]] == [
        (1, 0, T0), (9, 2, T0 + timedelta(hours=2))]
    assert store.get_paper("arxiv:2401.00001").sources[0].signals == {"upvotes": 9, "comments": 2}


def test_doi_paper_gains_arxiv_id_and_keeps_its_canonical_id(store: Store) -> None:
    journal = PaperRecord("rss", "https://j.org/a", "Deep widgets for everyone", VASWANI, doi="10.1000/ABC",
                          url="https://j.org/a")
    store.ingest_records("journal", [journal], now=T0)
    stats = store.ingest_records("cs", [arxiv("2401.00001", "Deep widgets for everyone", doi="10.1000/abc")],
                                 now=T0 + timedelta(days=1))
    assert (stats.new, stats.merged) == (0, 1)
    p = store.get_paper("arxiv:2401.00001")
    assert p.id == "doi:10.1000/abc" and p.arxiv_id == "2401.00001" and p.version == 1
    assert store.get_paper("doi:10.1000/ABC") == p == store.get_paper("https://arxiv.org/abs/2401.00001v1")
    assert store.paper_count() == 1 and store.max_seq() == 1


def test_rss_only_paper_merges_with_arxiv_record_by_retyped_title(store: Store) -> None:
    store.ingest_records("blog", [rss("https://lab.org/p/1", "Attention Is All You Need",
                                      ("Vaswani, A.", "N. Shazeer"))], now=T0)
    stats = store.ingest_records("cs", [arxiv("1706.03762", "Attention is all you need.")], now=T0)
    assert (stats.new, stats.merged) == (0, 1)
    p = store.get_paper("arxiv:1706.03762")
    assert p.id == "url:https://lab.org/p/1" and p.arxiv_id == "1706.03762"


@pytest.mark.parametrize("retyped", [
    "ATTENTION IS ALL YOU NEED", "Attention is all you need!", "Attention, is all you need",
    "Attnetion Is All You Need", "Attention Is All You Neeed", "Attention Is Al You Need",
])
def test_retyped_titles_merge(store: Store, retyped: str) -> None:
    store.ingest_records("a", [rss("https://a.org/1", "Attention Is All You Need")], now=T0)
    stats = store.ingest_records("b", [rss("https://b.org/2", retyped, ("A. Vaswani", "Noam Shazeer"))], now=T0)
    assert (stats.new, stats.merged) == (0, 1), retyped


@pytest.mark.parametrize("other,authors", [
    ("Attention Is Not All You Need", VASWANI),
    ("Attention Is All You Need II", VASWANI),
    ("Attention Is All You Need, Part 2", VASWANI),
    ("Attention Is All You Want to Read", VASWANI),
    ("Attention Is All You Need", ("Ashish Vaswani", "Jane Other", "John Doe", "Ann Smith")),  # 1 of 3 shared
    ("Attention Is All You Need", ("Ashish Vaswini",)),  # different first author surname
])
def test_different_papers_with_similar_titles_do_not_merge(store: Store, other: str, authors: tuple[str, ...]) -> None:
    store.ingest_records("a", [rss("https://a.org/1", "Attention Is All You Need")], now=T0)
    stats = store.ingest_records("b", [rss("https://b.org/2", other, authors)], now=T0)
    assert stats.new == 1, other
    assert store.paper_count() == 2


def test_two_arxiv_papers_with_the_same_title_stay_apart(store: Store) -> None:
    stats = store.ingest_records("cs", [arxiv("2401.00001", "A survey of widgets"),
                                        arxiv("2402.00002", "A survey of widgets")], now=T0)
    assert stats.new == 2


def test_merge_inside_one_batch(store: Store) -> None:
    stats = store.ingest_records("mixed", [rss("https://a.org/1", "Widgets at scale"),
                                           arxiv("2401.00001", "Widgets at Scale"),
                                           arxiv("2401.00001", "Widgets at Scale", version=2)], now=T0)
    assert (stats.new, stats.merged, stats.new_versions) == (1, 1, 0)
    [(seq, kind, p)] = store.papers_after(0)
    assert (kind, p.version, p.arxiv_id, len(p.sources)) == ("new", 2, "2401.00001", 2)


def test_batches_split_across_transactions_give_the_same_result(store: Store) -> None:
    records = [arxiv(f"2401.{i:05d}", f"Paper number {i} about widgets", (f"Author{i} Person",))
               for i in range(25)]
    stats = store.ingest_records("cs", records + records[:5], now=T0, batch_size=7)
    assert (stats.seen, stats.new, stats.unchanged) == (30, 25, 5)
    assert [e[0] for e in store.papers_after(0)] == list(range(1, 26))


def test_bulk_import_reports_progress_and_streams(store: Store) -> None:
    done: list[int] = []

    def generate() -> object:
        for i in range(12):
            yield arxiv(f"0704.{i:04d}", f"Old paper {i}", (f"Writer{i} Name",), kind="arxiv-snapshot")

    stats = store.bulk_import("snapshot", generate(), batch_size=5, progress=done.append, now=T0)  # type: ignore[arg-type]
    assert stats.new == 12 and done == [5, 5, 2]
    assert store.get_paper("0704.0003").sources[0].source_kind == "arxiv-snapshot"


def test_a_bulk_import_that_fails_keeps_every_batch_before_the_failure(store: Store) -> None:
    done: list[int] = []

    def generate() -> object:
        for i in range(12):
            yield arxiv(f"0704.{i:04d}", f"Old paper {i}", (f"Writer{i} Name",), kind="arxiv-snapshot")
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away"):
        store.bulk_import("snapshot", generate(), batch_size=5, progress=done.append, now=T0)  # type: ignore[arg-type]
    assert store.paper_count() == 10 and done == [5, 5]
    assert [e[0] for e in store.papers_after(0)] == list(range(1, 11))
    stats = store.bulk_import("snapshot", (arxiv(f"0704.{i:04d}", f"Old paper {i}", (f"Writer{i} Name",),
                                                 kind="arxiv-snapshot") for i in range(12)), batch_size=5, now=T0)
    assert (stats.new, stats.unchanged) == (2, 10)  # the connection is usable again; nothing twice


def test_reads(store: Store) -> None:
    store.ingest_records("cs", [arxiv("2401.00001", "Widgets"), arxiv("2401.00002", "Gadgets", ("Ada Lovelace",))],
                         now=T0)
    store.ingest_records("hf", [PaperRecord("hf-daily", "2401.00001", "Widgets", VASWANI, arxiv_id="2401.00001")],
                         now=T0)
    assert [p.id for p in store.list_papers()] == ["arxiv:2401.00002", "arxiv:2401.00001"]
    assert [p.id for p in store.list_papers(limit=1, offset=1)] == ["arxiv:2401.00001"]
    assert [p.id for p in store.list_papers(source="hf")] == ["arxiv:2401.00001"]
    assert [p.id for p in store.list_papers(source="hf-daily")] == ["arxiv:2401.00001"]
    assert set(store.papers_by_ids(["arxiv:2401.00001", "nope"])) == {"arxiv:2401.00001"}
    assert [p.id for p in store.iter_papers(batch=1)] == ["arxiv:2401.00001", "arxiv:2401.00002"]
    assert store.papers_after(1, limit=5)[0][2].id == "arxiv:2401.00002"
    assert store.get_paper("arxiv:2401.00001").source_names == ("cs", "hf")
    with pytest.raises(NotFoundError):
        store.get_paper("arxiv:2401.99999")


def test_identifier_owned_by_another_paper_is_not_stolen(store: Store) -> None:
    store.ingest_records("a", [arxiv("2401.00001", "Widgets", doi="10.1/x"),
                               arxiv("2401.00002", "Gadgets", ("Ada Lovelace",))], now=T0)
    # A record that claims arXiv id 2 with the DOI of paper 1 merges by arXiv id and leaves the DOI alone.
    store.ingest_records("b", [arxiv("2401.00002", "Gadgets", ("Ada Lovelace",), doi="10.1/x")], now=T0)
    assert store.get_paper("arxiv:2401.00002").doi is None
    assert store.get_paper("doi:10.1/x").id == "arxiv:2401.00001"


# --- the pure rules, as properties ---------------------------------------------------------------

# Without i, v, x: a swap must not turn a word into a roman numeral (those are guarded on purpose).
_titles = st.text(alphabet=st.sampled_from("abcdefghjklmnopqrstuwyz "), min_size=20, max_size=90).filter(
    lambda t: len(title_key(t)) >= 20 and len(set(t.replace(" ", ""))) > 3)


@settings(max_examples=200, deadline=None)
@given(_titles, st.data())
def test_a_swapped_pair_of_letters_or_case_change_still_matches(title: str, data: st.DataObject) -> None:
    key = title_key(title)
    i = data.draw(st.integers(0, len(key) - 2).filter(lambda j: " " not in key[j:j + 2]))
    swapped = key[:i] + key[i + 1] + key[i] + key[i + 2:]
    # a swap that makes or unmakes a negation ("on" <-> "no") is guarded on purpose, like numerals
    assume(guard_tokens(swapped) == guard_tokens(key))
    assert titles_match(title_key(swapped), key)
    assert titles_match(title_key(title.upper() + "."), key)


def test_author_overlap_uses_surname_and_initial() -> None:
    assert authors_overlap(["Yann LeCun", "Léon Bottou"], ["LeCun, Y.", "L. Bottou", "Y. Bengio"])
    assert not authors_overlap(["Yann LeCun"], ["Ann LeCun"])
    assert not authors_overlap([], ["Y. LeCun"])


def _statements(store: Store) -> list[tuple[str, object]]:
    """Every SELECT the store sends to the driver from now on (statement, parameters)."""
    from sqlalchemy import event

    seen: list[tuple[str, object]] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _record(conn: object, cursor: object, statement: str, parameters: object, context: object,
                executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    return seen


def test_ingest_lookups_search_indexes_and_never_scan_a_table(sqlite_store: Store) -> None:
    # A full scan per batch made a 1M-record import quadratic (the via lookup could not use the
    # (source_kind, feed_name, external_id) index without source_kind).
    sqlite_store.ingest_records("cs", [rss("https://j.example/1", "A journal paper on widgets", doi="10.1/w")], now=T0)
    sqlite_store.ingest_records("cs", [arxiv("2401.00001", "First paper on widgets")], now=T0)
    seen = _statements(sqlite_store)
    sqlite_store.ingest_records("cs", [arxiv("2401.00001", "First paper on widgets", version=2),
                                       arxiv("2401.00002", "A journal paper on widgetz"),
                                       rss("https://j.example/2", "Another one", ("Ada Lovelace",))], now=T0)
    with sqlite_store.read() as conn:
        plans = {stmt: [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {stmt}", params)]  # type: ignore[arg-type]
                 for stmt, params in seen if " IN (" in stmt}
    assert any("paper_sources" in s for s in plans) and any("first_author_key IN" in s for s in plans)
    for stmt, plan in plans.items():
        assert not any(step.startswith("SCAN") for step in plan), (stmt, plan)
    author_plans = [plan for stmt, plan in plans.items() if "first_author_key IN" in stmt]
    assert all("ix_papers_author_arxiv" in " ".join(plan) for plan in author_plans)


def test_only_a_store_without_papers_skips_the_lookups(sqlite_store: Store) -> None:
    seen = _statements(sqlite_store)
    sqlite_store.ingest_records("cs", [arxiv("2401.00001", "First paper on widgets")], now=T0)
    assert not [stmt for stmt, _ in seen if " IN (" in stmt]
    seen.clear()
    stats = sqlite_store.ingest_records("other", [arxiv("2401.00001", "First paper on widgets"),
                                                  arxiv("2401.00002", "Second paper on gadgets")], now=T0)
    assert [stmt for stmt, _ in seen if " IN (" in stmt]
    assert (stats.new, stats.merged) == (1, 1)


def test_a_bulk_import_gives_its_connection_back_with_the_usual_cache(sqlite_store: Store) -> None:
    from digest.store.engine import SQLITE_CACHE_KIB

    sqlite_store.bulk_import("snap", (arxiv(f"2401.{i:05d}", f"Paper number {i}", kind="arxiv-snapshot")
                                      for i in range(1, 30)), batch_size=10, now=T0)
    with sqlite_store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
    assert sqlite_store.paper_count() == 29


def test_ingest_turns_the_cycle_collector_back_on_even_after_a_failure(store: Store) -> None:
    import gc

    assert gc.isenabled()

    def failing() -> object:
        yield arxiv("2401.00001", "First paper on widgets")
        assert not gc.isenabled()  # paused while a batch is read and stored
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError):
        store.ingest_records("cs", failing(), now=T0)  # type: ignore[arg-type]
    assert gc.isenabled()
    gc.disable()
    try:
        store.ingest_records("cs", [arxiv("2401.00002", "Second paper")], now=T0)
        assert not gc.isenabled()  # an application that turned it off keeps it off
    finally:
        gc.enable()


def test_columns_none_in_every_row_are_left_out_and_read_back_as_none(store: Store) -> None:
    # _raw_insert leaves a column that is None in the whole batch out of the INSERT (NULL by
    # default) and binds it when any row has a value: both must read back as the records say.
    from sqlalchemy import event

    inserts: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _record(conn: object, cursor: object, statement: str, parameters: object, context: object,
                executemany: bool) -> None:
        if statement.startswith("INSERT INTO papers"):
            inserts.append(statement)

    published = datetime(2024, 11, 28, 5, 0, tzinfo=timezone.utc)
    records = [arxiv("2401.00001", "First paper on widgets", doi="10.1/a", published=published),
               arxiv("2401.00002", "Second paper on gadgets", ("Ada Lovelace",), journal_ref="J. Gadgets 1"),
               rss("https://j.example/3", "A journal paper on sprockets", ("Grace Hopper",), tldr="Short.")]
    store.ingest_records("cs", records[:2], now=T0)
    store.ingest_records("j", records[2:], now=T0)
    assert "tldr" not in inserts[0] and "doi" in inserts[0] and "journal_ref" in inserts[0]
    assert "tldr" in inserts[1] and "arxiv_id" not in inserts[1] and "version" not in inserts[1]
    first, second = store.get_paper("arxiv:2401.00001"), store.get_paper("arxiv:2401.00002")
    third = store.get_paper("url:https://j.example/3")
    assert (first.doi, first.journal_ref, first.tldr, first.published) == ("10.1/a", None, None, published)
    assert (second.doi, second.journal_ref, second.published, second.categories) == (None, "J. Gadgets 1", None, ())
    assert (third.arxiv_id, third.version, third.tldr, third.url) == (None, None, "Short.", "https://j.example/3")


# --- fuzzy candidates are read by surname and title length ---------------------------------------

def _prep(akey: str, tkey: str) -> object:
    from types import SimpleNamespace

    return SimpleNamespace(akey=akey, tkey=tkey)


def test_title_windows_merge_overlapping_spans_per_surname() -> None:
    from digest.store.papers import _title_windows

    windows = _title_windows([_prep("smith", "a" * 20), _prep("smith", "b" * 23), _prep("smith", "c" * 40),
                              _prep("jones", "d" * 100)])  # type: ignore[list-item]
    # budgets: 2 below 81 characters, 2 + (n - 80) // 40 above
    assert windows == [("jones", 98, 102), ("smith", 18, 25), ("smith", 38, 42)]


_edits = st.lists(st.tuples(st.sampled_from("idst"), st.integers(0, 200), st.sampled_from("abcdefghjkmn ")),
                  max_size=5)


@settings(max_examples=300, deadline=None)
@given(_titles, _edits)
def test_every_title_the_fuzzy_match_accepts_is_inside_the_window(title: str, edits: list[tuple[str, int, str]]) -> None:
    from digest.store.papers import _title_windows

    key = title_key(title)
    other = key
    for op, at, letter in edits:  # insert, delete, substitute, transpose
        i = at % (len(other) + 1)
        if op == "i":
            other = other[:i] + letter + other[i:]
        elif op == "d" and other:
            other = other[:i] + other[i + 1:]
        elif op == "s" and i < len(other):
            other = other[:i] + letter + other[i + 1:]
        elif op == "t" and i + 1 < len(other):
            other = other[:i] + other[i + 1] + other[i] + other[i + 2:]
    other = title_key(other)
    [(_, low, high)] = _title_windows([_prep("x", key)])  # type: ignore[list-item]
    if titles_match(key, other):
        assert low <= len(other) <= high


# Two letters longer and two shorter: the stored title is at either end of the record's window.
@pytest.mark.parametrize("retyped", ["Attentions Is All You Needs", "Atention Is All You Ned"])
def test_a_retyped_title_merges_among_many_papers_of_the_same_first_author(store: Store, retyped: str) -> None:
    others = [rss(f"https://a.org/{n}", f"Study number {n} of sparse attention" + " in depth" * (n % 7)) for n in range(40)]
    store.ingest_records("a", [*others, rss("https://a.org/x", "Attention Is All You Need")], now=T0)
    stats = store.ingest_records("b", [rss("https://b.org/2", retyped, ("A. Vaswani",))], now=T0)
    assert (stats.new, stats.merged) == (0, 1)
    assert [v.external_id for v in store.get_paper("url:https://a.org/x").sources] == ["https://a.org/x",
                                                                                      "https://b.org/2"]


def test_known_papers_load_exactly_as_sqlalchemy_reads_them(store: Store) -> None:
    from sqlalchemy import select

    from digest.store.papers import _P, _PAPER_COLUMNS, _S, _VIA_COLUMNS, _rows_where

    store.ingest_records("mixed", [
        arxiv("2401.00001", "Plain", version=3, published=T0, updated=T0 + timedelta(days=2), doi="10.1/X",
              categories=("cs.LG", "stat.ML"), license="http://creativecommons.org/licenses/by/4.0/"),
        PaperRecord("hf-daily", "2401.00002", "Ünïcode “quotes” and TeX $x^2$", ("Zoë Ångström", "李 雷"),
                    arxiv_id="2401.00002", tldr="Short.", keywords=("diffusion", "robotics"),
                    signals={"upvotes": 12, "comments": 3, "organization": {"name": "Lab"}, "ai_keywords": ["a"]},
                    published=datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)),
        rss("https://j.org/3", "Journal entry without dates", ()),
    ], now=T0)
    with store.read() as conn:
        for table, columns, key in ((_P, _PAPER_COLUMNS, _P.c.id), (_S, _VIA_COLUMNS, _S.c.paper_id)):
            ids = ["arxiv:2401.00001", "arxiv:2401.00002", "url:https://j.org/3"]
            expected = [dict(r._mapping) for r in conn.execute(select(*columns).where(key.in_(ids)).order_by(key))]
            got = sorted(_rows_where(conn, columns, key, ids), key=lambda row: row[key.name])
            assert got == expected and len(got) == 3, table.name
            assert all(type(a) is type(b) for g, e in zip(got, expected) for a, b in zip(g.values(), e.values()))
        [via] = _rows_where(conn, _VIA_COLUMNS, _S.c.external_id, ["2401.00002"], ((_S.c.source_kind, "hf-daily"),
                                                                                   (_S.c.feed_name, "mixed")))
        assert via["signals"]["organization"] == {"name": "Lab"}


def test_papers_of_a_small_source_are_found_through_paper_sources(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`digest papers list --source blog` in a store of bulk-imported papers reaches the feed's few
    papers through paper_sources' index, newest first, without walking the papers table with a
    lookup per paper (the whole table for a small or quiet feed: 1.6 s on a 400,000-paper store)."""
    db = bulk_store(tmp_path)
    statements = capture_selects(monkeypatch)
    store = Store.open(f"sqlite:///{db}", migrate=False)
    try:
        store.ingest_records("blog", [rss("https://example.org/post-1", "Scaling sparse attention",
                                          abstract="A blog post.")])
        statements.seen.clear()
        papers = store.list_papers(limit=20, source="blog")
        scans = full_scans(statements, "papers")
        # A source kind too, newest first: the snapshot's papers are all but the blog post.
        newest = [p.id for p in store.list_papers(limit=3)]
        assert [p.id for p in store.list_papers(limit=2, source="arxiv-snapshot")] == newest[1:]
    finally:
        store.close()
    assert [p.title for p in papers] == ["Scaling sparse attention"]
    assert not scans, "listing one source's papers walks the whole papers table:\n" + "\n".join(scans)


def test_newest_papers_by_ingest_sequence(store: Store) -> None:
    """The papers ingested last, newest first; ``up_to`` leaves out papers with later events."""
    store.ingest_records("cs", [arxiv(f"2401.0000{i}", f"Paper number {i} on widgets") for i in range(1, 5)])
    assert [p.arxiv_id for p in store.newest_papers(2)] == ["2401.00004", "2401.00003"]
    assert [p.arxiv_id for p in store.newest_papers(10, up_to=2)] == ["2401.00002", "2401.00001"]


def test_papers_dated_between_reads_the_day_as_paper_day_does(store: Store) -> None:
    """A paper's day is its publication date, else when it was first seen: the latest before a
    bound, and the papers dated within a range, are read by it."""
    store.ingest_records("cs", [arxiv("2401.00001", "An old paper on widgets", published=T0 - timedelta(days=40)),
                                arxiv("2401.00002", "A recent paper on widgets", published=T0 - timedelta(days=2)),
                                arxiv("2401.00003", "A paper dated ahead on widgets", published=T0 + timedelta(days=9)),
                                rss("https://example.org/undated", "An undated blog post on gadgets")],
                         now=T0)
    assert store.latest_paper_day(before=T0 + timedelta(days=1)) == T0
    assert store.latest_paper_day(before=T0 + timedelta(days=30)) == T0 + timedelta(days=9)
    assert store.latest_paper_day(before=T0 - timedelta(days=50)) is None
    window = store.papers_dated_between(T0 - timedelta(days=3), T0 + timedelta(days=1))
    assert {p.title for p in window} == {"A recent paper on widgets", "An undated blog post on gadgets"}
    assert store.papers_dated_between(T0 + timedelta(days=1), T0 + timedelta(days=2)) == []
