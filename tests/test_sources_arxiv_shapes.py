"""Real arXiv metadata through the arXiv readers (RSS, API, snapshot) and digest.text: TeX in titles
and names, author lines with affiliations, suffixes and collaborations, damaged versions, and the
same paper from several arXiv sources. Most came from an adversarial review. Sources used:

* tests/data/arxiv-rss/aioarxiv_all-archives_2024-11-28.xml (a real rss.arxiv.org capture, "the
  capture" below): dc:creator is arXiv's raw author line, TeX and affiliations included.
* arXiv's own author-line grammar, arxiv-base's ``parse_author_affil`` as vendored in
  mattbierbaum/arxiv-public-datasets (arxiv_public_data/authors.py): affiliations in parentheses
  (with commas and "and" inside), an enumerated affiliation block "((1) ..., (2) ...)", "et al."
  (dropped), "Name, Jr." (recombined), "X Collaboration: A, B" (split on the colon).
* tests/data/corpus/...kaggle-arxiv-metadata-oai-snapshot_first200.jsonl (the Kaggle snapshot).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from digest.sources import parse_document
from digest.sources.arxiv_snapshot import record_from_json
from digest.text import author_key, clean_title, split_authors

DATA = Path(__file__).parent / "data"
CAPTURE = DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml"
SNAPSHOT = DATA / "corpus" / "arxivSpider_mnbvc_kaggle-arxiv-metadata-oai-snapshot_first200.jsonl"


@pytest.fixture(scope="module")
def capture() -> dict[str, object]:
    feed = parse_document("arxiv-rss", CAPTURE.read_bytes())
    return {r.arxiv_id: r for r in feed.records}


@pytest.fixture(scope="module")
def snapshot_lines() -> dict[str, dict[str, object]]:
    lines = (json.loads(line) for line in SNAPSHOT.read_text(encoding="utf-8").splitlines() if line.strip())
    return {o["id"]: o for o in lines}


def _rss(*items: str) -> bytes:
    return ("<?xml version='1.0' encoding='UTF-8'?>\n"
            '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'version="2.0"><channel><title>math updates on arXiv.org</title>'
            "<link>http://rss.arxiv.org/rss/math</link><description>math updates</description>"
            "<pubDate>Thu, 28 Nov 2024 00:00:00 -0500</pubDate>" + "".join(items) + "</channel></rss>").encode()


def _item(arxiv_id: str, version: str, announce: str, *, title: str = "A title", creator: str = "A. Author",
          cats: tuple[str, ...] = ("math.GT",), extra: str = "") -> str:
    """One item as rss.arxiv.org writes it (field order and shapes as in the capture)."""
    categories = "".join(f"<category>{c}</category>" for c in cats)
    return (f"<item><title>{title}</title><link>https://arxiv.org/abs/{arxiv_id}</link>"
            f"<description>arXiv:{arxiv_id}v{version} Announce Type: {announce} \nAbstract: Some abstract.</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v{version}</guid>{categories}'
            "<pubDate>Thu, 28 Nov 2024 00:00:00 -0500</pubDate>"
            f"<arxiv:announce_type>{announce}</arxiv:announce_type>"
            "<dc:rights>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</dc:rights>"
            f"{extra}<dc:creator>{creator}</dc:creator></item>")


def _atom(*entries: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">'
            "<title>arXiv Query</title><updated>2024-11-29T00:00:00-05:00</updated>"
            f"<opensearch:totalResults>{len(entries)}</opensearch:totalResults>"
            + "".join(entries) + "</feed>").encode()


def _entry(arxiv_id: str, version: int, *, title: str = "A title", authors: tuple[str, ...] = ("A. Author",),
           published: str = "2007-04-02T19:18:42Z", updated: str = "2007-07-24T20:10:27Z") -> str:
    names = "".join(f"<author><name>{a}</name></author>" for a in authors)
    return (f"<entry><id>http://arxiv.org/abs/{arxiv_id}v{version}</id><updated>{updated}</updated>"
            f"<published>{published}</published><title>{title}</title><summary>  Abstract.\n</summary>{names}"
            f'<link href="http://arxiv.org/abs/{arxiv_id}v{version}" rel="alternate" type="text/html"/>'
            f'<arxiv:primary_category term="hep-ph" scheme="http://arxiv.org/schemas/atom"/>'
            f'<category term="hep-ph" scheme="http://arxiv.org/schemas/atom"/></entry>')


# --- TeX in titles -------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    # The capture, 2411.18560: "A tale of Bethe logarithms: leptonic widths of $\chi_{cJ}$ and Lamb shift".
    (r"leptonic widths of $\chi_{cJ}$ and Lamb shift", "leptonic widths of χ_cJ and Lamb shift"),
    # Common arXiv title math (every one is in digest.text's own symbol table).
    (r"$\kappa$-deformed Poincar\'e algebra", "κ-deformed Poincaré algebra"),
    (r"$\varepsilon$-nets and VC dimension", "ε-nets and VC dimension"),
    (r"The $\varphi^4$ model", "The φ^4 model"),
    (r"$\upsilon$ decays", "υ decays"),
    (r"Dot products $x \cdot y$", "Dot products x · y"),
])
def test_greek_and_symbol_commands_starting_with_an_accent_letter_survive(raw: str, expected: str) -> None:
    """$\\chi$, $\\kappa$, $\\varepsilon$, $\\varphi$, $\\upsilon$ and $\\cdot$ read χ, κ, ε, φ, υ, ·: the
    one-letter TeX accents \\c \\k \\v \\u are control words, so they never take the first letter of a
    longer command (they used to give "ḩi", "ąppa", "ǎrepsilon", "ḑot")."""
    assert clean_title(raw) == expected


def test_colon_command_in_a_real_title_is_not_turned_into_an_accented_o(capture: dict[str, object]) -> None:
    """The capture's 2411.18439 "Exact Diophantine approximation$\\colon$ the simultaneous case" gains
    no combining marks: \\c (cedilla) does not take "\\co" of \\colon."""
    rec = capture["2411.18439"]
    assert not any(unicodedata.combining(c) for c in rec.title), rec.title  # type: ignore[attr-defined]


@pytest.mark.parametrize(("arxiv_id", "glued"), [
    ("2411.18536", r"\textrmBa"),   # $\textrm{Ba}_{1-x}\textrm{Ca}_{x}...$
    ("2411.18414", r"\mathrmt"),    # $\mathrm{t \bar{t}}$
    ("2411.18390", r"\mathfrakh"),  # $\mathcal{U}(\mathfrak{h})$
    ("2411.18209", r"\bart"),       # $t\bar{t}$
])
def test_unknown_tex_commands_are_not_glued_to_their_argument(capture: dict[str, object], arxiv_id: str,
                                                              glued: str) -> None:
    """A command on a braced argument gives its argument, nested ones included: real titles from the
    capture read "Ba_1-xCa_x...", "t t events", "U(h)", never "\\textrmBa", "\\mathrmt \\bart" or
    "U(\\mathfrakh)" (the braces used to be deleted with the command still there)."""
    title = capture[arxiv_id].title  # type: ignore[attr-defined]
    assert glued not in title, title


# --- TeX in author names ---------------------------------------------------------------------------

def test_dotless_i_in_braces_in_a_real_author_name(capture: dict[str, object]) -> None:
    """The capture's 2411.17796 lists "Serdar Kad{\\i}o\\u{g}lu": \\i is the dotless ı on its own too, so
    the name is "Serdar Kadıoğlu", as arXiv's tex2utf (the snapshot's authors_parsed) gives it."""
    assert "Serdar Kadıoğlu" in capture["2411.17796"].authors  # type: ignore[attr-defined]


def test_tex_accents_in_author_names_resolve(capture: dict[str, object]) -> None:
    """the accent forms arXiv author lines use."""
    assert split_authors(r"Kurt G\"odel and Paul Erd\H{o}s, \c{C}a\u{g}lar G\"ul\c{c}ehre, {\'E}. Fontaine") == [
        "Kurt Gödel", "Paul Erdős", "Çağlar Gülçehre", "É. Fontaine"]
    assert "D. Dueñas Tonguino" in capture["2403.07266"].authors  # type: ignore[attr-defined]  # "Due\~nas"


# --- author lines --------------------------------------------------------------------------------

@pytest.mark.parametrize(("arxiv_id", "people"), [
    ("2411.17753", ["Aleteia Araujo", "Breno Costa", "Joao Bachiega Jr", "Leonardo R. Carvalho", "Rajkumar Buyya"]),
    ("2411.17817", ["Tianliang Yan", "Yubao Liu", "Leonid Prokhorov", "Jiri Smetana", "Haixing Miao", "Yiqiu Ma",
                    "Vincent Boyer", "Denis Martynov"]),
    # "(Andrew and Peggy Cherng Department of Medical Engineering, ..., Pasadena, CA, USA)"
    ("2411.17935", ["Jadelynn Dao", "Ruixiao Liu", "Sarah Solomon", "Samuel Solomon"]),
])
def test_affiliations_with_commas_do_not_become_authors(capture: dict[str, object], arxiv_id: str,
                                                        people: list[str]) -> None:
    """rss.arxiv.org's dc:creator is arXiv's author line, affiliations in parentheses included: the
    line splits only outside the parentheses, as arXiv's own parser does, so 2411.17817's eight
    people stay eight (they used to be 46 "authors" like "China)")."""
    authors = capture[arxiv_id].authors  # type: ignore[attr-defined]
    assert [a.split(" (")[0] for a in authors] == people, authors


def test_rss_author_with_affiliation_keeps_its_surname_key(capture: dict[str, object]) -> None:
    """The capture's 2411.17774 "Debo Cheng (University of South Australia)" has the author key of
    Debo Cheng: the affiliation is no part of the name, so mutes, authors: queries and the
    first-author key used for merging see the same person as the API and the snapshot."""
    first = capture["2411.17774"].authors[0]  # type: ignore[attr-defined]
    assert author_key(first) == author_key("Debo Cheng")


def test_enumerated_affiliation_block_is_not_read_as_authors() -> None:
    """arXiv's own example author line with a numbered affiliation block "((1) MPI ..., Garching; (2)
    ...)" gives its four people: the block, and the ";" inside it, are not names."""
    line = ("L. Scheck (1), H.-Th. Janka (1), T. Foglizzo (2), and K. Kifonidis (1)\n  ((1) MPI for Astrophysics, "
            "Garching; (2) Service d'Astrophysique, CEA-Saclay)")
    assert [a.split(" (")[0] for a in split_authors(line)] == ["L. Scheck", "H.-Th. Janka", "T. Foglizzo",
                                                                "K. Kifonidis"]


