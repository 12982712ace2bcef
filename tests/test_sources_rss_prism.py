"""Journal feeds' PRISM metadata (https://www.idealliance.org/prism-metadata) as a paper's venue and
journal reference, kind "rss": two real RSS 1.0 captures (tests/data/SOURCES.md) and the shapes
around them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from digest.models import PaperRecord
from digest.sources import parse_document
from digest.store import Store

DATA = Path(__file__).parent / "data" / "generic-rss"


def _read(name: str) -> tuple[PaperRecord, ...]:
    return parse_document("rss", (DATA / name).read_bytes()).records


def test_elsevier_atypon_feed_gives_journal_volume_and_pages() -> None:
    (r,) = _read("react-native-rss-parser_elsevier_jpeds_rss1.xml")
    assert r.doi == "10.1016/j.jpeds.2018.08.009"  # a bare dc:identifier
    assert r.venue == "The Journal of Pediatrics"
    assert r.journal_ref == "The Journal of Pediatrics 203, 68–75.e2 (2018)"
    assert r.published == datetime(2018, 10, 11, tzinfo=timezone.utc)
    assert len(r.authors) == 13 and r.authors[3] == "Erik van Widenfelt"


def test_mdpi_feed_gives_journal_volume_issue_and_article_number() -> None:
    (r,) = _read("zotero_mdpi_fluids_rss1.xml")
    assert r.title == "Environmental Hydraulics, Turbulence, and Sediment Transport, Second Edition"
    assert r.doi == "10.3390/fluids9060120"  # "doi: 10.3390/..." with a space, and prism:doi
    assert (r.venue, r.journal_ref) == ("Fluids", "Fluids 9(6), 120 (2024)")


def _rdf(channel_extra: str, item_extra: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/">'
            f'<channel rdf:about="https://j.example.org/"><title>J</title><link>https://j.example.org/</link>'
            f"<description>d</description>{channel_extra}</channel>"
            '<item rdf:about="https://j.example.org/a/1"><title>Lidar odometry</title>'
            "<link>https://j.example.org/a/1</link><dc:date>2024-02-07</dc:date>"
            f"<prism:doi>10.5555/j.1</prism:doi>{item_extra}</item></rdf:RDF>").encode()


def test_channel_names_the_journal_when_items_do_not() -> None:
    (r,) = parse_document("rss", _rdf("<prism:publicationName>Journal of Robots</prism:publicationName>",
                                      "<prism:volume>12</prism:volume><prism:startingPage>7</prism:startingPage>")).records
    assert (r.venue, r.journal_ref) == ("Journal of Robots", "Journal of Robots 12, 7 (2024)")


def test_a_name_without_a_volume_is_a_venue_only_and_no_name_is_neither() -> None:
    (r,) = parse_document("rss", _rdf("", "<prism:publicationName>Robots &amp; Co</prism:publicationName>")).records
    assert (r.venue, r.journal_ref) == ("Robots & Co", None)
    (bare,) = parse_document("rss", _rdf("", "<prism:volume>12</prism:volume>")).records
    assert (bare.venue, bare.journal_ref) == (None, None)


def test_markup_and_overlong_names_are_cleaned() -> None:
    name = "<b>Acta</b> " + "X" * 400
    (r,) = parse_document("rss", _rdf("", f"<prism:publicationName><![CDATA[{name}]]></prism:publicationName>"
                                          "<prism:volume>3</prism:volume>")).records
    assert r.venue is not None and r.venue.startswith("Acta X") and "<" not in r.venue and len(r.venue) == 300
    assert r.journal_ref is not None and len(r.journal_ref) == 300


def test_journal_entry_lends_its_reference_to_the_preprint(sqlite_store: Store) -> None:
    preprint = PaperRecord(source_kind="arxiv-rss", external_id="2401.00001", title="Lidar odometry",
                           authors=("Jane Doe",), arxiv_id="2401.00001", version=1, doi="10.5555/j.1")
    sqlite_store.ingest_records("arxiv", [preprint])
    journal = parse_document("rss", _rdf("", "<prism:publicationName>Journal of Robots</prism:publicationName>"
                                             "<prism:volume>12</prism:volume>")).records
    sqlite_store.ingest_records("journal", journal)
    paper = sqlite_store.get_paper("arxiv:2401.00001")
    assert (paper.venue, paper.journal_ref) == ("Journal of Robots", "Journal of Robots 12 (2024)")
    assert sqlite_store.paper_count() == 1
