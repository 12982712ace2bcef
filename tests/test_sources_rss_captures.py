"""The generic feed reader (kind "rss") on real journal and research-blog captures collected in
session 16 (tests/data/SOURCES.md, generic-rss/): what each publisher's layout says about a paper
(its authors, where and when it appeared) is read, and what is no abstract is not kept as one.

Four files are byte-for-byte (three cut after a few items); four were re-serialised by the
repository that keeps them, with the publisher's element text unchanged.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from digest.models import PaperRecord, ParsedFeed
from digest.sources import detect_kind, parse_document
from digest.store import Store

DATA = Path(__file__).parent / "data" / "generic-rss"


def _feed(name: str, *, url: str | None = None) -> ParsedFeed:
    data = (DATA / name).read_bytes()
    assert detect_kind(data, name) == "rss"
    feed = parse_document("rss", data, source=name, url=url)
    assert feed.status == "ok" and not feed.warnings
    return feed


def _records(name: str) -> tuple[PaperRecord, ...]:
    return _feed(name).records


def test_sciencedirect_source_and_publication_date_lines() -> None:
    """"Publication date: 15 December 2026 / Source: Remote Sensing of Environment, Volume 347 /
    Author(s): ...": the journal and the volume; the issue's day is no publication date in a feed
    built on 4 October 2026 (the paper is dated when first seen)."""
    records = _records("journal-rss_sciencedirect_rse_2026_rss2_reserialized.xml")
    assert len(records) == 8
    first = records[0]
    assert first.authors[:2] == ("Elyssa L. Collins", "Augusto Getirana") and len(first.authors) == 7
    assert first.venue == "Remote Sensing of Environment"
    assert first.journal_ref == "Remote Sensing of Environment 347 (2026)"
    assert first.published is None
    assert all(r.abstract == "" and r.venue == "Remote Sensing of Environment" for r in records)
    assert "Marie-Pia D'Argaignon" in records[1].authors


def test_sciencedirect_source_line_forms() -> None:
    """Issue and pages, an article in press (a venue, no reference), a day range, and a pubDate
    that wins over the description's day."""
    def item(source: str, date_line: str, pub_date: str = "", built: str = "") -> PaperRecord:
        description = (f"&lt;p&gt;Publication date: {date_line}&lt;/p&gt;&lt;p&gt;&lt;b&gt;Source:&lt;/b&gt; {source}"
                       "&lt;/p&gt;&lt;p&gt;Author(s): Jane Doe, John Roe&lt;/p&gt;")
        doc = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>ScienceDirect Publication: X'
               '</title><link>https://www.sciencedirect.com/journal/x</link><description>d</description>'
               f"{f'<lastBuildDate>{built}</lastBuildDate>' if built else ''}<item><title>A paper"
               f"</title><description>{description}</description>{pub_date}"
               "<link>https://www.sciencedirect.com/science/article/pii/S0092867426005064</link></item></channel></rss>")
        (record,) = parse_document("rss", doc.encode()).records
        return record

    cell = item("Cell, Volume 187, Issue 5, Pages 1012-1030", "29 February 2024")
    assert (cell.venue, cell.journal_ref) == ("Cell", "Cell 187(5), 1012-1030 (2024)")
    pressed = item("Journal of Hydrology, In press, journal pre-proof", "Available online 20 May 2026")
    assert (pressed.venue, pressed.journal_ref) == ("Journal of Hydrology", None)
    assert pressed.published == datetime(2026, 5, 20, tzinfo=timezone.utc)
    ranged = item("Ecological Indicators, Volume 160", "1–15 March 2026")
    assert ranged.published == datetime(2026, 3, 1, tzinfo=timezone.utc)
    built = item("Cell, Volume 187", "2 November 2026", "<pubDate>Tue, 03 Nov 2026 10:00:00 GMT</pubDate>")
    assert built.published == datetime(2026, 11, 3, 10, tzinfo=timezone.utc)  # the pubDate wins
    dated = item("Cell, Volume 187", "December 2026", "<pubDate>Tue, 03 Nov 2026 10:00:00 GMT</pubDate>")
    assert dated.published == datetime(2026, 11, 3, 10, tzinfo=timezone.utc) and dated.journal_ref == "Cell 187 (2026)"
    issued = item("Cell, Volume 187", "15 December 2026", built="Wed, 16 Dec 2026 09:00:00 GMT")
    assert issued.published == datetime(2026, 12, 15, tzinfo=timezone.utc)  # out by the time the feed was built
    month_only = item("Journal of Hydrology, Volume 640, Part B", "December 2026")
    assert month_only.published == datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert month_only.journal_ref == "Journal of Hydrology 640 Part B (2026)"


