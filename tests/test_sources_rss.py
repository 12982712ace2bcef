"""digest.sources.rss: generic RSS/Atom/JSON Feed, arXiv id / DOI extraction, and the bad-input
corpus in tests/data/bad/ (issue #2: "Bad input gets a clear error, and nothing is lost")."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import ParseError
from digest.models import PaperRecord
from digest.sources import rss

DATA = Path(__file__).parent / "data"
IACR = DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml"
BAD = DATA / "bad"


def test_iacr_eprint_feed() -> None:
    parsed = rss.parse(IACR.read_bytes(), source="iacr")
    assert parsed.status == "ok" and parsed.title == "Cryptology ePrint Archive" and not parsed.warnings
    assert parsed.feed_date == datetime(2026, 7, 18, 18, 24, 4, tzinfo=timezone.utc)
    assert len(parsed.records) == 3
    r = parsed.records[0]
    assert r.title == "SoK: Offline Finding Protocols for Lightweight Location Tracking"
    assert r.url == r.external_id == "https://eprint.iacr.org/2026/488"
    assert r.arxiv_id is None and r.doi is None
    assert r.pdf_url == "https://eprint.iacr.org/2026/488.pdf"
    assert r.authors == ("Akshaya Kumar", "Carolina Ortega Pérez", "Joseph Jaeger", "Thomas Ristenpart",
                         "Michael A. Specter")
    assert r.categories == ("Cryptographic protocols",)
    assert r.published == datetime(2026, 3, 9, 9, 5, 50, tzinfo=timezone.utc) and r.updated is None
    assert r.license == "https://creativecommons.org/licenses/by/4.0/"
    assert r.abstract.startswith("Offline finding (OF) protocols---such as Apple's Find My")
    assert "<" not in r.abstract
    # Whitespace in the title is collapsed, the original kept.
    assert parsed.records[1].title == ("Threshold Public-Key Encryption: Definitions, Relations, and CPA-to-CCA "
                                       "Transforms")


def test_biorxiv_rss_read_as_generic_rss_gets_its_doi() -> None:
    (r,) = rss.parse((DATA / "biorxiv" / "feed-rs_rss_1.0_biorxiv_genomics.xml").read_bytes()).records
    assert r.doi == "10.1101/2023.12.16.571984" and len(r.authors) == 10


def test_a_biorxiv_feed_read_as_generic_rss_gets_the_same_clean_abstracts() -> None:
    """A bioRxiv subject feed configured as kind "rss" (any RSS URL): its abstracts' JATS debris and
    lost line breaks are cleaned as the bioRxiv source cleans them; other journals' are left alone."""
    from digest.ids import is_preprint_doi
    from digest.sources import biorxiv

    data = (DATA / "biorxiv" / "netnewswire_biorxiv_plant_biology_2019-08.rdf").read_bytes()
    generic = {r.doi: r.abstract for r in rss.parse(data).records}
    assert generic == {r.doi: r.abstract for r in biorxiv.parse(data).records}
    assert generic["10.1101/744326"].startswith("- The lycophyte Selaginella")
    assert [is_preprint_doi(d) for d in ("10.1101/744326", "10.1101/2023.12.16.571984", "10.64898/2026.07.13.738145",
                                         "10.1101/gr.278001.123", "10.1038/nature123", None)] == [
        True, True, True, False, False, False]


