"""A paper's page (``GET /papers/{id}``) says where and when it appeared: arXiv id and version,
DOI, dates, the journal a publisher's feed named, the licence; feed values stay escaped and only
http(s) licences become links. A real SQLite store through Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import lxml.html
import pytest
from starlette.testclient import TestClient

from digest.config import Settings
from digest.models import PaperRecord
from digest.sources import parse_document
from digest.store import Store
from digest.web import create_app

DATA = Path(__file__).parent / "data" / "generic-rss"


@pytest.fixture
def client(tmp_path: Path, sqlite_store: Store) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, secret_key="k" * 40)  # type: ignore[arg-type]
    with TestClient(create_app(settings, sqlite_store)) as c:
        yield c


def _facts(html: str) -> tuple[str, str | None, str | None]:
    doc = lxml.html.fromstring(html)
    (facts,) = doc.xpath('//p[contains(@class, "facts")]') or [None]
    venue = doc.xpath('//p[contains(@class, "venue")]')
    licence = [p for p in doc.xpath('//p[contains(@class, "meta")]') if p.text_content().startswith("licence")]
    return (" · ".join(s.text_content() for s in facts.xpath("span")) if facts is not None else "",
            venue[0].text_content() if venue else None, licence[0].text_content() if licence else None)


def test_arxiv_paper_with_its_journal_reference(client: TestClient, sqlite_store: Store) -> None:
    sqlite_store.ingest_records("arxiv", [PaperRecord(
        source_kind="arxiv-rss", external_id="2411.00002", arxiv_id="2411.00002", version=3, title="Dark matter",
        doi="10.1103/PhysRevD.110.123456", journal_ref="Phys. Rev. D 110, 123456 (2024)",
        published=datetime(2024, 11, 1, tzinfo=timezone.utc), updated=datetime(2024, 12, 2, tzinfo=timezone.utc),
        license="http://creativecommons.org/licenses/by/4.0/")])
    page = client.get("/papers/arxiv:2411.00002")
    facts, venue, licence = _facts(page.text)
    # DOIs are case-insensitive; the store keeps them lower-cased.
    assert facts == "arXiv:2411.00002v3 · DOI 10.1103/physrevd.110.123456 · published 2024-11-01 · updated 2024-12-02"
    assert venue == "in Phys. Rev. D 110, 123456 (2024)"
    assert licence == "licence http://creativecommons.org/licenses/by/4.0/"
    doc = lxml.html.fromstring(page.text)
    assert doc.xpath('//a[@href="https://doi.org/10.1103/physrevd.110.123456"]')
    assert doc.xpath('//a[contains(@rel, "license")][@href="http://creativecommons.org/licenses/by/4.0/"]')
    assert not doc.xpath('//a[text()="OpenReview"]')


def test_journal_feed_entry_shows_its_venue(client: TestClient, sqlite_store: Store) -> None:
    records = parse_document("rss", (DATA / "react-native-rss-parser_elsevier_jpeds_rss1.xml").read_bytes()).records
    sqlite_store.ingest_records("jpeds", records)
    page = client.get("/papers/doi:10.1016/j.jpeds.2018.08.009")
    assert page.status_code == 200
    facts, venue, licence = _facts(page.text)
    assert facts == "DOI 10.1016/j.jpeds.2018.08.009 · published 2018-10-11"
    assert venue == "in The Journal of Pediatrics 203, 68–75.e2 (2018)" and licence is None


def test_hostile_values_are_escaped_and_a_script_licence_is_no_link(client: TestClient, sqlite_store: Store) -> None:
    xss = '<script>alert(1)</script>'
    sqlite_store.ingest_records("blog", [PaperRecord(
        source_kind="rss", external_id="https://example.org/p", url="https://example.org/p", title="A post",
        doi='10.5555/"><script>x</script>', venue=f"Venue {xss}", license="javascript:alert(1)")])
    page = client.get("/papers/doi:10.5555/%22%3E%3Cscript%3Ex%3C/script%3E")
    assert page.status_code == 200 and "<script>" not in page.text
    doc = lxml.html.fromstring(page.text)
    facts, venue, licence = _facts(page.text)
    assert venue == f"in Venue {xss}" and licence == "licence javascript:alert(1)"
    assert not [a for a in doc.iter("a") if "javascript" in (a.get("href") or "")]
    doi_links = [a.get("href") for a in doc.iter("a") if (a.get("href") or "").startswith("https://doi.org/")]
    assert doi_links and all('"' not in href and "<" not in href for href in doi_links)


def test_a_paper_with_nothing_to_tell_has_no_empty_lines(client: TestClient, sqlite_store: Store) -> None:
    sqlite_store.ingest_records("blog", [PaperRecord(source_kind="rss", external_id="https://example.org/q",
                                                     url="https://example.org/q", title="A note")])
    page = client.get("/papers/url:https://example.org/q")
    assert page.status_code == 200
    assert _facts(page.text) == ("", None, None)


def test_listings_say_when_each_paper_appeared(client: TestClient, sqlite_store: Store) -> None:
    sqlite_store.ingest_records("arxiv", [
        PaperRecord(source_kind="arxiv-rss", external_id="2411.00003", arxiv_id="2411.00003", version=2,
                    title="Dark matter halos", abstract="Dark matter halos in simulations.",
                    published=datetime(2024, 11, 1, tzinfo=timezone.utc), updated=datetime(2024, 12, 2, tzinfo=timezone.utc)),
        PaperRecord(source_kind="arxiv-rss", external_id="2411.00004", arxiv_id="2411.00004", version=1,
                    title="Dark matter detectors", abstract="Dark matter detectors underground.",
                    published=datetime(2024, 11, 5, tzinfo=timezone.utc))])
    page = client.get("/search", params={"q": "dark matter"})
    doc = lxml.html.fromstring(page.text)
    lines = {a.xpath("h3/a")[0].text_content(): " · ".join(s.text_content() for s in a.xpath('p[contains(@class, "facts")]/span'))
             for a in doc.xpath('//article[contains(@class, "paper")]')}
    assert lines["Dark matter halos"].startswith("2024-11-01 (updated 2024-12-02) · score ")
    assert lines["Dark matter detectors"].startswith("2024-11-05 · score ") and lines["Dark matter detectors"].endswith(" · via arXiv")


def test_a_paper_on_openreview_links_its_forum(client: TestClient, sqlite_store: Store) -> None:
    sqlite_store.ingest_records("iclr", [PaperRecord(
        source_kind="openreview", external_id="Gj5JTAwdoy", openreview_id="Gj5JTAwdoy", arxiv_id="2410.05167",
        title="Presto!", url="https://openreview.net/forum?id=Gj5JTAwdoy", venue="ICLR 2025 Spotlight")])
    doc = lxml.html.fromstring(client.get("/papers/arxiv:2410.05167").text)
    assert [a.get("href") for a in doc.xpath('//a[text()="OpenReview"]')] == ["https://openreview.net/forum?id=Gj5JTAwdoy"]
