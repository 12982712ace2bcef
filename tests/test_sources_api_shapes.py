"""The Hugging Face, bioRxiv/medRxiv and OpenReview readers on real API answers: the publisher
API's pages, JATS debris in abstracts, author strings, versions, blind submissions, and merging
across sources. Every shape is taken from a public answer of the API (or a repository test that
pins one), named in a comment beside it. Most came from an adversarial review.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import ParseError
from digest.models import PaperRecord
from digest.sources import parse_document
from digest.store import Store

DATA = Path(__file__).parent / "data"
HF_CAPTURE = DATA / "hf-daily" / "sotawhat_hf_daily_papers_2026-06-12.json"
BIORXIV_CAPTURE = DATA / "biorxiv" / "research_bot_biorxiv_details_2026-07-15_trimmed.json"


def _biorxiv(items: list[object], **message: object) -> tuple[PaperRecord, ...]:
    doc = {"messages": [{"status": "ok", "cursor": 0, "count": len(items), "total": str(len(items)), **message}],
           "collection": items}
    return parse_document("biorxiv", json.dumps(doc).encode()).records


def _details_item(**fields: object) -> dict[str, object]:
    item: dict[str, object] = {
        "doi": "10.1101/2024.03.01.582999", "title": "Sleep spindles in the mouse cortex",
        "authors": "Smith, J.; Doe, A. B.", "author_corresponding": "Jane Smith",
        "author_corresponding_institution": "Example University", "date": "2024-03-01", "version": "1",
        "type": "new results", "license": "cc_by", "category": "neuroscience",
        "jatsxml": "https://www.biorxiv.org/content/early/2024/03/01/2024.03.01.582999.source.xml",
        "abstract": "We record spindles.", "published": "NA", "server": "bioRxiv"}
    item.update(fields)
    return item


# --- bioRxiv publisher API (/pubs/) ---------------------------------------------------------------

def test_pubs_interval_answer_keyed_by_biorxiv_doi_gives_records() -> None:
    """The publisher API's pages by date range (``/pubs/{server}/{start}/{end}/{cursor}``) name the
    preprint ``biorxiv_doi`` (by DOI: ``preprint_doi``): both give the preprint, its journal DOI as
    another name and the journal as venue, not "record skipped: no DOI"."""
    # Shape: api.biorxiv.org/pubs/help field list as used by nicholasmfraser/rbiorxiv
    # (tests/testthat/test-biorxiv_published.R: "biorxiv_doi", "published_doi", ...), the Go client
    # that mirrors it and tldw_server's pubs fixture ("biorxiv_doi": "10.1101/2021.11.09.467936",
    # "published_doi": "10.7554/eLife.75393", "published_journal": "eLife", ...).
    item = {"biorxiv_doi": "10.1101/2021.11.09.467936", "published_doi": "10.7554/eLife.75393",
            "published_journal": "eLife", "preprint_platform": "bioRxiv",
            "preprint_title": "Actin waves drive membrane protrusion in migrating cells",
            "preprint_authors": "Doe, J.; Roe, R.", "preprint_category": "cell biology",
            "preprint_date": "2021-11-10", "published_date": "2022-03-01",
            "preprint_abstract": "Cells move.", "preprint_author_corresponding": "Jane Doe",
            "preprint_author_corresponding_institution": "Uni"}
    doc = {"messages": [{"status": "ok", "interval": "2022-03-01:2022-03-01", "cursor": 0, "count": 1,
                         "total": "1"}], "collection": [item]}
    feed = parse_document("biorxiv", json.dumps(doc).encode())
    assert not feed.warnings
    (r,) = feed.records
    assert r.doi == "10.1101/2021.11.09.467936" and r.aliases == ("doi:10.7554/elife.75393",)
    assert r.title.startswith("Actin waves") and r.authors == ("J. Doe", "R. Roe") and r.venue == "eLife"


# --- bioRxiv abstracts: Highwire/JATS debris -----------------------------------------------------

def test_graphical_abstract_fig_display_block_leaves_no_debris() -> None:
    """Older preprints carry their graphical abstract as ``O_FIG_DISPLAY_L ... M_FIG_DISPLAY
    C_FIG_DISPLAY``: the block goes whole, leaving no "_DISPLAY" debris in the abstract."""
    # Live shape of 10.1101/2020.04.14.040204, pinned in cyanheads/biorxiv-mcp-server's tests
    # ("removes an O_FIG_DISPLAY block whole, leaving no _DISPLAY residue").
    (r,) = _biorxiv([_details_item(abstract="thought to be cured, patients.\n\nGraphical Abstract "
                                            "O_FIG_DISPLAY_L [Figure 1] M_FIG_DISPLAY C_FIG_DISPLAY")])
    assert "DISPLAY" not in r.abstract and "[Figure 1]" not in r.abstract
    assert r.abstract.startswith("thought to be cured, patients.")


def test_textbox_marker_glued_to_its_heading_is_removed() -> None:
    """A significance box ``O_TEXTBOXSIGNIFICANCE<text>C_TEXTBOX`` goes whole, like figures and tables:
    no "O_TEXTBOX..." or "C_TEXTBOX" is left in the abstract."""
    # Shape pinned in cyanheads/biorxiv-mcp-server's tests ("drops O_TEXTBOX, O_FD, and O_INLINEFIG
    # markers but keeps the text inside them").
    (r,) = _biorxiv([_details_item(abstract="Soil microbes.\n\nO_TEXTBOXSIGNIFICANCENatural products matter."
                                            "\n\nC_TEXTBOX")])
    assert "TEXTBOX" not in r.abstract


def test_plus_minus_in_braces_is_resolved_like_the_greek_letters() -> None:
    """bioRxiv writes ± as ``{+/-}`` beside ``{rho}``: both are resolved ("ρ = 0.993 ± 0.0002")."""
    # Real abstract text (bioRxiv details API, sEMG denoising preprint) stored in a public digest repo:
    # "Pearson correlation analysis ({rho} = 0.993 {+/-} 0.0002) confirms strict morphological fidelity."
    (r,) = _biorxiv([_details_item(abstract="Pearson correlation analysis ({rho} = 0.993 {+/-} 0.0002) confirms "
                                            "strict morphological fidelity.")])
    assert r.abstract == "Pearson correlation analysis (ρ = 0.993 ± 0.0002) confirms strict morphological fidelity."


def test_table_block_with_float_number_and_caption_is_dropped_whole() -> None:
    """Pins what works: a real ``O_TBL ... M_TBL O_FLOATNO...C_FLOATNO O_TABLECAPTION...C_TABLECAPTION
    C_TBL`` block goes whole and the text after it stays."""
    # Real abstract text (bioRxiv details API) with a table block, as stored in public digest repos.
    raw = ("The full codebase is released.\n\nO_TBL View this table:\norg.highwire.dtl.DTLVardef@8e9e6b"
           "org.highwire.dtl.DTLVardef@1428c51_HPS_FORMAT_FIGEXP  M_TBL O_FLOATNOTable 3:C_FLOATNO "
           "O_TABLECAPTIONQuantitative comparison on a common 60 s segmentC_TABLECAPTION C_TBL After the table.")
    (r,) = _biorxiv([_details_item(abstract=raw)])
    assert r.abstract == "The full codebase is released.\nAfter the table."


# --- bioRxiv authors ------------------------------------------------------------------------------

def test_backtick_apostrophe_in_biorxiv_surnames_is_an_apostrophe(sqlite_store: Store) -> None:
    """bioRxiv's author strings write the apostrophe of O'Toole as a backtick ("O`Toole, P."): it is
    read as an apostrophe, so the name displays right and the paper meets arXiv's "Paul O'Toole"
    as one paper."""
    # Shape pinned in cyanheads/biorxiv-mcp-server's tests: 'O`Toole, P.; O`Riordan, M.' (escapeMarkdown).
    title = "Cortical Waves in Sleeping Zebrafish Larvae"
    sqlite_store.ingest_records("arxiv", [PaperRecord("arxiv-rss", "2403.00002", title, ("Paul O'Toole", "Mary O'Riordan"),
                                                      arxiv_id="2403.00002", version=1)])
    (r,) = _biorxiv([_details_item(title=title, authors="O`Toole, P.; O`Riordan, M.")])
    assert r.authors == ("P. O'Toole", "M. O'Riordan")
    sqlite_store.ingest_records("biorxiv", [r])
    assert sqlite_store.paper_count() == 1


# --- bioRxiv versions, end to end -----------------------------------------------------------------

def test_a_new_biorxiv_version_moves_the_paper_link_to_that_version(sqlite_store: Store) -> None:
    """A new bioRxiv version moves the paper's page link to that version (bioRxiv's links name it), as
    it does the title and PDF link: the "new version" entry opens v2, not v1."""
    # Shape: the details API's records of one DOI, version "1" then "2" (api.biorxiv.org/details;
    # the repository's real capture research_bot_biorxiv_details_2026-07-15_trimmed.json has v1 and v3 records).
    v1 = _details_item()
    v2 = _details_item(version="2", date="2024-04-02", title="Sleep spindles gate memory replay in the mouse cortex",
                       abstract="We record spindles and replay.")
    sqlite_store.ingest_records("b", _biorxiv([v1]))
    stats = sqlite_store.ingest_records("b", _biorxiv([v2]))
    assert stats.new_versions == 1
    paper = sqlite_store.get_paper("10.1101/2024.03.01.582999")
    assert (paper.version, paper.title) == (2, "Sleep spindles gate memory replay in the mouse cortex")
    assert paper.pdf_url == "https://www.biorxiv.org/content/10.1101/2024.03.01.582999v2.full.pdf"
    assert paper.url == "https://www.biorxiv.org/content/10.1101/2024.03.01.582999v2"


def test_doi_lookup_listing_every_version_keeps_the_newest() -> None:
    """Pins what works: ``/details/biorxiv/{doi}`` answers all versions of one DOI, oldest first;
    one record, the newest version's title and links."""
    # Shape: api.biorxiv.org "details/[server]/[DOI]/na/[format]" (e.g. /details/biorxiv/10.1101/339747).
    records = _biorxiv([_details_item(), _details_item(version="2", title="Second title"),
                        _details_item(version="3", title="Third title")])
    (r,) = records
    assert (r.version, r.title, r.url) == (3, "Third title", "https://www.biorxiv.org/content/10.1101/2024.03.01.582999v3")