def test_arxiv_announcements_in_another_wrapper_lose_their_header() -> None:
    """rss.arxiv.org also serves its announcements as Atom (constructed here in that shape: the
    same "arXiv:<id> Announce Type: <type> Abstract:" summary), and mirrors re-wrap them: the header
    is no abstract, and its announce type is kept. The arXiv RSS capture read by this generic parser
    gets exactly the arXiv parser's abstracts and announce types."""
    atom = ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>cs.LG updates on arXiv.org</title><id>http://rss.arxiv.org/atom/cs.LG</id>"
            "<updated>2024-11-28T05:00:00Z</updated><entry><id>oai:arXiv.org:2411.17700v2</id>"
            "<title>Generative AI and brands</title><updated>2024-11-28T05:00:00Z</updated>"
            '<link href="https://arxiv.org/abs/2411.17700" rel="alternate" type="text/html"/>'
            "<summary>arXiv:2411.17700v2 Announce Type: replace \nAbstract: This study investigates brands.</summary>"
            "<author><name>Ada Lovelace</name></author></entry></feed>").encode()
    (r,) = rss.parse(atom).records
    assert (r.arxiv_id, r.version, r.announce_type, r.abstract) == ("2411.17700", 2, "replace", "This study investigates brands.")
    from digest.sources import arxiv_rss

    data = (DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml").read_bytes()
    generic = {x.arxiv_id: (x.abstract, x.announce_type) for x in rss.parse(data).records}
    assert generic == {x.arxiv_id: (x.abstract, x.announce_type) for x in arxiv_rss.parse(data).records}


def test_arxiv_atom_read_as_generic_rss_gets_arxiv_ids() -> None:
    records = rss.parse((DATA / "arxiv-atom" / "sotawhat_arxiv_transformer_cs.LG_2026-06-14.xml").read_bytes()).records
    assert [(r.arxiv_id, r.version) for r in records][:2] == [("2606.13677", 1), ("2606.13591", 1)]


# --- arXiv id and DOI in every common form ----------------------------------------------------

_ARXIV_FORMS = [
    ("https://arxiv.org/abs/2401.01234", ("2401.01234", None)),
    ("https://arxiv.org/abs/2401.01234v2", ("2401.01234", 2)),
    ("http://arxiv.org/abs/2401.01234v3", ("2401.01234", 3)),
    ("https://www.arxiv.org/abs/2401.01234", ("2401.01234", None)),
    ("arxiv.org/abs/2401.01234", ("2401.01234", None)),
    ("www.arxiv.org/abs/2401.01234v1", ("2401.01234", 1)),
    ("https://arxiv.org/pdf/2401.01234", ("2401.01234", None)),
    ("https://arxiv.org/pdf/2401.01234v2", ("2401.01234", 2)),
    ("https://arxiv.org/pdf/2401.01234v2.pdf", ("2401.01234", 2)),
    ("arxiv.org/pdf/2401.01234.pdf", ("2401.01234", None)),
    ("https://arxiv.org/html/2401.01234v1", ("2401.01234", 1)),
    ("https://export.arxiv.org/abs/2401.01234", ("2401.01234", None)),
    ("https://arxiv.org/abs/0704.0001", ("0704.0001", None)),
    ("https://arxiv.org/abs/hep-th/9901001v2", ("hep-th/9901001", 2)),
    ("arxiv.org/abs/math.GT/0309136", ("math/0309136", None)),  # the subject class is not part of the id
    ("https://doi.org/10.48550/arXiv.2401.01234", ("2401.01234", None)),
    ("https://huggingface.co/papers/2401.01234", ("2401.01234", None)),
    ("https://ar5iv.org/abs/2401.01234", ("2401.01234", None)),
    ("oai:arXiv.org:2401.01234v4", ("2401.01234", 4)),
]


@pytest.mark.parametrize(("link", "expected"), _ARXIV_FORMS)
def test_arxiv_id_from_entry_link(link: str, expected: tuple[str, int | None]) -> None:
    assert rss.entry_ids(entry_id=None, link=link)[0] == expected


@pytest.mark.parametrize("text", ["Accepted at NeurIPS. arXiv:2401.01234v2", "Preprint: arXiv 2401.01234v2",
                                  "see (arxiv:2401.01234v2)."])
def test_arxiv_id_from_entry_text(text: str) -> None:
    assert rss.entry_ids(entry_id="tag:x", link="https://blog.example.org/p", texts=[text]) == (("2401.01234", 2), None)


def test_plain_decimals_in_text_are_not_arxiv_ids() -> None:
    assert rss.entry_ids(entry_id="1", link="https://e.org/1", texts=["accuracy 2401.01234 on 1501.00001"]) == (
        None, None)


@pytest.mark.parametrize(("where", "value"), [
    ("link", "https://doi.org/10.1145/3580305.3599256"),
    ("link", "http://dx.doi.org/10.1145/3580305.3599256"),
    ("link", "https://www.doi.org/10.1145/3580305.3599256"),
    ("link", "https://dl.acm.org/doi/10.1145/3580305.3599256"),
    ("id", "doi:10.1145/3580305.3599256"),
    ("identifiers", "doi:10.1145/3580305.3599256"),
    ("identifiers", "10.1145/3580305.3599256"),
    ("text", "Published version: doi:10.1145/3580305.3599256."),
    ("text", "See https://doi.org/10.1145/3580305.3599256 for the article."),
])
def test_doi_from_entry(where: str, value: str) -> None:
    kw: dict[str, object] = {"entry_id": "tag:1", "link": "https://example.org/1"}
    if where == "link":
        kw["link"] = value
    elif where == "id":
        kw["entry_id"] = value
    elif where == "identifiers":
        kw["identifiers"] = [value]
    else:
        kw["texts"] = [value]
    assert rss.entry_ids(**kw) == (None, "10.1145/3580305.3599256")  # type: ignore[arg-type]


def test_an_entry_with_its_own_doi_is_not_the_arxiv_paper_its_text_mentions() -> None:
    """A journal's news story about a preprint: its DOI makes it its own publication."""
    assert rss.entry_ids(entry_id="https://www.nature.com/articles/d41586-024-00400-1",
                         link="https://www.nature.com/articles/d41586-024-00400-1",
                         identifiers=["doi:10.1038/d41586-024-00400-1"],
                         texts=["described in a preprint (arXiv:2401.01234)"]) == (None, "10.1038/d41586-024-00400-1")
    # Without a DOI of its own, an entry naming a paper in its text is about that paper (a lab's post).
    assert rss.entry_ids(entry_id="https://lab.example.org/p/1", link="https://lab.example.org/p/1",
                         texts=["Our paper arXiv:2401.01234v2 is out"]) == (("2401.01234", 2), None)


def test_bare_doi_in_prose_is_not_taken() -> None:
    # A reference list in a summary names other papers' DOIs; only "doi:" or doi.org counts.
    assert rss.entry_ids(entry_id="tag:1", link="https://example.org/1", texts=["cf. 10.1000/xyz123"]) == (None, None)


def _rss(items: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>T</title><link>https://example.org/</link><description>d</description>{items}"
            f"</channel></rss>").encode()


def test_entry_naming_an_arxiv_paper_merges_by_arxiv_id() -> None:
    body = _rss("<item><title>Our paper on X</title><link>https://arxiv.org/pdf/2401.01234v3</link>"
                "<dc:creator>Smith, J.; Doe, A. B.</dc:creator><category>cs.LG</category>"
                "<category>cs.LG</category></item>")
    (r,) = rss.parse(body).records
    assert (r.arxiv_id, r.version, r.url) == ("2401.01234", 3, "https://arxiv.org/pdf/2401.01234v3")
    assert r.authors == ("J. Smith", "A. B. Doe") and r.categories == ("cs.LG",)


@pytest.mark.parametrize("title", [
    "<title><![CDATA[RSV in infants aged <6 months and adults aged >60 years]]></title>",
    "<title>RSV in infants aged &lt;6 months and adults aged &gt;60 years</title>",
])
def test_inequalities_in_titles_are_text(title: str) -> None:
    """A "<" and a later ">" in a title are mathematics or medicine, not a tag to delete."""
    (r,) = rss.parse(_rss(f"<item>{title}<link>https://www.medrxiv.org/content/10.1101/2024.02.06.24302399v1</link>"
                          "</item>")).records
    assert r.title == "RSV in infants aged <6 months and adults aged >60 years"


def test_inequalities_in_atom_text_titles_are_text() -> None:
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab</title><id>urn:lab</id>'
            b'<entry><title type="text">Bounds for n&lt;k and k&gt;m when p&lt;0.05 and q&gt;1</title>'
            b'<id>urn:uuid:2</id><link href="https://lab.example.org/posts/2"/></entry></feed>')
    (r,) = rss.parse(body).records
    assert r.title == "Bounds for n<k and k>m when p<0.05 and q>1"