def test_et_al_is_not_an_author() -> None:
    """An arXiv author line ending ", et al." has no author called "et al.", as arXiv's parser drops it."""
    feed = parse_document("arxiv-rss", _rss(_item("2411.00001", "1", "new", creator="B. P. Abbott, R. Abbott, et al.")))
    assert feed.records[0].authors == ("B. P. Abbott", "R. Abbott")


def test_comma_jr_suffix_stays_with_its_author() -> None:
    """"S. James Gates, Jr., W. D. Linch III" is two people: the suffix stays with Gates."""
    authors = split_authors("S. James Gates, Jr., W. D. Linch III")
    assert len(authors) == 2 and "Jr." not in authors and authors[1] == "W. D. Linch III"


def test_collaboration_prefix_with_colon_is_its_own_author() -> None:
    """"The LIGO Scientific Collaboration: B. P. Abbott, R. Abbott" gives the collaboration and each person
    as entries of their own, as arXiv's parser splits on the colon after a collaboration."""
    authors = split_authors("The LIGO Scientific Collaboration: B. P. Abbott, R. Abbott")
    assert authors == ["The LIGO Scientific Collaboration", "B. P. Abbott", "R. Abbott"]


def test_snapshot_authors_parsed_drops_affiliations(snapshot_lines: dict[str, dict[str, object]]) -> None:
    """authors_parsed entries carry affiliations after the suffix (0704.0044,
    0704.0066 "Institute ..., Sofia, Bulgaria"); only the names are kept, the suffix kept (0704.0009)."""
    assert record_from_json(snapshot_lines["0704.0044"]).authors[:2] == ("A. A. Schekochihin", "S. C. Cowley")
    assert record_from_json(snapshot_lines["0704.0066"]).authors == ("Bozhidar Z. Iliev",)
    assert "Neal J. Evans II" in record_from_json(snapshot_lines["0704.0009"]).authors


