"""digest.sources.biorxiv against the real bioRxiv/medRxiv details captures and subject RSS."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from digest.errors import ParseError
from digest.sources import biorxiv
from digest.store import Store

DATA = Path(__file__).parent / "data" / "biorxiv"
BIORXIV = DATA / "research_bot_biorxiv_details_2026-07-15_trimmed.json"
MEDRXIV = DATA / "radar-papers-mcp_medrxiv_details_2026-09-15_trimmed.json"
RSS = DATA / "feed-rs_rss_1.0_biorxiv_genomics.xml"
RSS_2019 = DATA / "netnewswire_biorxiv_plant_biology_2019-08.rdf"


def test_details_records() -> None:
    parsed = biorxiv.parse(BIORXIV.read_bytes(), source="b")
    assert parsed.status == "ok" and parsed.total_results == 3 and not parsed.warnings
    r = parsed.records[0]
    assert r.doi == r.external_id == "10.64898/2026.07.13.738145" and r.version == 1
    assert r.title == "Laterality of subcortical structures predicts spontaneous brain dynamics"
    assert r.authors == ("T. Ghafari", "A. J. Quinn", "O. Jensen")
    assert r.categories == ("neuroscience",) and r.license == "cc_by"
    assert r.published == datetime(2026, 7, 15, tzinfo=timezone.utc)
    assert r.url == "https://www.biorxiv.org/content/10.64898/2026.07.13.738145v1"
    assert r.pdf_url == "https://www.biorxiv.org/content/10.64898/2026.07.13.738145v1.full.pdf"
    assert r.signals["type"] == "new results" and r.journal_ref is None
    assert parsed.records[2].version == 3 and parsed.records[2].url.endswith("695336v3")


def test_medrxiv_links_and_jats_debris_cleaned() -> None:
    records = biorxiv.parse(MEDRXIV.read_bytes()).records
    assert all(r.url and r.url.startswith("https://www.medrxiv.org/content/10.64898/") for r in records)
    for r in records:
        for marker in ("O_ST_ABS", "C_ST_ABS", "C_LIO_LI", "O_LI", "C_LI", "O_SCPLOW", "C_SCPLOW", "SCPCAP", "{rho}"):
            assert marker not in r.abstract, (marker, r.external_id)
    shunt = records[1].abstract
    assert shunt.startswith("Background: The modified Blalock-Taussig-Thomas shunt")
    assert "\nMethods: Three-dimensional" in shunt and "(ρ = 0.94, p < 0.001" in shunt
    assert "\nWhat is new?\n- In patient-specific computational models" in shunt
    assert "Cohens K. Descriptor importance" in records[2].abstract


def test_clean_abstract_unit() -> None:
    assert biorxiv.clean_abstract("HighlightsO_LIOne.\nC_LIO_LITwo.\nC_LI") == "Highlights\n- One.\n- Two."
    assert biorxiv.clean_abstract("A O_FIG O_LINKSMALLFIG WIDTH=200 C_LINKSMALLFIG C_FIG B") == "A B"


def test_rss_feed() -> None:
    parsed = biorxiv.parse(RSS.read_bytes())
    assert parsed.title == "bioRxiv Subject Collection: Genomics"
    (r,) = parsed.records
    assert r.doi == "10.1101/2023.12.16.571984" and r.version == 1
    assert r.title.startswith("Complete genome of the Medicago anthracnose fungus")
    assert r.authors[:4] == ("N. LAPALU", "A. SIMON", "A. Lu", "P.-L. Plaumann")
    assert r.authors[-1] == "R. J. O'Connell" and len(r.authors) == 10
    assert r.url == "https://www.biorxiv.org/content/10.1101/2023.12.16.571984v1"
    assert r.published == datetime(2023, 12, 16, tzinfo=timezone.utc)


def test_2019_rss_feed_lost_escapes_and_old_ids() -> None:
    # A 2019 subject feed: six-digit DOIs (10.1101/743294) and links (".../743294v1?rss=1"), and
    # abstracts whose "\\n" escapes lost their backslashes ("unclear.nnResultsHere").
    parsed = biorxiv.parse(RSS_2019.read_bytes())
    assert parsed.status == "ok" and len(parsed.records) == 30 and not parsed.warnings
    by_doi = {r.doi: r for r in parsed.records}
    first = by_doi["10.1101/743294"]
    assert first.version == 1 and first.url == "https://www.biorxiv.org/content/10.1101/743294v1"
    assert first.authors[:2] == ("M. Kaur", "A. Shukla") and "vip1Δ" in first.abstract
    assert all(r.version == 1 for r in parsed.records)
    gata = by_doi["10.1101/744003"].abstract
    assert gata.startswith("Background: Moso bamboo is well-known")
    assert "remains unclear.\nResults: Here, we found" in gata
    assert "GA signaling pathway.\nConclusions: Our results provide" in gata
    atlas = by_doi["10.1101/744326"].abstract.split("\n")
    assert len(atlas) == 4 and all(line.startswith("- ") and line.endswith(".") for line in atlas), atlas
    assert by_doi["10.1101/745463"].abstract.endswith(
        "aquatic ecosystems.\nOne sentence summary: Green microalgae produce N2O using flavodiiron proteins "
        "in the light and a cytochrome P450 NO reductase in the dark.")
    assert "\nHIGHLIGHT: In common bean" in by_doi["10.1101/736199"].abstract
    assert "\nSignificance Statement: Symbiotic bacteria" in by_doi["10.1101/741314"].abstract
    assert "\nAbbreviations: AM, Arbuscular Mycorrhizal;" in by_doi["10.1101/740043"].abstract
    for r in parsed.records:
        assert not re.search(r"[.!?]nn?[A-Z]|C_LI|O_LI|\{[A-Za-z]+\}", r.abstract), (r.doi, r.abstract)


@pytest.mark.parametrize(("raw", "clean"), [
    # A bare "nn" is a lost paragraph break only between a sentence's end and a capital.
    ("It works.nnResultsWe saw it.", "It works.\nResults: We saw it."),
    ("Channels.nnA", "Channels.\nA"),
    ("The innate immunity. Cnn models.", "The innate immunity. Cnn models."),
    ("annNNA and e.g.nnone", "annNNA and e.g.nnone"),
    # A heading glued to an acronym.
    ("BackgroundCOVID-19 spread.", "Background: COVID-19 spread."),
    ("MethodsAn RNAseq study.", "Methods: An RNAseq study."),
])
def test_lost_escapes_and_glued_headings(raw: str, clean: str) -> None:
    assert biorxiv.clean_abstract(raw) == clean


def test_two_versions_in_one_answer_keep_the_newest() -> None:
    doc = json.loads(BIORXIV.read_bytes())
    older = {**doc["collection"][2], "version": "2"}
    doc["collection"].append(older)
    records = biorxiv.parse(json.dumps(doc).encode()).records
    assert len(records) == 3 and records[2].version == 3


def test_a_revision_is_dated_as_an_update() -> None:
    """A record's date is the day its version was posted: v3 of 2026-07-15 updated the paper then."""
    revised = biorxiv.parse(BIORXIV.read_bytes()).records[2]
    assert revised.version == 3 and revised.published is None
    assert revised.updated == datetime(2026, 7, 15, tzinfo=timezone.utc)
    doc = json.loads(BIORXIV.read_bytes())
    first = {**doc["collection"][2], "version": "1", "date": "2026-01-05"}
    doc["collection"].insert(0, first)
    newest = next(r for r in biorxiv.parse(json.dumps(doc).encode()).records if r.doi == first["doi"])
    assert newest.version == 3 and newest.published == datetime(2026, 1, 5, tzinfo=timezone.utc)
    assert newest.updated == datetime(2026, 7, 15, tzinfo=timezone.utc)