def test_relative_links_resolve_against_the_feed() -> None:
    """RFC 3986 §5: against the feed's own URL (its rel="self" link), else the site it names."""
    body = (b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>PsyArXiv</title>'
            b'<link>https://osf.io/preprints/psyarxiv</link>'
            b'<atom:link href="https://osf.io/preprints/psyarxiv/feed.rss" rel="self" type="application/rss+xml"/>'
            b'<item><title>Absolute path</title><link>/preprints/psyarxiv/ab12c</link>'
            b'<guid isPermaLink="false">ab12c</guid></item>'
            b'<item><title>Relative path</title><link>cd34e</link>'
            b'<enclosure url="cd34e/download.pdf" type="application/pdf" length="1"/></item>'
            b'<item><title>No link</title><guid isPermaLink="false">x</guid></item></channel></rss>')
    parsed = rss.parse(body)
    assert [(r.title, r.url, r.pdf_url) for r in parsed.records] == [
        ("Absolute path", "https://osf.io/preprints/psyarxiv/ab12c", None),
        ("Relative path", "https://osf.io/preprints/psyarxiv/cd34e", "https://osf.io/preprints/psyarxiv/cd34e/download.pdf")]
    assert parsed.warnings == ("entry 3 skipped: no link, id, arXiv id or DOI",)
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "Lab", "home_page_url": "https://lab.example.org/",
           "items": [{"id": "1", "url": "/pubs/sparse-moe", "title": "Sparse MoE"}]}
    (r,) = rss.parse(json.dumps(doc).encode()).records
    assert r.url == "https://lab.example.org/pubs/sparse-moe"
    # Without an absolute URL of the feed's own, a relative link names nothing.
    bare = _rss("<item><title>Orphan</title><link>/p/1</link></item>").replace(b"https://example.org/", b"/")
    assert rss.parse(bare).records == ()


def test_atom_feed_with_content_and_authors() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab</title><id>urn:lab</id><updated>2025-03-01T00:00:00Z</updated>
<entry><title type="html">A &lt;em&gt;new&lt;/em&gt; result</title><id>urn:uuid:1</id>
<link rel="alternate" href="https://lab.example.org/posts/1"/>
<link rel="related" type="application/pdf" href="https://lab.example.org/posts/1.pdf"/>
<published>2025-02-27T10:00:00+01:00</published><updated>2025-02-28T00:00:00Z</updated>
<author><name>Ada Lovelace</name></author><author><name>Babbage, Charles</name></author>
<content type="html">&lt;p&gt;First.&lt;/p&gt;&lt;p&gt;Second &amp;amp; last.&lt;/p&gt;</content></entry></feed>"""
    parsed = rss.parse(body)
    (r,) = parsed.records
    assert r.title == "A new result" and r.external_id == "urn:uuid:1" and r.url == "https://lab.example.org/posts/1"
    assert r.pdf_url == "https://lab.example.org/posts/1.pdf"
    assert r.authors == ("Ada Lovelace", "Charles Babbage")
    assert r.abstract == "First.\nSecond & last."
    assert r.published == datetime(2025, 2, 27, 9, tzinfo=timezone.utc)
    assert r.updated == datetime(2025, 2, 28, tzinfo=timezone.utc)
    assert parsed.feed_date == datetime(2025, 3, 1, tzinfo=timezone.utc)


def test_json_feed_1_1_and_1_0() -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "Lab", "authors": [{"name": "Feed Author"}],
           "items": [{"id": "a", "url": "https://e.org/a", "title": "Item A", "content_html": "<p>Hi <b>there</b></p>",
                      "date_published": "2025-01-02T03:04:05Z", "tags": ["ml", "theory"],
                      "attachments": [{"url": "https://e.org/a.pdf", "mime_type": "application/pdf"}]},
                     {"id": "b", "external_url": "https://arxiv.org/abs/2402.00001v2", "title": "Item B",
                      "authors": [{"name": "Item Author"}], "content_text": "text"}]}
    parsed = rss.parse(json.dumps(doc).encode())
    a, b = parsed.records
    assert (a.title, a.abstract, a.categories, a.authors) == ("Item A", "Hi there", ("ml", "theory"), ("Feed Author",))
    assert a.pdf_url == "https://e.org/a.pdf" and a.published == datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert (b.arxiv_id, b.version, b.authors) == ("2402.00001", 2, ("Item Author",))
    v10 = {"version": "https://jsonfeed.org/version/1", "author": {"name": "Old Style"},
           "items": [{"id": "1", "url": "https://e.org/1", "title": "One", "summary": "s"}]}
    assert rss.parse(json.dumps(v10).encode()).records[0].authors == ("Old Style",)


def test_json_feed_item_linking_a_paper_in_its_html_names_that_paper() -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "1", "url": "https://lab.example.org/posts/1", "title": "Our new paper",
         "content_html": '<p>Read <a href="https://arxiv.org/pdf/2405.00001v2.pdf">the paper</a>.</p>'}]}
    (r,) = rss.parse(json.dumps(doc).encode()).records
    assert (r.arxiv_id, r.version, r.url) == ("2405.00001", 2, "https://lab.example.org/posts/1")


def test_abstract_page_link_takes_the_version_the_text_names() -> None:
    body = _rss("<item><title>T</title><link>https://arxiv.org/abs/2401.01234</link>"
                "<description>arXiv:2401.01234v4 Announce Type: replace</description></item>")
    (r,) = rss.parse(body).records
    assert (r.arxiv_id, r.version) == ("2401.01234", 4)


# arXiv's RSS 1.0 feeds before 2024 (arxiv.org/rss/cs.LG): not a capture (none is in the fixtures),
# written after the format those feeds used: id, version and primary category in the title, and
# one HTML link per author in dc:creator.
_LEGACY_ARXIV = b"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://arxiv.org/"><title>cs.LG updates on arXiv.org</title><link>http://arxiv.org/</link>
<description rdf:parseType="Literal">Computer Science -- Machine Learning (cs.LG) updates</description>
<dc:date>2023-03-02T20:30:00-05:00</dc:date></channel>
<item rdf:about="http://arxiv.org/abs/2303.00001"><title>Deep Learning for Things. (arXiv:2303.00001v1 [cs.LG])</title>
<link>http://arxiv.org/abs/2303.00001</link>
<description rdf:parseType="Literal">&lt;p&gt;We study things &amp;amp; more.&lt;/p&gt;</description>
<dc:creator> &lt;a href="http://arxiv.org/find/cs/1/au:+Smith_J/0/1/0/all/0/1"&gt;John Smith&lt;/a&gt;, &lt;a href="http://arxiv.org/find/cs/1/au:+M%C3%BCller_A/0/1/0/all/0/1"&gt;Anna M&amp;#xfc;ller&lt;/a&gt;</dc:creator>
</item>
<item rdf:about="http://arxiv.org/abs/2302.12345"><title>Revised: a Study. (arXiv:2302.12345v3 [stat.ML] UPDATED)</title>
<link>http://arxiv.org/abs/2302.12345</link><description rdf:parseType="Literal">&lt;p&gt;R.&lt;/p&gt;</description>
<dc:creator>&lt;a href="http://arxiv.org/find/cs/1/au:+Doe_J/0/1/0/all/0/1"&gt;Jane Doe&lt;/a&gt;</dc:creator></item>
<item rdf:about="http://arxiv.org/abs/math/0601001"><title>Old Ids. (arXiv:math/0601001v2 [math.CO] CROSS LISTED)</title>
<link>http://arxiv.org/abs/math/0601001</link><description rdf:parseType="Literal">x</description></item>
</rdf:RDF>"""