# --- OpenReview -----------------------------------------------------------------------------------

def _openreview(*notes: object) -> tuple[PaperRecord, ...]:
    return parse_document("openreview", json.dumps({"notes": list(notes), "count": len(notes)}).encode()).records


def test_api_v1_blind_submission_anonymous_is_not_an_author() -> None:
    """An ICLR blind submission read through OpenReview API v1 lists ``"authors": ["Anonymous"]``:
    the placeholder names nobody, so the paper has no authors rather than one called "Anonymous"."""
    # Shape: API v1 Blind_Submission notes (openreview-py docs "Notes": invitation
    # 'ICLR.cc/2019/Conference/-/Blind_Submission'); authors ["Anonymous"], authorids
    # ["ICLR.cc/2021/Conference/Paper1/Authors"], _bibtex "@inproceedings{anonymous2021...".
    note = {"id": "abcDEF123", "original": "orig123", "number": 1, "cdate": None, "tcdate": 1601308800000,
            "tmdate": 1605000000000, "ddate": None, "forum": "abcDEF123", "replyto": None,
            "invitation": "ICLR.cc/2021/Conference/-/Blind_Submission",
            "content": {"title": "Learning Widgets with Gradients", "authors": ["Anonymous"],
                        "authorids": ["ICLR.cc/2021/Conference/Paper1/Authors"], "abstract": "x",
                        "one-sentence_summary": "s", "pdf": "/pdf/abc.pdf",
                        "_bibtex": "@inproceedings{\nanonymous2021learning,\ntitle={Learning Widgets with Gradients},"
                                   "\nauthor={Anonymous},\nbooktitle={Submitted to ICLR 2021},\nyear={2021}\n}"},
            "signatures": ["ICLR.cc/2021/Conference"], "readers": ["everyone"], "nonreaders": [],
            "writers": ["ICLR.cc/2021/Conference"]}
    (r,) = _openreview(note)
    assert r.authors == ()
    assert r.published == datetime.fromtimestamp(1601308800, tz=timezone.utc)