def test_ieee_xplore_toc_authors_volume_and_null_abstract() -> None:
    records = _records("journal-rss_ieee_tpami_toc_2026_rss2_reserialized.xml")
    editorial, article = records
    assert editorial.authors == ("Gordon Wetzstein",) and editorial.abstract == ""  # <description>null</description>
    assert article.authors == ("Kun-Yu Lin", "Henghui Ding", "Jia-Run Du", "Jiaming Zhou", "Yi-Xing Peng",
                               "Yu-Ming Tang", "Zhilin Zhao", "Chen Change Loy", "Wei-Shi Zheng")
    assert article.abstract.startswith("Inspired by the impressive success of image-text foundation models")
    venue = "IEEE Transactions on Pattern Analysis and Machine Intelligence"  # the channel: "<venue> - new TOC"
    assert article.venue == editorial.venue == venue
    assert article.journal_ref == f"{venue} 48(10), 13026–13043 (2026)"
    assert editorial.journal_ref == f"{venue} 48(10), 11238 (2026)"  # one page
    assert article.published == datetime(2026, 6, 16, 13, 16, 21, tzinfo=timezone.utc)  # "TUE, 16 JUN 2026 09:16:21 -0400"


def test_nature_item_without_a_standfirst_has_no_abstract() -> None:
    """nature.com's content: the citation line, then the title again, which is no abstract."""
    records = _records("journal-rss_nature_current_2026_rss1_reserialized.xml")
    assert [r.abstract for r in records] == ["", ""]
    assert records[0].title == "Quality control of glycogen through direct ubiquitylation by RNF213"
    assert records[0].doi and records[0].doi.startswith("10.1038/")
    assert records[0].authors[:2] == ("Matthew C. J. Yip", "Katerina Naydenova")


def test_nature_medicine_byte_for_byte() -> None:
    """A whole nature.com feed (Nature Medicine, September 2026): four items whose content is only the
    citation line and the title have no abstract; the others keep their standfirst alone."""
    records = _records("masonberger4-X_nature_medicine_2026-09_rss1.rdf")
    assert len(records) == 8 and all(r.venue == "Nature Medicine" and r.doi for r in records)
    empty = {r.doi for r in records if not r.abstract}
    assert empty == {"10.1038/s41591-026-04641-x", "10.1038/s41591-026-04645-7", "10.1038/s41591-026-04637-7",
                     "10.1038/s41591-026-04638-6"}
    assert not any("Published online" in r.abstract or "doi:" in r.abstract for r in records)
    assert [len(r.authors) for r in records] == [1, 1, 27, 47, 3, 0, 2, 1]
    assert records[1].abstract.startswith("The first generation of medical artificial intelligence (AI)")
    assert records[0].published == datetime(2026, 9, 8, tzinfo=timezone.utc) and records[0].updated is None


def test_atypon_publication_name_that_is_the_title_and_a_copyright_notice() -> None:
    """AJPH 2015 (byte for byte, after a blank line before <?xml>, which costs no warning): each
    item's prism:publicationName is its own title, so the journal comes from the channel; the
    dc:rights "© American Public Health Association 2015" is a notice, no licence."""
    records = _records("feedjira_atypon_ajph_2015_rss1.xml")
    assert len(records) == 5
    first = records[0]
    assert first.venue == "American Journal of Public Health"
    assert first.journal_ref == "American Journal of Public Health 105(S2), e1–e7 (2015)"
    assert first.license is None and first.authors[:2] == ("Sarah Moody-Thomas", "Laura Nasuti")
    assert all(r.venue == "American Journal of Public Health" for r in records)