def test_pre_2024_arxiv_rss_titles_give_id_version_category_and_announce_type() -> None:
    a, b, c = rss.parse(_LEGACY_ARXIV).records
    assert (a.title, a.arxiv_id, a.version, a.categories, a.announce_type) == (
        "Deep Learning for Things", "2303.00001", 1, ("cs.LG",), "new")
    assert a.authors == ("John Smith", "Anna Müller") and a.abstract == "We study things & more."
    assert a.title_original == "Deep Learning for Things. (arXiv:2303.00001v1 [cs.LG])"
    assert (b.title, b.version, b.categories, b.announce_type, b.authors) == (
        "Revised: a Study", 3, ("stat.ML",), "replace", ("Jane Doe",))
    assert (c.title, c.arxiv_id, c.version, c.announce_type) == ("Old Ids", "math/0601001", 2, "cross")


@pytest.mark.parametrize(("title", "expected"), [
    ("On (arXiv:notanid [cs.LG])", "On (arXiv:notanid [cs.LG])"),  # not an arXiv id: the title as written
    ("Results (arXiv:2303.00001v1)", "Results (arXiv:2303.00001v1)"),  # no category: not the old format
    ("Why? (arXiv:2303.00001v1 [cs.LG])", "Why?"),
])
def test_legacy_title_pattern_only_takes_what_it_recognises(title: str, expected: str) -> None:
    (r,) = rss.parse(_rss(f"<item><title>{title}</title><link>https://e.org/1</link></item>")).records
    assert r.title == expected


@pytest.mark.parametrize(("creator", "authors"), [
    ("John Smith, Anna Müller", ("John Smith", "Anna Müller")),  # two people, one comma
    ("Smith, John", ("John Smith",)),
    ("Smith, John Robert", ("John Robert Smith",)),
    ("van der Berg, Jan Peter", ("Jan Peter van der Berg",)),
    ("Martin Luther King, Jr.", ("Martin Luther King, Jr.",)),
    ("Smith Jones, J. R.", ("J. R. Smith Jones",)),
    ('<a href="/a">A. Smith</a> and <a href="/b">B. Jones</a>', ("A. Smith", "B. Jones")),
])
def test_one_field_author_lists(creator: str, authors: tuple[str, ...]) -> None:
    item = f"<item><title>T</title><link>https://e.org/1</link><dc:creator><![CDATA[{creator}]]></dc:creator></item>"
    (r,) = rss.parse(_rss(item)).records
    assert r.authors == authors


# --- the bad-input corpus ---------------------------------------------------------------------