def test_v2_note_times_and_wrapped_values() -> None:
    """Pins what works: an API v2 accepted paper (values wrapped in {"value": ...}, pdate/mdate in ms)."""
    # Shape: API v2 notes as read by public collectors (e.g. "pdate": 1740009600000, "venueid":
    # {"value": "ICLR.cc/2025/Conference"}, "authorids": {"value": ["~Ming_Li1", ...]}).
    note = {"id": "note1ABC", "forum": "note1ABC", "number": 7, "pdate": 1740009600000, "cdate": 1727000000000,
            "mdate": 1741000000000, "content": {
                "title": {"value": "Accepted OpenReview Paper"}, "abstract": {"value": "A complete abstract."},
                "keywords": {"value": ["Reasoning", "Agents"]}, "authors": {"value": ["Ming Li", "Wei Zhang"]},
                "authorids": {"value": ["~Ming_Li1", "~Wei_Zhang1"]}, "venue": {"value": "ICLR 2025 Poster"},
                "venueid": {"value": "ICLR.cc/2025/Conference"}, "TLDR": {"value": "Short."},
                "pdf": {"value": "/pdf/0123.pdf"}}}
    (r,) = _openreview(note)
    assert r.published == datetime(2025, 2, 20, tzinfo=timezone.utc)
    assert (r.authors, r.keywords, r.tldr, r.venue) == (("Ming Li", "Wei Zhang"), ("Reasoning", "Agents"), "Short.",
                                                        "ICLR 2025 Poster")
    assert r.signals == {"venueid": "ICLR.cc/2025/Conference", "number": 7}