def test_rights_that_name_a_licence_are_kept() -> None:
    def rights(text: str, cc: str = "") -> str | None:
        declared = f'<cc:license rdf:resource="{cc}"/>' if cc else ""
        doc = ('<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
               'xmlns:cc="http://web.resource.org/cc/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><channel>'
               "<title>t</title><link>https://j.example.org/</link><description>d</description><item><title>A paper"
               f"</title><link>https://j.example.org/a</link><dc:rights>{text}</dc:rights>{declared}</item></channel></rss>")
        return parse_document("rss", doc.encode()).records[0].license

    # OJS's notice holds the licence's address: that is the licence.
    assert rights("Copyright (c) 2021 Jane Doe https://creativecommons.org/licenses/by/4.0/") == \
        "https://creativecommons.org/licenses/by/4.0/"
    # A declared licence (creativeCommons) wins over what the rights text says.
    assert rights("Copyright (c) 2021 Jane Doe", cc="https://creativecommons.org/licenses/by-sa/4.0/") == \
        "https://creativecommons.org/licenses/by-sa/4.0/"

    assert rights("© 2024 The Authors. Published under a CC BY 4.0 licence") is not None
    assert rights("Copyright (c) 2024 Elsevier Ltd. All rights reserved.") is None
    assert rights("(c) 2024 Wiley") is None
    assert rights("https://creativecommons.org/licenses/by/4.0/") == "https://creativecommons.org/licenses/by/4.0/"


def test_wordpress_excerpt_loses_its_cut_mark() -> None:
    records = _records("feedjira_hunchnet_ml_theory_2009_rss2.xml")
    assert [r.authors for r in records] == [("jl",), ("jl",)]
    assert records[0].abstract.endswith("the approach involves either …")
    assert all("[...]" not in r.abstract for r in records)


def test_copernicus_title_byline_and_citation_lines() -> None:
    """"<b>title</b><br>authors<br>Earth Syst. Sci. Data, 18, 6799–6813, https://doi.org/..., 2026<br>summary"."""
    records = _records("journal-rss_copernicus_essd_2026_rss2_reserialized.xml")
    first = records[0]
    assert first.title == "FAO estimates of net forest emissions and removals, 1990–2025"
    assert first.authors[0] == "Francesco N. Tubiello" and first.authors[-1] == "Anssi Pekkarinen"
    assert len(first.authors) == 11 and "Örjan Jonsson" in first.authors
    assert first.abstract.startswith("Estimates of net forest emissions/removals were updated")
    assert first.venue == "Earth Syst. Sci. Data"
    assert first.journal_ref == "Earth Syst. Sci. Data 18, 6799–6813 (2026)"
    assert first.doi == "10.5194/essd-18-6799-2026"
    preprint = records[-1]
    assert preprint.venue == "Earth Syst. Sci. Data Discuss." and preprint.journal_ref is None
    assert "Preprint under review" not in preprint.abstract and "doi.org" not in preprint.abstract
    assert preprint.abstract.startswith("GOAT-1C is a global coastal tide model")


def test_a_title_repeated_on_the_first_line_alone_is_dropped() -> None:
    """A description that opens with the title, then the text: the title line goes, a first line
    of prose is no byline."""
    doc = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Lab</title><link>https://lab.example.org/</link>'
           "<description>d</description><item><title>Sparse probes</title><link>https://lab.example.org/p</link>"
           "<description>&lt;b&gt;Sparse probes&lt;/b&gt;&lt;br&gt;We study sparse probes of large models.</description>"
           "</item></channel></rss>")
    (record,) = parse_document("rss", doc.encode()).records
    assert record.abstract == "We study sparse probes of large models." and record.authors == ()


def test_wiley_2014_rss1_is_read_whole() -> None:
    records = _records("chembrows_wiley_anie_2014_rss1.xml")
    assert len(records) == 3
    assert records[0].authors[0] == "Thomas J. Carruthers"
    assert records[0].abstract.startswith("Heterodinuclear metalloenzymes")


def test_blank_lines_before_the_declaration_cost_no_warning_on_the_lxml_path() -> None:
    """The arXiv and bioRxiv parsers read through digest.sources.xmlsafe, which drops them too."""
    arxiv = (Path(__file__).parent / "data" / "arxiv-rss" / "aioarxiv_empty-test-archive_2024-11-28.xml").read_bytes()
    feed = parse_document("arxiv-rss", b"\n\n  " + arxiv)
    assert feed.status == "empty" and not feed.warnings


# --- preprint servers, aggregators and lab pages (session 16's second round) -------------------