_REFUSED = {
    "binary_garbage.bin": "binary data",
    "empty.xml": "empty",
    "whitespace_only.xml": "empty",
    "entity_bomb.xml": "entity declarations are not allowed",
    "xxe_file.xml": "entity declarations are not allowed",
    "xxe_parameter.xml": "entity declarations are not allowed",
    "gzip_feed.xml.gz": "gzip",
    "html_page.html": "HTML page",
    "html_no_doctype.xml": "HTML page",
    "plain_text.txt": "plain text",
    "json_not_a_feed.json": "not a JSON Feed",
    "json_truncated.json": "not valid JSON",
    "not_a_feed_xml.xml": "not an RSS, RDF or Atom feed",
}
# File -> titles that must survive, and whether a warning is expected.
_KEPT = {
    "truncated.xml": (["Good paper 1", "Good paper 2"], True),
    "broken_middle_entry.xml": (["Good paper 1", "Good paper 2", "Good paper 3"], True),
    "wrong_declared_encoding.xml": (["Résumé of naïve models"], True),
    "utf16_bom.xml": (["Über Graphen: λ-Kalkül"], False),
    "huge_single_entry.xml": (["Good paper 1"], True),
    "json_feed_broken_items.json": (["Good item", "Second good item"], True),
    "rss_hostile_markup.xml": (["Hostile title"], True),
}


def test_corpus_is_fully_classified() -> None:
    assert {p.name for p in BAD.iterdir()} == set(_REFUSED) | set(_KEPT) | {"README.md"}


@pytest.mark.parametrize(("name", "reason"), sorted(_REFUSED.items()))
def test_bad_documents_are_refused_with_one_clear_line(name: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        rss.parse((BAD / name).read_bytes(), source=name)
    message = str(info.value)
    assert reason in message and name in message and "\n" not in message


@pytest.mark.parametrize(("name", "expected"), sorted(_KEPT.items()))
def test_good_entries_of_broken_feeds_survive(name: str, expected: tuple[list[str], bool]) -> None:
    titles, warned = expected
    parsed = rss.parse((BAD / name).read_bytes(), source=name)
    assert [r.title for r in parsed.records] == titles
    assert bool(parsed.warnings) == warned


def test_xxe_never_reads_the_file() -> None:
    with pytest.raises(ParseError):
        rss.parse((BAD / "xxe_file.xml").read_bytes())
    # Even a feed without a DOCTYPE check would not leak: feedparser resolves no external entities.
    # Here the point is that the check happens before feedparser sees the bytes at all.


def test_hostile_markup_never_reaches_records() -> None:
    (r,) = rss.parse((BAD / "rss_hostile_markup.xml").read_bytes()).records
    blob = " ".join([r.title, r.abstract, *r.authors, *r.categories, r.title_original or "", r.url or ""])
    for bad in ("<script", "onerror", "onclick", "javascript:", "<p", "<img", "<style", "alert(4)", "body{}"):
        assert bad not in blob
    assert r.abstract == "Text\nlink" and r.authors == ("Mallory Bold",) and r.categories == ("cs.CR",)


def test_huge_entry_is_cut() -> None:
    (r,) = rss.parse((BAD / "huge_single_entry.xml").read_bytes()).records
    assert len(r.abstract) <= rss.MAX_ABSTRACT + 2


def test_bytes_that_look_like_a_path_are_never_opened(tmp_path: Path) -> None:
    # feedparser.parse(b"/etc/hostname") would read that file; rss.parse must treat bytes as content.
    secret = tmp_path / "secret.xml"
    secret.write_bytes(_rss("<item><title>Secret</title><link>https://e.org/s</link></item>"))
    with pytest.raises(ParseError):
        rss.parse(str(secret).encode())


@pytest.mark.parametrize("pair", ["&#55357;&#56832;", "&#xD83D;&#xde00;"])
def test_emoji_written_as_surrogate_pair_references_is_one_character(pair: str) -> None:
    """Java and JavaScript escapers write an emoji as references to its two UTF-16 halves, which XML
    forbids: a pair becomes the one character, a lone half U+FFFD, and every entry is kept."""
    parsed = rss.parse(_rss(
        "<item><title>Emergent abilities of large language models</title>"
        "<link>https://blog.example.org/posts/emergent</link></item>"
        f"<item><title>Why we love {pair} in sentiment datasets</title>"
        "<link>https://blog.example.org/posts/emoji</link></item>"
        "<item><title>A lone &#56832; half</title><link>https://blog.example.org/posts/lone</link></item>"))
    assert [r.title for r in parsed.records] == ["Emergent abilities of large language models",
                                                 "Why we love \U0001F600 in sentiment datasets",
                                                 "A lone \ufffd half"]
    assert any("surrogate" in w for w in parsed.warnings)


_SEED = IACR.read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=len(_SEED)),
       flips=st.lists(st.tuples(st.integers(min_value=0, max_value=len(_SEED) - 1), st.integers(0, 255)), max_size=8))
