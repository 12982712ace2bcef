"""digest.sources.layouts on its own: each publisher layout read apart, and what must not be read
as one (a sentence is no author list, an organisation is no person with an affiliation). The real
feeds these layouts come from are tested in tests/test_sources_rss_captures.py."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from digest.sources import layouts


@pytest.mark.parametrize(("text", "person"), [
    ("Richard Wisneski Miami University, Oxford, Ohio, USA", "Richard Wisneski"),
    ("Christopher Jimenez Associate Librarian", "Christopher Jimenez"),
    ("Bradford Lee Eden Independent Scholar and Academic Librarian, Philadelphia, Pennsylvania", "Bradford Lee Eden"),
    ("Jan de Vries University of Amsterdam", "Jan de Vries"),
    ("Jane Doe", None),
    ("Mary Ann Dean", None),  # a surname, not a position
    ("The Alan Turing Institute", None),  # an organisation as the author
    ("Google Research", None),
    ("Doe, Jane", None),
])
def test_person_without_affiliation(text: str, person: str | None) -> None:
    assert layouts.person_without_affiliation(text) == person


@pytest.mark.parametrize(("line", "names"), [
    ("Francesco N. Tubiello, Anne Branthomme, and Örjan Jonsson", True),
    ("Michel V. Heinz, Nicole Maser, Arne Lu\u0308chow", True),  # a decomposed "ü"
    ("Slides and video", False),
    ("We study sparse probes of large models", False),
    ("Deep learning for graphs", False),
    ("Machine Learning, Computer Vision, and Natural Language Processing", False),  # keywords, not people
    ("A. Doe, B. Roe, 2024", False),
    ("", False),
])
def test_is_name_list(line: str, names: bool) -> None:
    assert layouts.is_name_list(line) is names


def test_leading_names() -> None:
    assert layouts.leading_names("Yinpeng ZHANG;Xiaolong LIU;Zhiyong YUAN;Cyrtodactylus geckos are ...") == (
        "Yinpeng ZHANG;Xiaolong LIU;Zhiyong YUAN", "Cyrtodactylus geckos are ...")
    assert layouts.leading_names("Jane Doe, John Roe\nWe study ...") == ("Jane Doe, John Roe", "We study ...")
    assert layouts.leading_names("Background; we study the effect of ...") is None
    assert layouts.leading_names("Deep Learning;we propose") is None  # one "name": not enough
    assert layouts.leading_names("We study sparse probes.") is None


def test_pubmed_abstract() -> None:
    text = ("Nature. 2024 Jan 5;625(7993):1-2. doi: 10.1038/x. Epub 2024 Jan 3.\nABSTRACT\nWe show things.\n"
            "PMID:38000000 | PMC:PMC123 | DOI:10.1038/x")
    assert layouts.pubmed_abstract(text) == ("We show things.", "Nature. 2024 Jan 5;625(7993):1-2")
    assert layouts.pubmed_abstract("No footer here.\nABSTRACT\nText") is None


def test_labelled_lines() -> None:
    text = ("Biodiversity Data Journal 9: e75672\nDOI: 10.3897/BDJ.9.e75672\nAuthors: Ana Silva, Rui Costa\n"
            "Abstract: We describe a species.\nHTML\nXML\nPDF")
    assert layouts.labelled_lines(text) == ("We describe a species.", "Ana Silva, Rui Costa",
                                            ("Biodiversity Data Journal", "Biodiversity Data Journal 9, e75672"))
    assert layouts.labelled_lines("We start with prose.\nAuthors: A B\nAbstract: x") is None


def test_issue_citation() -> None:
    assert layouts.issue_citation("Science, Volume 383, Issue 6683, Page 590-595, February 2024.") == (
        "Science", "Science 383(6683), 590-595 (2024)")
    assert layouts.issue_citation("Angewandte Chemie International Edition, EarlyView.") is None


def test_sciencedirect_source_and_publication_day() -> None:
    text = "Publication date: 1–15 March 2026\nSource: Cell, Volume 187, Issue 5, Pages 1012-1030\nAuthor(s): A B"
    day = layouts.publication_day(text)
    assert day == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert layouts.sciencedirect_source(text, day) == ("Cell", "Cell 187(5), 1012-1030 (2026)")
    assert layouts.sciencedirect_source("Author(s): A B", day) is None
    assert layouts.publication_day("Publication date: 31 February 2026") is None


@pytest.mark.parametrize(("rights", "declared", "licence"), [
    ("© American Public Health Association 2015", None, None),
    ("Copyright (c) 2021 Jane Doe http://creativecommons.org/licenses/by-nc/3.0/", None,
     "http://creativecommons.org/licenses/by-nc/3.0/"),
    ("Copyright (c) 2021 Jane Doe", "https://creativecommons.org/licenses/by/4.0/",
     "https://creativecommons.org/licenses/by/4.0/"),
    ("CC BY 4.0", None, "CC BY 4.0"),
    ("", None, None),
])
def test_licence(rights: str, declared: str | None, licence: str | None) -> None:
    assert layouts.licence(rights, declared) == licence


@pytest.mark.parametrize(("url", "clean"), [
    ("https://pubmed.ncbi.nlm.nih.gov/34902460/?utm_source=Mobile Safari UI/WKWebView&utm_medium=rss&fc=2021&ff=2021&v=2.15.0",
     "https://pubmed.ncbi.nlm.nih.gov/34902460/"),
    ("https://blog.example.com/post-127d84078424?source=rss-8717e15cbfc4------2", "https://blog.example.com/post-127d84078424"),
    ("https://example.org/search?source=arxiv&q=x", "https://example.org/search?source=arxiv&q=x"),  # not Medium's marker
    ("https://onlinelibrary.wiley.com/doi/10.1002/tax.12603?af=R", "https://onlinelibrary.wiley.com/doi/10.1002/tax.12603"),
    ("https://example.org/a?v=2#sec", "https://example.org/a?v=2#sec"),  # "v" is a stamp on PubMed only
    ("https://example.org/a", "https://example.org/a"),
])
def test_without_tracking(url: str, clean: str) -> None:
    from digest.ids import without_tracking

    assert without_tracking(url) == clean