def test_snapshot_fallback_author_line_with_enumerated_affiliations(snapshot_lines: dict[str, dict[str, object]]) -> None:
    """A snapshot line without authors_parsed (not every dump has it) gives the same two people from its
    author line, numbered affiliations and all, as authors_parsed does."""
    line = dict(snapshot_lines["0704.0025"])
    with_parsed = record_from_json(line).authors
    del line["authors_parsed"]
    assert with_parsed == ("A. S. Mishchenko", "N. Nagaosa")
    assert [a.split(" (")[0] for a in record_from_json(line).authors] == list(with_parsed)


# --- ids, versions, odd input --------------------------------------------------------------------

def test_old_style_ids_and_two_digit_versions_in_the_2024_feed() -> None:
    """replace/replace-cross items of old papers (guid "oai:arXiv.org:math/0309136v12")
    keep id, version, announce type, a later-version date and the first of two DOIs."""
    feed = parse_document("arxiv-rss", _rss(
        _item("math/0309136", "12", "replace-cross"), _item("2401.01234", "10", "replace"),
        _item("cond-mat/9901001", "3", "replace", extra="<arxiv:DOI>10.1103/PhysRevB.1.1 10.1103/PhysRevB.1.2</arxiv:DOI>")))
    got = [(r.arxiv_id, r.version, r.announce_type, r.published, r.pdf_url) for r in feed.records]
    assert [g[:3] for g in got] == [("math/0309136", 12, "replace-cross"), ("2401.01234", 10, "replace"),
                                    ("cond-mat/9901001", 3, "replace")]
    assert all(g[3] is None for g in got) and got[0][4] == "https://arxiv.org/pdf/math/0309136v12"
    assert feed.records[2].doi == "10.1103/physrevb.1.1"