def test_pubmed_full_abstract_clean_link_journal_and_no_false_update() -> None:
    """The description stops at ~500 characters and "..."; the content has the abstract between the
    citation, "ABSTRACT" and "PMID: ... | DOI: ...". The link names the reader with spaces and
    stamps the fetch; dc:date is the day at midnight, hours before the pubDate."""
    first, second = _records("biorss_pubmed_rss_search_2021-12-14_first2.xml")
    assert first.abstract.startswith("High-resolution melting (HRM) has shown to be reliable")
    assert first.abstract.endswith("including new species or strains.") and len(first.abstract) > 1500
    assert "PMID" not in first.abstract and "ABSTRACT" not in first.abstract and "doi:" not in first.abstract
    assert first.url == "https://pubmed.ncbi.nlm.nih.gov/34902460/" and first.external_id == "pubmed:34902460"
    assert first.doi == "10.1016/j.jviromet.2021.114425"
    assert first.venue == "Journal of virological methods" and first.journal_ref == "J Virol Methods. 2021 Dec 10:114425"
    assert second.journal_ref == "J Nematol. 2021 Dec 10;53:e2021-100"  # "eCollection 2021." is no citation
    assert first.published == datetime(2021, 12, 13, 11, tzinfo=timezone.utc) and first.updated is None
    assert first.authors[:2] == ("Alejandro Olmedo-Velarde", "Francisco M Ochoa-Corona")


def test_cnki_authors_before_the_abstract_and_one_paper_across_fetches(tmp_path: Path) -> None:
    """CNKI writes "Guocheng SHU;Ping LIU;...;Feng XIE;" before the abstract and gives the same article
    another link token every week: with its authors read, the store knows it again by its title."""
    week1 = _records("biorss_cnki_asian-herpetological-research_rss2_2021-12-14_first3.xml")
    first = week1[0]
    assert first.authors[:3] == ("Guocheng SHU", "Ping LIU", "Tian ZHAO") and len(first.authors) == 11
    assert first.abstract.startswith("Biodiversity is declining globally")
    week2 = _records("biorss_cnki_asian-herpetological-research_rss2_2021-12-21_first1.xml")
    assert week2[0].url != first.url and week2[0].title == first.title
    store = Store.open(f"sqlite:///{tmp_path / 'cnki.db'}")
    try:
        assert store.ingest_records("cnki", week1).new == 3
        again = store.ingest_records("cnki", week2)
        assert (again.new, again.merged) == (0, 1)
        assert len(store.list_papers()) == 3
    finally:
        store.close()


def test_pensoft_labelled_lines() -> None:
    (record,) = _records("biorss_pensoft_zookeys_rss091_2021-12-14_first1.xml")
    assert record.authors == ("Takato Izumi", "Takuma Fujii")
    assert record.abstract.startswith("Edwardsianthus England, 1987 is a genus of Edwardsiidae")
    assert record.abstract.endswith("the diagnostic features of the genus are revised.")
    assert (record.venue, record.journal_ref) == ("ZooKeys", "ZooKeys 1076, 151-182")
    assert record.doi == "10.3897/zookeys.1076.69025"
    assert record.pdf_url == "https://zookeys.pensoft.net/article/69025/download/pdf/"


def test_ojs_licence_is_the_licence_not_the_notice() -> None:
    (record,) = _records("biorss_ojs_insecta-mundi_rss1_2021-12-14_first1.rdf")
    assert record.license == "http://creativecommons.org/licenses/by-nc/3.0/"
    assert record.authors == ("Julia Janicki", "Daniel Young")


def test_legacy_arxiv_collaboration_and_authors_not_shown() -> None:
    records = _records("physbiblio_arxiv_legacy_rss1_hep-ex_2021-07-08_EDITED.rdf")
    assert records[0].authors == ("LHCb collaboration", "R. Aaij")
    assert [r.announce_type for r in records] and all(r.arxiv_id for r in records)


def test_chemrxiv_links_name_the_doi_without_the_version_segment() -> None:
    records = _records("feedcache_chemrxiv_latest_mirror_2026-07-20_first13.xml")
    assert records[0].doi == "10.26434/chemrxiv.15006315"
    assert all(r.doi and r.doi.startswith("10.26434/") and "/v" not in r.doi for r in records)


def test_taylor_and_francis_author_elements_with_affiliations() -> None:
    records = _records("rssreader_tandf_jwebl_2024_rss1.xml")
    assert [r.authors for r in records[:5]] == [("Richard Wisneski",), ("Christopher Jimenez",), ("Steve Brantley",),
                                                ("Bradford Lee Eden",), ("Aida Marissa Smith",)]
    assert all(r.abstract == "" for r in records)  # issue citations and ahead-of-print ". "
    assert records[0].journal_ref == "Journal of Web Librarianship 18(1), 1–14 (2024)"