def test_a_real_page_of_revisions() -> None:
    """masonberger4/X's capture: v2 and v3 posted on 2026-09-07 beside new papers of that day."""
    parsed = biorxiv.parse((DATA / "masonberger4-X_biorxiv_details_cancer-biology_2026-09-07_first10.json").read_bytes())
    assert parsed.status == "ok" and len(parsed.records) == 10 and not parsed.warnings
    day = datetime(2026, 9, 7, tzinfo=timezone.utc)
    revised = [r for r in parsed.records if r.version and r.version > 1]
    assert [r.version for r in revised] == [2, 3]
    assert all(r.published is None and r.updated == day for r in revised)
    assert all(r.published == day and r.updated is None for r in parsed.records if r.version == 1)
    assert revised[0].url == "https://www.biorxiv.org/content/10.64898/2026.04.19.716936v2"  # "\/" escapes read


def test_a_revision_in_the_subject_feed_is_dated_as_an_update() -> None:
    # The 2019 capture's first item as its second version would be linked.
    feed = RSS_2019.read_bytes().replace(b"short/743294v1?rss=1", b"short/743294v2?rss=1")
    records = biorxiv.parse(feed).records
    revised = next(r for r in records if r.doi == "10.1101/743294")
    assert revised.version == 2 and revised.published is None and revised.updated is not None
    assert all(r.published is not None and r.updated is None for r in records if r is not revised)