def test_a_garbage_version_number_is_not_a_crash_at_ingest(sqlite_store) -> None:  # type: ignore[no-untyped-def]
    """A damaged guid ("oai:arXiv.org:2401.01234v99999999999999999999") gives a version no server
    gives: the paper is stored without it, where the whole batch used to fail with OverflowError
    (on PostgreSQL from 2^31 on)."""
    feed = parse_document("arxiv-rss", _rss(_item("2401.01234", "99999999999999999999", "replace")))
    sqlite_store.ingest_records("f", feed.records)
    assert sqlite_store.get_paper("arxiv:2401.01234").arxiv_id == "2401.01234"


# --- merging the same paper from three sources ---------------------------------------------------

def test_versions_never_go_backwards_across_sources(sqlite_store, snapshot_lines) -> None:  # type: ignore[no-untyped-def]
    """RSS v3 first, then an older snapshot line (v2) and an API answer for v1: one
    paper, version 3, v3's title kept, categories joined."""
    rss = parse_document("arxiv-rss", _rss(_item("0704.0001", "3", "replace", title="Third version title",
                                                 creator="C. Bal\\'azs, E. L. Berger", cats=("hep-ph", "hep-ex"))))
    sqlite_store.ingest_records("rss", rss.records)
    snap = record_from_json(snapshot_lines["0704.0001"])
    assert snap.version == 2
    sqlite_store.ingest_records("snap", [snap])
    api = parse_document("arxiv-atom", _atom(_entry("0704.0001", 1, title="First version title")))
    sqlite_store.ingest_records("api", api.records)
    paper = sqlite_store.get_paper("arxiv:0704.0001")
    assert (paper.version, paper.title) == (3, "Third version title")
    assert "hep-ph" in paper.categories and "hep-ex" in paper.categories


def test_rss_replacement_keeps_the_snapshot_author_list(sqlite_store, snapshot_lines) -> None:  # type: ignore[no-untyped-def]
    """End to end: the snapshot stores 0704.0044 v2 with seven clean names from authors_parsed; an RSS
    replacement (v3) whose author line carries affiliations stores the same people (same author
    keys), so mutes and author alerts keep working for the paper."""
    snap = record_from_json(snapshot_lines["0704.0044"])
    sqlite_store.ingest_records("snap", [snap])
    line = str(snapshot_lines["0704.0044"]["authors"])
    rss = parse_document("arxiv-rss", _rss(_item("0704.0044", str((snap.version or 1) + 1), "replace",
                                                 title=str(snapshot_lines["0704.0044"]["title"]), creator=line,
                                                 cats=("astro-ph",))))
    sqlite_store.ingest_records("rss", rss.records)
    paper = sqlite_store.get_paper("arxiv:0704.0044")
    assert paper.version == (snap.version or 1) + 1
    assert [author_key(a) for a in paper.authors] == [author_key(a) for a in snap.authors]