def test_wiley_2019_template_abstract_heading_and_issue_citation() -> None:
    (record,) = _records("journal-rss_wiley_tgis_2026-10_rss2_reserialized.xml")
    assert record.abstract.startswith("Forecasting the spatiotemporal distribution of cellular traffic")
    assert (record.venue, record.journal_ref) == ("Transactions in GIS", "Transactions in GIS 30(7) (2026)")


def test_a_description_that_is_the_author_list() -> None:
    records = _records("journal-feeds_acs_jctc_crossref-built_2026-08_rss2.xml")
    assert len(records) == 30 and all(r.authors and r.abstract == "" for r in records)
    assert records[0].authors[:2] == ("Vincent Graves", "Manqoba Q. Hlatshwayo")


def test_conference_lists_linking_pdfs() -> None:
    iclr = _records("conference-paper-rss_iclr2021_rss2_generated.xml")
    assert iclr[0].openreview_id == "YwpZmcAehZ" and iclr[0].url == "https://openreview.net/forum?id=YwpZmcAehZ"
    assert iclr[0].pdf_url == "https://openreview.net/pdf?id=YwpZmcAehZ"
    mlsys = _records("conference-paper-rss_mlsys2022_rss2_generated_first5.xml")
    assert all(r.pdf_url == r.url and r.url.endswith("-Paper.pdf") for r in mlsys[:4])
    assert mlsys[4].url == "https://proceedings.mlsys.org/paper/2022" and mlsys[4].pdf_url is None  # as the feed has it


def test_relative_links_resolve_against_the_fetched_address() -> None:
    records = _feed("relative-links/gewu-lab_hugo_academic_publication_index_first3.xml",
                    url="https://gewu-lab.github.io/publication/index.xml").records
    assert [r.url for r in records][0] == ("https://gewu-lab.github.io/publication/"
                                           "a-two-stage-framework-for-multiple-sound-source-localization/")
    assert all(r.published is None for r in records)
    # Without the address, nothing says where the entries are: each is skipped with its reason.
    alone = parse_document("rss", (DATA / "relative-links" / "gewu-lab_hugo_academic_publication_index_first3.xml").read_bytes())
    assert alone.status == "empty" and len(alone.warnings) == 3
    assert alone.warnings[0] == ("entry 1 skipped: its link '/publication/a-two-stage-framework-for-multiple-sound-source-"
                                 "localization/' is relative and the feed names no address it is relative to")


def test_a_feed_with_no_address_of_its_own_takes_the_fetched_one() -> None:
    doc = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Lab</title><description>d</description>'
           "<item><title>Sparse probes</title><link>papers/sparse.html</link></item></channel></rss>")
    (record,) = parse_document("rss", doc.encode(), url="https://lab.example.org/pubs/feed.xml").records
    assert record.url == "https://lab.example.org/pubs/papers/sparse.html"


def test_an_empty_jstage_feed_is_empty() -> None:
    feed = parse_document("rss", (DATA / "biorss_jstage_whatsnew_atom_2021-12-21_empty.xml").read_bytes())
    assert feed.status == "empty" and not feed.records


# --- publishers' feeds of 2021 (rdmpage/biorss's cache) ----------------------------------------

def test_oup_current_issue_names_and_journal() -> None:
    first = _records("biorss_oup_zoolinnean_rss2_2021-12-21_first4.xml")[0]
    assert first.authors == ("S. Brandão", "H. Saeedi", "A. Brandt")  # "Brandão S, Saeedi H, Brandt A."
    assert first.venue == "Zoological Journal of the Linnean Society"  # the channel: "<journal> Current Issue"
    assert first.journal_ref == "Zoological Journal of the Linnean Society 194(1), 226–255 (2021)"
    assert first.doi == "10.1093/zoolinnean/zlab078" and first.abstract.startswith("The Southern Ocean (SO)")


def test_wiley_plain_and_html_content() -> None:
    records = _records("biorss_wiley_taxon_rss2_2021-11-24_first4.xml")
    assert records[0].abstract.startswith("Based on recent molecular work by Paudyal & al.")
    assert not any(r.abstract.lower().startswith("abstract") for r in records)
    assert records[0].url == "https://onlinelibrary.wiley.com/doi/10.1002/tax.12603"  # no "?af=R"
    assert records[0].authors == ("Werner Greuter", "Rosa Rankin‐Rodríguez")


