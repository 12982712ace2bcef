"""Merging across sources, case by case (issue #2): the same paper retyped is stored once, near
misses by the same authors stay apart, one event per new paper or version. Most came from an
adversarial review. Records are built as the source parsers build them (titles cleaned, DOIs
lower-cased by digest.ids.normalize_doi, arXiv ids without version).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from store_helpers import ingest_documents

from digest.models import PaperRecord
from digest.store import Store
from digest.store.merge import authors_overlap

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
AID = "2405.01234"
AUTHORS = ("Alice Johnson", "Bob Keller", "Carol Lin")


def arxiv(title: str, authors: tuple[str, ...] = AUTHORS, *, aid: str = AID, version: int = 1,
          kind: str = "arxiv-rss", **kw: object) -> PaperRecord:
    return PaperRecord(kind, aid, title, authors, arxiv_id=aid, version=version, **kw)  # type: ignore[arg-type]


def journal(title: str, authors: tuple[str, ...] = AUTHORS, *, doi: str | None = "10.1000/jwr.2025.17",
            link: str = "https://journal.example/articles/17", **kw: object) -> PaperRecord:
    return PaperRecord("rss", link, title, authors, doi=doi, url=link, **kw)  # type: ignore[arg-type]


def ingest(store: Store, *batches: list[PaperRecord]) -> list[tuple[int, int, int, int]]:
    return ingest_documents(store, *batches, start=T0)


# =================================================================================================
# the same paper, retyped, is stored once
# =================================================================================================

@pytest.mark.parametrize("preprint,published", [
    # SIAM / Elsevier house style writes "nonconvex", "nonparametric" solid; arXiv authors hyphenate.
    ("Non-Convex Optimization for Widget Learning", "Nonconvex Optimization for Widget Learning"),
    ("Non-parametric Estimation of Widget Densities", "Nonparametric Estimation of Widget Densities"),
])
def test_a_dropped_hyphen_before_a_guard_word_still_merges(store: Store, preprint: str, published: str) -> None:
    """The arXiv preprint and its journal version whose titles differ by one hyphen before "non"
    ("Non-Convex"/"Nonconvex": SIAM and Elsevier write it solid) are one paper: the negation is the
    same with or without the hyphen."""
    assert ingest(store, [arxiv(preprint)], [journal(published)])[1] == (0, 1, 0, 0)
    assert store.paper_count() == 1


def test_a_thousands_separator_is_punctuation(store: Store) -> None:
    """"Training 1,000-Layer Networks ..." (journal) and "Training 1000-Layer Networks ..." (arXiv) are
    one paper: the comma is punctuation, and the numbers agree."""
    assert ingest(store, [arxiv("Training 1000-Layer Networks for Widget Control")],
                  [journal("Training 1,000-Layer Networks for Widget Control")])[1] == (0, 1, 0, 0)


# --- authors written differently ------------------------------------------------------------------


def test_a_typographic_apostrophe_in_a_name_is_the_same_author(store: Store) -> None:
    """"O'Brien" and "O’Brien" (a typographic apostrophe) are one author, so a one-author paper from
    two sources is stored once."""
    assert authors_overlap(("Seán O'Brien",), ("Seán O’Brien",))
    title = "Sparse Widget Kernels for Fast Regression"
    assert ingest(store, [arxiv(title, ("Seán O'Brien",))], [journal(title, ("Seán O’Brien",))])[1] == (0, 1, 0, 0)


# --- identifiers -------------------------------------------------------------------------------------

def test_an_arxiv_record_naming_a_stored_journal_doi_joins_that_paper(store: Store) -> None:
    """arXiv v1 is stored, then the journal entry under another title (a paper of its own), then
    arXiv v2 carrying the journal's DOI: the two papers are combined, as when the DOI comes as an
    alias, instead of staying two for ever."""
    ingest(store, [arxiv("Sparse Widget Kernels")],
           [journal("Kernel Methods for Widget Sparsity in Practice", doi="10.1000/jwr.2025.7")],
           [arxiv("Sparse Widget Kernels", version=2, doi="10.1000/jwr.2025.7")])
    assert store.paper_count() == 1
    assert store.get_paper("10.1000/jwr.2025.7").id == store.get_paper(AID).id


# =================================================================================================
# different papers stay apart
# =================================================================================================

@pytest.mark.parametrize("first,second", [
    ("A Synchronous Byzantine Agreement Protocol with Optimal Resilience",
     "Asynchronous Byzantine Agreement Protocol with Optimal Resilience"),
    ("A Typical Presentation of Widget Syndrome in Children", "Atypical Presentation of Widget Syndrome in Children"),
    ("A Cyclic Widget Graph Model for Scheduling", "Acyclic Widget Graph Model for Scheduling"),
])
def test_an_article_glued_to_the_next_word_is_another_word(store: Store, first: str, second: str) -> None:
    """"A Synchronous ..." and "Asynchronous ..." by the same group are two papers ("A Typical"/
    "Atypical", "A Cyclic"/"Acyclic" too): an article written apart is no spacing slip, as
    "Symmetric"/"Asymmetric" are two words."""
    ingest(store, [journal(first, doi=None, link="https://j.example/1")],
           [journal(second, doi=None, link="https://j.example/2")])
    assert store.paper_count() == 2


@pytest.mark.parametrize("first,second", [
    ("Nonreciprocal Photon Blockade in a Spinning Resonator", "Nonreciprocal Phonon Blockade in a Spinning Resonator"),
    ("Proton Therapy for Pediatric Widget Tumors", "Photon Therapy for Pediatric Widget Tumors"),
    ("Alkyne Metathesis in Widget Total Synthesis", "Alkene Metathesis in Widget Total Synthesis"),
    ("Adsorption of Carbon Dioxide on Widget Surfaces", "Absorption of Carbon Dioxide on Widget Surfaces"),
    ("Ferromagnetic Resonance in Widget Garnets", "Ferrimagnetic Resonance in Widget Garnets"),
])
def test_one_changed_letter_making_another_technical_term_is_another_paper(store: Store, first: str,
                                                                         second: str) -> None:
    """A group's "Photon Blockade" and "Phonon Blockade" papers are two (proton/photon therapy,
    alkyne/alkene, adsorption/absorption, ferro-/ferrimagnetic too): one changed letter counts as a
    slip only when a typo makes it (a key's neighbour, not a vowel for a vowel) or spelling varies so
    (s/z, c/s)."""
    ingest(store, [arxiv(first)], [journal(second, doi="10.1103/physrevlett.999.1")])
    assert store.paper_count() == 2


# =================================================================================================
# sequence bookkeeping
# =================================================================================================

def test_a_new_event_carries_the_latest_version_of_its_batch(sqlite_store: Store) -> None:
    """A capture listing v1 and v2 of one new paper gives one "new" event, carrying version 2, the
    paper's version, as the store's module docstring says."""
    sqlite_store.ingest_records("api", [arxiv("Widget Kernels", kind="arxiv-atom"),
                                        arxiv("Widget Kernels, Revised", version=2, kind="arxiv-atom")], now=T0)
    assert sqlite_store.get_paper(AID).version == 2
    with sqlite_store.read() as conn:
        events = conn.execute(text("SELECT kind, version FROM paper_events")).all()
    assert [tuple(e) for e in events] == [("new", 2)]


# =================================================================================================
# more of the same, verified from the start
# =================================================================================================

@pytest.mark.parametrize("first,second", [
    ("GPT-3 Technical Report on Widgets", "GPT-4 Technical Report on Widgets"),
    ("Phase I Trial of Widget Therapy in Children", "Phase II Trial of Widget Therapy in Children"),
    ("Llama 2: Open Foundation Widget Models", "Llama 3: Open Foundation Widget Models"),
    ("Entanglement in Widget Chains at Finite Temperature", "Entanglement in Widget Chains at Infinite Temperature"),
    ("Widget Estimation with Known Variance", "Widget Estimation with Unknown Variance"),
    ("Encoding Widgets in the Visual Cortex", "Decoding Widgets in the Visual Cortex"),
    ("Widget Models Are Consistent Estimators", "Widget Models Are Inconsistent Estimators"),
    ("Widgets Can Learn Grammar", "Widgets Can't Learn Grammar"),
    ("Comment on Widget Dynamics in Mice", "Widget Dynamics in Mice"),
    ("Reply to Comment on Widget Dynamics in Mice", "Comment on Widget Dynamics in Mice"),
    ("Erratum: Widget Dynamics in Mice", "Widget Dynamics in Mice"),
])
def test_near_miss_titles_by_the_same_authors_stay_apart(store: Store, first: str, second: str) -> None:
    ingest(store, [journal(first, doi=None, link="https://j.example/1")],
           [journal(second, doi=None, link="https://j.example/2")])
    assert store.paper_count() == 2


def test_biorxiv_preprint_then_its_arxiv_posting_by_title_then_arxiv_versions(store: Store) -> None:
    bio_doi = "10.1101/2025.02.03.636001"
    bio = PaperRecord("biorxiv", bio_doi, "Widget dynamics in the fly olfactory bulb", AUTHORS, doi=bio_doi, version=2)
    assert ingest(store, [bio], [arxiv("Widget Dynamics in the Fly Olfactory Bulb")],
                  [arxiv("Widget Dynamics in the Fly Olfactory Bulb", version=2)],
                  [bio], [arxiv("Widget Dynamics in the Fly Olfactory Bulb", version=1, kind="arxiv-atom")]) == [
        (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 1, 0, 0), (0, 1, 0, 0)]
    paper = store.get_paper(f"doi:{bio_doi}")
    assert (paper.arxiv_id, paper.version, store.paper_count()) == (AID, 2, 1)
    assert [k for _, k, _ in store.papers_after(0)] == ["new", "version"]


def test_doi_forms_and_arxiv_id_forms_find_the_one_paper(store: Store) -> None:
    ingest(store, [journal("Sparse Widget Kernels", doi="10.1000/JWR.2025.17")],
           [arxiv("Sparse Widget Kernels.", doi="10.1000/jwr.2025.17")])
    ids = {store.get_paper(ref).id for ref in ("10.1000/jwr.2025.17", "doi:10.1000/JWR.2025.17",
                                               "https://doi.org/10.1000/Jwr.2025.17", f"{AID}v3",
                                               f"arXiv:{AID}", f"https://arxiv.org/abs/{AID}v1")}
    assert ids == {"doi:10.1000/jwr.2025.17"} and store.paper_count() == 1


def test_versions_never_go_backwards_and_each_new_version_is_one_event(store: Store) -> None:
    assert ingest(store, [arxiv("Widget Kernels", version=3)], [arxiv("Widget Kernels v2", version=2, kind="arxiv-atom")],
                  [PaperRecord("hf-daily", AID, "Widget Kernels", AUTHORS, arxiv_id=AID)],
                  [arxiv("Widget Kernels v5", version=5)], [arxiv("Widget Kernels v4", version=4)]) == [
        (1, 0, 0, 0), (0, 1, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 1, 0, 0)]  # each feed adds its via
    paper = store.get_paper(AID)
    assert (paper.version, paper.title) == (5, "Widget Kernels v5")
    assert [k for _, k, _ in store.papers_after(0)] == ["new", "version"]


def test_the_same_record_twice_in_one_batch_is_one_paper_and_one_event(store: Store) -> None:
    rec = journal("Sparse Widget Kernels")
    s = store.ingest_records("j", [rec, rec, arxiv("Sparse Widget Kernels"), arxiv("Sparse Widget Kernels")], now=T0)
    assert (s.new, s.merged, s.unchanged, store.paper_count(), store.max_seq()) == (1, 1, 2, 1, 1)


def test_a_capture_of_several_transactions_merges_across_them_and_reingests_as_nothing(sqlite_store: Store) -> None:
    records = [arxiv(f"Widget study number {i:05d} of sparse kernels", (f"Author{i} Smith", "Bob Keller"),
                     aid=f"2405.{i:05d}") for i in range(4500)]
    # Journal twins land in later transactions (2000 records each) than their arXiv papers.
    twins = [journal(f"Widget Study Number {i:05d} of Sparse Kernels.", (f"Author{i} Smith", "Bob Keller"),
                     doi=f"10.1000/t.{i}", link=f"https://j.example/{i}") for i in (3, 1999, 2500)]
    capture = records[:2100] + twins[:2] + records[2100:] + twins[2:]
    first = sqlite_store.ingest_records("big", capture, now=T0)
    assert (first.new, first.merged, sqlite_store.paper_count()) == (4500, 3, 4500)
    events = sqlite_store.papers_after(0)
    assert [seq for seq, _, _ in events] == list(range(1, 4501)) and {k for _, k, _ in events} == {"new"}
    assert sqlite_store.get_paper("10.1000/t.2500").id == "arxiv:2405.02500"
    again = sqlite_store.ingest_records("big", capture[::-1], now=T0 + timedelta(hours=1))
    assert (again.new, again.merged, again.new_versions, again.unchanged) == (0, 0, 0, len(capture))
    assert sqlite_store.max_seq() == 4500