def test_openreview_note_with_a_list_valued_venue_is_kept() -> None:
    """Pins what works: OpenReview returns ``venueid`` (and ``venue``) as a list for some notes; the
    paper is kept, without a venue, rather than dropped or crashing."""
    # Shape: bibtex_updater's regression test ("OpenReview returns venueid as a LIST for some notes").
    (r,) = _openreview({"id": "n1", "forum": "n1", "content": {
        "title": {"value": "A Real Paper Title"}, "authors": {"value": ["Ada Lovelace"]},
        "venue": {"value": ["ICLR 2024", "ignored"]}, "venueid": {"value": ["ICLR.cc/2024/Conference"]}}})
    assert r.title == "A Real Paper Title" and r.authors == ("Ada Lovelace",)


# --- Hugging Face and arXiv, end to end -----------------------------------------------------------

def test_hugging_face_entry_and_its_arxiv_listing_are_one_paper(sqlite_store: Store) -> None:
    """Pins what works: a real daily-papers entry and the arXiv listing of the same id are one paper,
    with arXiv's version and Hugging Face's signals."""
    # Shape: the repository's real capture (sotawhat_hf_daily_papers_2026-06-12.json).
    hf = parse_document("hf-daily", HF_CAPTURE.read_bytes()).records[0]
    sqlite_store.ingest_records("hf", [hf])
    arxiv = PaperRecord("arxiv-rss", hf.arxiv_id or "", hf.title, hf.authors, arxiv_id=hf.arxiv_id, version=2,
                        abstract=hf.abstract)
    stats = sqlite_store.ingest_records("arxiv", [arxiv])
    assert stats.new == 0 and sqlite_store.paper_count() == 1
    paper = sqlite_store.get_paper(hf.arxiv_id or "")
    assert paper.version == 2 and paper.tldr == hf.tldr
    assert {v.source_kind: v.signals.get("comments") for v in paper.sources}["hf-daily"] == 2


# --- nothing crashes ------------------------------------------------------------------------------

_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                           ["doi", "biorxiv_doi", "preprint_doi", "title", "preprint_title", "authors", "version",
                            "date", "abstract", "published", "server", "value", "id", "forum", "content",
                            "pdate", "cdate", "keywords", "venue", "TLDR"]), inner, max_size=6), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(st.lists(_values, max_size=4), _values)
def test_any_biorxiv_or_openreview_items_give_records_or_a_parse_error(items: list[object], extra: object) -> None:
    """Whatever the collection/notes hold, the answer is records and warnings, or a ParseError."""
    for kind, doc in (("biorxiv", {"messages": [{"status": "ok", "total": extra}], "collection": items}),
                      ("openreview", {"notes": items, "count": extra})):
        try:
            feed = parse_document(kind, json.dumps(doc).encode())
        except ParseError:
            continue
        assert all(r.title and r.external_id for r in feed.records)