def test_taylor_and_francis_cover_year_and_journal_from_dc_source() -> None:
    first = _records("biorss_tandf_zoology-middle-east_rss1_2021-12-21_first3.rdf")[0]
    assert first.venue == "Zoology in the Middle East"
    assert first.journal_ref == "Zoology in the Middle East 67(4), 283–289 (2021)"
    assert first.abstract == "" and first.license is None


def test_schweizerbart_authors_before_the_abstract_heading() -> None:
    records = _records("biorss_schweizerbart_nova-hedwigia_rss2_2021-12-14_first4.xml")
    assert records[0].authors == ("Hai Doan-Nhu", "Lam Nguyen-Ngoc")
    assert records[3].authors == ("Juan Guerra", "Juan A. Jiménez", "María J. Cano")  # ends with an initial
    assert records[0].abstract.startswith("Genus Alisphaera including 9 species")


def test_sciencedirect_issue_of_next_year_is_no_publication_date() -> None:
    """Built on 21 December 2021, "Publication date: February 2022": dated when first seen."""
    records = _records("biorss_sciencedirect_mpe_rss2_2021-12-21_first4.xml")
    assert all(r.published is None and r.updated is None for r in records)
    assert records[0].journal_ref == "Molecular Phylogenetics and Evolution 167 (2022)"
    assert records[0].url == "https://www.sciencedirect.com/science/article/pii/S1055790321002906"  # no dgcid


def test_journal_named_by_the_channel_title_and_tracking_dropped() -> None:
    ijsem = _records("biorss_microbiologysociety_ijsem_rss2_2021-12-14_first2.xml")
    assert ijsem[0].venue == "International Journal of Systematic and Evolutionary Microbiology"
    assert "TRACK" not in (ijsem[0].url or "")
    cambridge = _records("biorss_cambridge_canadian-entomologist_rss1_2021-12-14_first4.rdf")
    assert cambridge[0].venue == "The Canadian Entomologist" and "rft_dat" not in (cambridge[0].url or "")


def test_pubmed_structured_abstracts_and_markup_in_the_first_words() -> None:
    """The description of a structured abstract is only its last section ("CONCLUSION: ..."), or
    starts with "YIM S02567^(T)" where the content has <sup>: the content is the abstract, always."""
    records = _records("biorss_pubmed_rss_search_2021-12-21_first6.xml")
    structured = records[5]
    assert structured.abstract.startswith("AIMS: The control of Xanthomonas citri")
    assert "CONCLUSION:" in structured.abstract and "SIGNIFICANCE AND IMPACT OF STUDY:" in structured.abstract
    assert structured.journal_ref == "J Appl Microbiol. 2021 Dec 20"
    strain = records[1]
    assert strain.journal_ref == "Arch Microbiol. 2021 Dec 20;204(1):39" and not strain.abstract.endswith("...")
    assert all("PMID" not in r.abstract and "PMC:" not in r.abstract for r in records)
    assert all(r.url == f"https://pubmed.ncbi.nlm.nih.gov/{r.external_id.split(':')[1]}/" for r in records)


def test_ojs_placeholder_abstract_and_journal() -> None:
    records = _records("biorss_ojs_magnolia_phytotaxa_rss1_2021-12-14_first7.rdf")
    assert records[6].abstract == ""  # "<p>N/A</p>"
    assert records[0].journal_ref == "Phytotaxa 528(2), 71–83 (2021)"
    troplep = _records("biorss_ojs_flvc_tropical-lepidoptera-research_rss1_2021-12-21_first2.rdf")
    assert all(r.doi is None and r.url and r.abstract for r in troplep)


def test_ojs_atom_authors_without_their_addresses() -> None:
    records = _records("biorss_ojs_entomologisk-tidskrift_atom_2021-12-21_first2.xml")
    assert records and all("@" not in a for r in records for a in r.authors)
    assert all(r.published for r in records)


def test_ingenta_article_types_and_inverted_names() -> None:
    records = _records("biorss_ingenta_entomologists-monthly-magazine_rss1_2021-11-23_first3.rdf")
    assert [r.categories for r in records] == [("Articles",), ("Book Review",), ("Obituary",)]
    assert "Michael S. Engel" in records[0].authors