@pytest.mark.parametrize("status", ["no posts found", "no articles found for published version of ",
                                    "No posts found"])
def test_nothing_found_is_an_empty_answer(status: str) -> None:
    parsed = biorxiv.parse(json.dumps({"messages": [{"status": status}], "collection": []}).encode())
    assert parsed.status == "empty" and parsed.total_results == 0 and not parsed.records


def test_status_messages_and_broken_records() -> None:
    assert biorxiv.parse(b'{"messages": [{"status": "error: bad interval"}], "collection": []}').status == "error"
    doc = json.loads(BIORXIV.read_bytes())
    doc["collection"][1:1] = [{"title": "no doi"}, "junk", {"doi": "10.1101/x", "title": ""}]
    parsed = biorxiv.parse(json.dumps(doc).encode())
    assert len(parsed.records) == 3 and len(parsed.warnings) == 3
    for bad in (b'{"collection": []}', b"[]", b"", b"<html><body>x</body></html>"):
        with pytest.raises(ParseError):
            biorxiv.parse(bad)


def test_details_url_and_cursor_paging() -> None:
    url = biorxiv.details_url("bioRxiv", date(2026, 7, 15), date(2026, 7, 18), 0)
    assert url == "https://api.biorxiv.org/details/biorxiv/2026-07-15/2026-07-18/0"
    with pytest.raises(ValueError):
        biorxiv.details_url("arxiv", "2026-01-01", "2026-01-02")
    page = {"messages": [{"status": "ok", "cursor": "0", "count": 100, "total": "250"}], "collection": []}
    assert biorxiv.next_page_url(url, json.dumps(page).encode()) == url[:-1] + "100"
    page["messages"][0].update(cursor="200", count=50)
    assert biorxiv.next_page_url(url, json.dumps(page).encode()) is None
    # The capture's own numbers: cursor 0 + count 3 reaches total "3".
    assert biorxiv.next_page_url(url, BIORXIV.read_bytes()) is None
    # Interval forms without a cursor segment and with a format suffix.
    page["messages"][0].update(cursor=0, count=100)
    body = json.dumps(page).encode()
    assert biorxiv.next_page_url("https://api.biorxiv.org/details/medrxiv/7d", body) == (
        "https://api.biorxiv.org/details/medrxiv/7d/100")
    assert biorxiv.next_page_url("https://api.biorxiv.org/details/biorxiv/2026-01-01/2026-01-02/0/json", body) == (
        "https://api.biorxiv.org/details/biorxiv/2026-01-01/2026-01-02/100/json")


def test_medrxiv_rss_feed() -> None:
    # Constructed after connect.medrxiv.org's subject feeds: abstracts whose section headings are glued
    # to the sentence before and after them, and (second item) no dc:identifier, only the page link.
    parsed = biorxiv.parse((DATA / "medrxiv_rss1_constructed.xml").read_bytes())
    a, b = parsed.records
    assert a.doi == "10.1101/2024.02.05.24302345" and a.version == 1 and a.signals == {"server": "medrxiv"}
    assert a.authors == ("J. Smith", "A. B. Doe", "M. Garcia-Lopez")
    assert a.abstract == "Background: Long COVID is common.\nMethods: We did things."
    assert b.doi == b.external_id == "10.1101/2024.02.01.24302100" and b.version == 2
    assert b.url == "https://www.medrxiv.org/content/10.1101/2024.02.01.24302100v2"


@pytest.mark.parametrize(("raw", "clean"), [
    ("BackgroundThe shunt is used.MethodsWe modelled it.ResultsIt works. ConclusionsGood.",
     "Background: The shunt is used.\nMethods: We modelled it.\nResults: It works.\nConclusions: Good."),
    # Only a heading glued to a capitalised word after a sentence counts.
    ("Our Methods section. The Results table.", "Our Methods section. The Results table."),
    ("Work on e.g.Designer proteins.", "Work on e.g.Designer proteins."),
])
def test_glued_headings_inside_a_line(raw: str, clean: str) -> None:
    assert biorxiv.clean_abstract(raw) == clean