def test_mangled_real_feed_gives_records_or_parse_error(cut: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(_SEED[:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    try:
        parsed = rss.parse(bytes(data))
    except ParseError:
        return
    for r in parsed.records:
        assert r.title and r.external_id and "<" not in r.title
        assert r.url is None or r.url.startswith(("http://", "https://"))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_never_raise_anything_but_parse_error(data: bytes) -> None:
    try:
        rss.parse(data)
    except ParseError:
        pass


# --- publisher links, DOIs and authors as real journal feeds write them ------------------------


@pytest.mark.parametrize(("link", "doi"), [
    # Percent-encoded DOIs: SICI forms and Wiley/doi.org links escape (, ), <, >, ; and :.
    ("https://doi.org/10.1002/%28SICI%291097-4636%28199706%2935%3A4%3C515%3A%3AAID-JBM12%3E3.0.CO%3B2-E",
     "10.1002/(sici)1097-4636(199706)35:4<515::aid-jbm12>3.0.co;2-e"),
    ("https://onlinelibrary.wiley.com/doi/10.1111%2Fj.1365-2966.2024.01234.x", "10.1111/j.1365-2966.2024.01234.x"),
    # bioRxiv/medRxiv content pages carry the version and a page suffix after the DOI.
    ("https://www.biorxiv.org/content/10.1101/2024.01.01.573838v2?rss=1", "10.1101/2024.01.01.573838"),
    ("https://www.biorxiv.org/content/10.1101/2024.01.01.573838v2.full.pdf", "10.1101/2024.01.01.573838"),
    ("https://www.biorxiv.org/content/10.1101/2024.01.01.573838v1.abstract", "10.1101/2024.01.01.573838"),
    ("https://www.medrxiv.org/content/10.1101/2024.02.05.24302345v3.full", "10.1101/2024.02.05.24302345"),
    ("https://www.biorxiv.org/content/10.1101/573838v1", "10.1101/573838"),
    ("https://www.biorxiv.org/content/10.64898/2026.07.13.738145v1", "10.64898/2026.07.13.738145"),
    # Publisher page and file suffixes after the DOI in the path.
    ("https://link.springer.com/content/pdf/10.1007/s10994-024-06512-3.pdf", "10.1007/s10994-024-06512-3"),
    ("https://www.frontiersin.org/articles/10.3389/fnins.2024.1234567/full", "10.3389/fnins.2024.1234567"),
    ("https://www.frontiersin.org/articles/10.3389/fnins.2024.1234567/abstract", "10.3389/fnins.2024.1234567"),
    ("https://onlinelibrary.wiley.com/doi/epdf/10.1002/adma.202312345", "10.1002/adma.202312345"),
    ("https://doi.org/10.1093/nar/gkad1234;jsessionid=A1B2C3", "10.1093/nar/gkad1234"),
    # What must stay as it is.
    ("https://doi.org/10.1016/S0140-6736(23)01234-5", "10.1016/s0140-6736(23)01234-5"),
    ("https://pubs.acs.org/doi/pdf/10.1021/jacs.3c12345", "10.1021/jacs.3c12345"),
    ("https://journals.plos.org/plosone/article?id=10.1371/journal.pone.0298765", "10.1371/journal.pone.0298765"),
])
def test_doi_from_publisher_link(link: str, doi: str) -> None:
    assert rss.entry_ids(entry_id="tag:1", link=link) == (None, doi)


@pytest.mark.parametrize("text", [
    '<p>Nature, Published online: 07 February 2024; <a href="https://www.nature.com/articles/x">'
    "doi:10.1038/s41586-024-07001-1</a></p>",
    "<p>doi:10.1038/s41586-024-07001-1</p>",
    "doi:10.1038/s41586-024-07001-1&lt;br&gt;",
])
def test_doi_in_html_text_stops_at_the_markup(text: str) -> None:
    assert rss.entry_ids(entry_id="tag:1", link="https://example.org/1", texts=[text]) == (
        None, "10.1038/s41586-024-07001-1")


def test_sici_doi_in_text_keeps_its_angle_brackets() -> None:
    text = "See doi:10.1002/(SICI)1097-4636(199706)35:4<515::AID-JBM12>3.0.CO;2-E for details"
    assert rss.entry_ids(entry_id="tag:1", link="https://example.org/1", texts=[text])[1] == (
        "10.1002/(sici)1097-4636(199706)35:4<515::aid-jbm12>3.0.co;2-e")


def test_rss_item_linking_a_biorxiv_page_merges_with_the_biorxiv_record() -> None:
    body = _rss("<item><title>Lab news: our preprint</title>"
                "<link>https://www.biorxiv.org/content/10.1101/2024.01.01.573838v2.full</link></item>")
    (r,) = rss.parse(body).records
    assert r.doi == "10.1101/2024.01.01.573838"


@pytest.mark.parametrize(("creators", "authors"), [
    # PubMed's RSS: one dc:creator per author, "Surname Initials" without periods.
    (["Smith J", "Doe AB", "van der Berg K"], ("J. Smith", "A. B. Doe", "K. van der Berg")),
    (["Müller-Lüdenscheidt HP"], ("H. P. Müller-Lüdenscheidt",)),
    # ... or all of them in one field; two-letter surnames included.
    (["Li Y, Wu X"], ("Y. Li", "X. Wu")),
    (["Smith J, Doe A, Lee KH"], ("J. Smith", "A. Doe", "K. H. Lee")),
    # Not that convention: left alone.
    (["John Smith III"], ("John Smith III",)),
    (["Jane Doe MD"], ("Jane Doe MD",)),
    (["Smith J", "Anna Doe"], ("Smith J", "Anna Doe")),
])
def test_pubmed_style_authors(creators: list[str], authors: tuple[str, ...]) -> None:
    item = "".join(f"<dc:creator>{c}</dc:creator>" for c in creators)
    (r,) = rss.parse(_rss(f"<item><title>T</title><link>https://e.org/1</link>{item}</item>")).records
    assert r.authors == authors


@pytest.mark.parametrize(("creator", "authors"), [
    ("Smith, J.; Doe, A.; et al.", ("J. Smith", "A. Doe")),
    ("John Smith et al.", ("John Smith",)),
    ("John Smith, Anna Doe, et al", ("John Smith", "Anna Doe")),
    ("Smith J, Doe A, et al.", ("J. Smith", "A. Doe")),
])
def test_et_al_is_not_an_author(creator: str, authors: tuple[str, ...]) -> None:
    item = f"<item><title>T</title><link>https://e.org/1</link><dc:creator>{creator}</dc:creator></item>"
    (r,) = rss.parse(_rss(item)).records
    assert r.authors == authors


@pytest.mark.parametrize(("pub_date", "expected"), [
    ("2024/02/08", datetime(2024, 2, 8, tzinfo=timezone.utc)),  # feedparser reads this as 2024-11-01
    ("2024/02/08 10:30:00", datetime(2024, 2, 8, 10, 30, tzinfo=timezone.utc)),
    ("Thu, 08 Feb 2024 10:00:00 CET", datetime(2024, 2, 8, 9, tzinfo=timezone.utc)),
    ("Thu, 08 Aug 2024 10:00:00 CEST", datetime(2024, 8, 8, 8, tzinfo=timezone.utc)),
    ("Thu, 08 Feb 2024 10:00:00 JST", datetime(2024, 2, 8, 1, tzinfo=timezone.utc)),
    ("Thu, 08 Feb 2024 10:00:00 EST", datetime(2024, 2, 8, 15, tzinfo=timezone.utc)),
    ("Thu, 08 Feb 2024 10:00:00 +0200", datetime(2024, 2, 8, 8, tzinfo=timezone.utc)),
])
def test_odd_dates(pub_date: str, expected: datetime) -> None:
    item = f"<item><title>T</title><link>https://e.org/1</link><pubDate>{pub_date}</pubDate></item>"
    (r,) = rss.parse(_rss(item)).records
    assert r.published == expected


def test_nature_rss_1_0_feed() -> None:
    # Constructed after nature.com's RSS 1.0 feeds: dc:identifier "doi:...", prism:doi, one dc:creator
    # per author, and content:encoded opening with a "Journal, Published online: date; doi:..." line.
    parsed = rss.parse((DATA / "generic-rss" / "nature_rss1_constructed.xml").read_bytes())
    a, b = parsed.records
    assert a.doi == "10.1038/s41586-024-07001-1" and a.url == "https://www.nature.com/articles/s41586-024-07001-1"
    assert a.authors == ("Hsin-Yuan Huang", "Michael Broughton", "Jarrod R. McClean")
    assert a.abstract == "Quantum technology promises to revolutionize how we learn about the physical world."
    assert a.published == datetime(2024, 2, 7, tzinfo=timezone.utc)
    assert a.updated is None  # dc:date is the one date: no update happened
    assert (b.doi, b.abstract) == ("10.1038/d41586-024-00321-x", "News.")


def test_sciencedirect_authors_line_gives_the_authors() -> None:
    # ScienceDirect's RSS has no author element: the names are a line of the description.
    description = ("<![CDATA[<p>Publication date: April 2024</p><p><b>Source:</b> Neural Networks, Volume 172</p>"
                   "<p>Author(s): John Smith, Maria García, Wei Zhang</p>]]>")
    item = (f"<item><title>Graph attention networks revisited</title><link>https://www.sciencedirect.com/science/"
            f"article/pii/S0893608024000123</link><description>{description}</description></item>")
    (r,) = rss.parse(_rss(item)).records
    assert r.authors == ("John Smith", "Maria García", "Wei Zhang")
    # An author element wins over a line in the text.
    item = item.replace("</title>", "</title><dc:creator>Ann Other</dc:creator>")
    assert rss.parse(_rss(item)).records[0].authors == ("Ann Other",)


# --- what publishers put around the paper --------------------------------------------------------

@pytest.mark.parametrize(("title", "expected"), [
    ("Molecules, Vol. 29, Pages 789: Synthesis of Novel Thiazole–Pyrazole Hybrids",   # MDPI
     "Synthesis of Novel Thiazole–Pyrazole Hybrids"),
    ("Chromatin accessibility dynamics in human neurodevelopment [Neuroscience]",      # PNAS's section
     "Chromatin accessibility dynamics in human neurodevelopment"),
    ("Erratum: Quantum Spin Liquid in a Kagome Magnet [Phys. Rev. Lett. 131, 016501 (2023)]",  # a citation stays
     "Erratum: Quantum Spin Liquid in a Kagome Magnet [Phys. Rev. Lett. 131, 016501 (2023)]"),
    ("Complexes of [Ru(bpy)3]", "Complexes of [Ru(bpy)3]"),
])
def test_journal_decorations_leave_the_title(title: str, expected: str) -> None:
    (r,) = rss.parse(_rss(f"<item><title>{title}</title><link>https://example.org/a</link></item>")).records
    assert r.title == expected


def test_a_citation_description_gives_way_to_the_content() -> None:
    """Wiley (Atypon): the description cites the issue, content:encoded has a graphical-abstract blurb,
    then the abstract under its heading."""
    item = ("<item><title>Single-Atom Pt Catalysts</title><link>https://onlinelibrary.wiley.com/doi/10.1002/anie.1?af=R"
            "</link><description>Angewandte Chemie International Edition, Volume 63, Issue 12, March 18, 2024."
            "</description><content:encoded>&lt;p&gt;Isolated Pt atoms convert CO.&lt;/p&gt;&lt;h2&gt;Abstract&lt;/h2&gt;"
            "&lt;p&gt;Single-atom catalysts reach a turnover of 12 s&lt;sup&gt;−1&lt;/sup&gt;.&lt;/p&gt;"
            "</content:encoded></item>")
    body = _rss(item).replace(b"<rss ", b'<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" ')
    (r,) = rss.parse(body).records
    assert r.abstract == "Single-atom catalysts reach a turnover of 12 s−1."
    # Without content, a citation is no abstract at all.
    (r,) = rss.parse(_rss(item[:item.index("<content:encoded>")] + "</item>")).records
    assert r.abstract == ""


def test_aps_description_lines_around_the_abstract() -> None:
    description = ("&lt;p&gt;Author(s): I. Adachi &lt;i&gt;et al.&lt;/i&gt; (Belle II Collaboration)&lt;/p&gt;"
                   "&lt;p&gt;We search for rare decays.&lt;/p&gt;[Phys. Rev. Lett. 132, 121801] Published Thu Mar 21, 2024")
    (r,) = rss.parse(_rss(f"<item><title>Search</title><link>http://link.aps.org/doi/10.1103/PhysRevLett.132.121801"
                          f"</link><description>{description}</description></item>")).records
    assert r.abstract == "We search for rare decays."
    assert r.authors == ("I. Adachi", "Belle II Collaboration")


@pytest.mark.parametrize(("creators", "authors"), [
    (["Jane Doe, MD, MPH"], ("Jane Doe",)),
    (["Doe, Jane, MD"], ("Jane Doe",)),
    (["Jane Doe, MD, John Roe, PhD"], ("Jane Doe", "John Roe")),
    (["Smith, MD"], ("MD Smith",)),          # a surname and initials, not a degree
    (["Smith, John and Doe, Jane"], ("John Smith", "Jane Doe")),
])
def test_degrees_and_bibtex_lists_in_author_fields(creators: list[str], authors: tuple[str, ...]) -> None:
    fields = "".join(f"<dc:creator>{c}</dc:creator>" for c in creators)
    (r,) = rss.parse(_rss(f"<item><title>T</title><link>https://example.org/a</link>{fields}</item>")).records
    assert r.authors == authors


# --- links, short abstracts and author fields that look like the heuristics' cases but are not --------

def _channel_rss(items: str, channel: str = "") -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            f'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>T</title><link>https://blog.example.org/</link>'
            f"{channel}<description>d</description>{items}</channel></rss>").encode()


def _one(item: str, channel: str = "") -> PaperRecord:
    (r,) = rss.parse(_channel_rss(item, channel)).records
    return r


def test_malformed_entry_link_does_not_crash_the_whole_feed() -> None:
    """A link that is no URL ("http://[::1") skips its entry, not the feed."""
    parsed = rss.parse(_channel_rss("<item><title>Bad</title><link>http://[::1</link></item>"
                                    "<item><title>Good</title><link>https://blog.example.org/good</link></item>"))
    assert [r.title for r in parsed.records] == ["Good"]


def test_relative_link_in_a_feedburner_feed_resolves_against_the_site() -> None:
    """The rel="self" link names the feed proxy's host, not the site the posts live on."""
    channel = '<atom:link rel="self" href="http://feeds.feedburner.com/ExampleBlog" type="application/rss+xml"/>'
    r = _one("<item><title>Post</title><link>/2024/01/post.html</link></item>", channel)
    assert r.url == "https://blog.example.org/2024/01/post.html"


def test_protocol_relative_link_is_resolved() -> None:
    """RFC 3986 5.2 resolves "//host/path" with the base's scheme."""
    r = _one("<item><title>Post</title><link>//blog.example.org/2024/01/post.html</link></item>")
    assert r.url == "https://blog.example.org/2024/01/post.html"


def test_short_abstract_mentioning_pagerank_is_kept() -> None:
    """A short abstract is a citation only when it cites a volume and an issue, pages or a year."""
    r = _one("<item><title>PR</title><link>https://e.org/a</link>"
             "<description>We revisit PageRank for temporal graphs.</description></item>")
    assert r.abstract == "We revisit PageRank for temporal graphs."


def test_short_abstract_naming_a_volume_method_is_kept() -> None:
    text = "We present Neural Volume Rendering, a method for fast view synthesis."
    r = _one(f"<item><title>NVR</title><link>https://e.org/a</link><description>{text}</description></item>")
    assert r.abstract == text


def test_author_line_without_a_block_break_does_not_eat_the_abstract() -> None:
    """An "Author(s):" line is dropped only as a line of its own: in plain text the line break is gone."""
    r = _one("<item><title>A</title><link>https://e.org/a</link><description>Author(s): Jane Doe, John Roe\n"
             "We present a new estimator for sparse regression.</description></item>")
    assert "We present a new estimator for sparse regression." in r.abstract


def test_bracket_then_published_inside_the_last_line_is_abstract_text() -> None:
    """APS's "[Journal] Published ..." trailer is a line of its own, not a bracket inside a sentence."""
    text = "We trained on data from [the UK Biobank] Published cohorts were excluded."
    r = _one(f"<item><title>A</title><link>https://e.org/a</link><description>{text}</description></item>")
    assert r.abstract == text


def _creator_authors(creator: str) -> tuple[str, ...]:
    return _one(f"<item><title>T</title><link>https://e.org/a</link><dc:creator>{creator}</dc:creator></item>").authors


def test_initials_md_are_not_a_degree_in_a_last_first_list() -> None:
    """"M.D." after a surname in a "Last, Initials" list is initials, not a degree."""
    assert _creator_authors("Smith, J.; Jones, M.D.") == ("J. Smith", "M.D. Jones")
    assert _creator_authors("Smith, J.R., Lee, M.D.") == ("J.R. Smith", "M.D. Lee")


def test_bibtex_list_with_a_double_surname() -> None:
    """BibTeX lists with Spanish double surnames."""
    assert _creator_authors("García Márquez, Gabriel and López, Ana") == ("Gabriel García Márquez", "Ana López")


def test_bibtex_list_with_jr() -> None:
    """BibTeX's "Last, Jr., First" form."""
    assert _creator_authors("King, Jr., Martin Luther and Doe, Jane") == ("Martin Luther King Jr.", "Jane Doe")


def test_et_al_collective_with_two_named_authors() -> None:
    """Several named authors before "et al. (... Collaboration)" are each one person."""
    assert _creator_authors("A. Smith, B. Jones et al. (ATLAS Collaboration)") == (
        "A. Smith", "B. Jones", "ATLAS Collaboration")