def test_pensoft_phytokeys() -> None:
    records = _records("biorss_pensoft_phytokeys_rss091_2021-11-23_first2.xml")
    assert all(r.authors and r.doi and r.pdf_url and "HTML" not in r.abstract for r in records)


def test_scholar_alerts_made_into_a_feed() -> None:
    records = _records("biorss_googlescholar_alert_atom_2021-11-06_whole.xml")
    assert len(records) == 10 and not any(r.abstract.endswith((".com", ".org")) for r in records)
    assert records[5].abstract.startswith("The family Diplomaragnidae")  # "Abstract The family ..."
    assert records[2].pdf_url == "https://www.mdpi.com/2309-608X/7/11/919/pdf"
    assert records[7].pdf_url == "https://zookeys.pensoft.net/article/72596/download/pdf/"


def test_a_channel_date_in_a_named_zone_west_of_greenwich() -> None:
    """ZooBank's "Thu, 2 Dec 2021 05:21:07 HST": Hawaii is ten hours behind UTC (neither feedparser
    nor RFC 5322 knows the name)."""
    doc = ('<?xml version="1.0"?><rss version="2.0"><channel><title>ZooBank</title><link>https://zoobank.org/</link>'
           "<description>d</description><lastBuildDate>Thu, 2 Dec 2021 05:21:07 HST</lastBuildDate>"
           "<item><title>A name</title><link>https://zoobank.org/x</link></item></channel></rss>")
    assert parse_document("rss", doc.encode()).feed_date == datetime(2021, 12, 2, 15, 21, 7, tzinfo=timezone.utc)


def test_legacy_arxiv_collaboration_in_brackets_after_a_linked_name() -> None:
    records = _records("physbiblio_arxiv_legacy_rss1_hep-ex_2018-05-23_TRIMMED.rdf")
    assert records[0].authors == ("Christopher Dilks", "STAR Collaboration")
    assert records[0].arxiv_id == "1805.08875" and records[2].version == 2


def test_two_people_in_one_field_keep_their_tex_resolved() -> None:
    doc = ('<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t'
           "</title><link>https://j.example.org/</link><description>d</description><item><title>A paper</title>"
           "<link>https://j.example.org/a</link><dc:creator>Nina Rajcic, Anders S{\\o}gaard</dc:creator></item>"
           "</channel></rss>")
    assert parse_document("rss", doc.encode()).records[0].authors == ("Nina Rajcic", "Anders Søgaard")


def test_medium_post_without_its_caption_footer_and_feed_marker() -> None:
    """In the shape of a real medium.com/@<author>/feed item (2023): a photo's caption before the
    text, Medium's "originally published in ... on Medium" footer after it, and a link naming the
    feed it came through ("?source=rss-<id>------2"). None of them is the post."""
    content = ('<h4>What is AsyncStream and how to use it</h4><figure><img alt="" src="https://cdn-images-1.medium.com/'
               'max/1024/0*nS892-oI6tA1iBsP" /><figcaption>Photo by <a href="https://unsplash.com/@clark_fransa">Arnold '
               "Francisca</a> on <a href=\"https://unsplash.com\">Unsplash</a></figcaption></figure><p>AsyncStream turns "
               "callbacks into an asynchronous sequence.</p><hr><p><a href=\"https://blog.stackademic.com/x\">Swift’s "
               "AsyncStream Explained</a> was originally published in <a href=\"https://blog.stackademic.com\">Stackademic"
               "</a> on Medium, where people are continuing the conversation by highlighting and responding to this "
               "story.</p>")
    doc = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
           'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Stories by Daniel Capra on Medium'
           "</title><link>https://medium.com/@danielcapra?source=rss-8717e15cbfc4------2</link><description>d</description>"
           "<item><title>Swift’s AsyncStream Explained</title>"
           "<link>https://blog.stackademic.com/swifts-asyncstream-explained-127d84078424?source=rss-8717e15cbfc4------2</link>"
           '<guid isPermaLink="false">https://medium.com/p/127d84078424</guid><dc:creator>Daniel Capra</dc:creator>'
           f"<content:encoded><![CDATA[{content}]]></content:encoded></item></channel></rss>")
    (record,) = parse_document("rss", doc.encode()).records
    assert record.abstract == "What is AsyncStream and how to use it\nAsyncStream turns callbacks into an asynchronous sequence."
    assert record.url == "https://blog.stackademic.com/swifts-asyncstream-explained-127d84078424"
    assert record.external_id == "https://medium.com/p/127d84078424"