def test_details_fields_never_keep_markup() -> None:
    item = {"doi": "10.1101/2024.02.01.578123", "title": "T", "authors": "Smith, J.", "version": "1",
            "date": "2024-02-01", "category": "genomics", "abstract": "A.", "published": "NA", "server": "bioRxiv",
            "license": "cc_by<script>alert(1)</script>", "type": "new results<img src=x onerror=alert(2)>",
            "author_corresponding": '<a href="javascript:alert(3)">John Smith</a>'}
    doc = {"messages": [{"status": "ok", "cursor": 0, "count": 1, "total": 1}], "collection": [item]}
    (r,) = biorxiv.parse(json.dumps(doc).encode()).records
    assert r.license == "cc_by"
    assert r.signals == {"server": "biorxiv", "type": "new results", "corresponding_author": "John Smith"}


@pytest.mark.parametrize("body", [
    b"<rdf:RDF><item><title>x</title></item></rdf:RDF>",  # prefix never declared (recovered by libxml2)
    b'<?xml version="1.0"?><rdo:RDF xmlns="http://purl.org/rss/1.0/"><item/></rdo:RDF>',
])
def test_undeclared_namespace_prefix_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError):
        biorxiv.parse(body)


def test_published_journal_doi_is_an_alias_of_the_preprint() -> None:
    # The captures' preprints are unpublished ("NA"); the real first item, as the API answers once
    # the journal version is out.
    answer = json.loads(BIORXIV.read_bytes())
    answer["collection"][0]["published"] = "10.1016/J.CELL.2026.01.001"
    answer["collection"][1]["published"] = answer["collection"][1]["doi"]  # its own DOI: no alias
    first, second, *_ = biorxiv.parse(json.dumps(answer).encode()).records
    assert first.aliases == ("doi:10.1016/j.cell.2026.01.001",)
    assert first.journal_ref == "doi:10.1016/j.cell.2026.01.001" and first.doi == "10.64898/2026.07.13.738145"
    assert second.aliases == ()


def _pubs_answer() -> dict[str, object]:
    """A publisher-API page (/pubs/biorxiv/{start}/{end}/{cursor}), the real details capture's first
    preprint in the fields the API documents for it (https://api.biorxiv.org: "Publisher")."""
    item = json.loads(BIORXIV.read_bytes())["collection"][0]
    return {"messages": [{"status": "ok", "interval": "2026-07-13:2026-07-15", "cursor": 0, "count": 1, "total": "101"}],
            "collection": [{"preprint_doi": item["doi"], "published_doi": "10.1016/J.CELL.2026.01.001",
                            "published_journal": "Cell", "preprint_platform": "bioRxiv",
                            "preprint_title": item["title"], "preprint_authors": item["authors"],
                            "preprint_category": item["category"], "preprint_date": item["date"],
                            "published_date": "2026-07-14", "preprint_abstract": item["abstract"],
                            "preprint_author_corresponding": item["author_corresponding"]}]}


def test_publisher_api_records_are_the_preprint_with_its_journal_doi() -> None:
    details = biorxiv.parse(BIORXIV.read_bytes()).records[0]
    (pub,) = biorxiv.parse(json.dumps(_pubs_answer()).encode()).records
    assert (pub.doi, pub.title, pub.authors, pub.abstract, pub.categories, pub.published) == (
        details.doi, details.title, details.authors, details.abstract, details.categories, details.published)
    assert pub.version is None and pub.venue == "Cell" and pub.aliases == ("doi:10.1016/j.cell.2026.01.001",)
    url = "https://api.biorxiv.org/pubs/biorxiv/2026-07-13/2026-07-15/0"
    assert biorxiv.next_page_url(url, json.dumps(_pubs_answer()).encode()) == url[:-1] + "1"


def test_publisher_api_answer_merges_with_the_preprint_and_its_journal_entry(store: Store) -> None:
    from digest.models import PaperRecord

    details = biorxiv.parse(BIORXIV.read_bytes()).records[0]
    store.ingest_records("details", [details])
    store.ingest_records("pubs", biorxiv.parse(json.dumps(_pubs_answer()).encode()).records)
    journal = PaperRecord("rss", "https://www.cell.com/x", "A Journal Title", details.authors, doi="10.1016/j.cell.2026.01.001",
                          url="https://www.cell.com/x")
    stats = store.ingest_records("cell", [journal])
    assert stats.merged == 1 and store.paper_count() == 1
    paper = store.get_paper("10.1016/j.cell.2026.01.001")
    assert paper.id == f"doi:{details.doi}" and paper.version == details.version and paper.venue == "Cell"
