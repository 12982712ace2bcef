"""Author queries (`au:`) end to end: the spellings of one person's name that find their papers
(particles, umlauts written out, suffixes such as "Jr.", initials) and the names of other people that
do not. Papers are stored with the real Store in a temporary config's SQLite file and found with
`digest match` / `digest search --json` (see tests/test_cli_match_cases.py for the helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_match_cases import CONFIG, _ingest, _json, _paper, run


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(CONFIG, encoding="utf-8")
    assert run(path, "init").exit_code == 0
    return path


def _found(config: Path, query: str) -> set[str]:
    return {h["paper_id"] for h in _json(run(config, "search", query, "--json"))}


def test_lecun_subscription_also_gets_papers_signed_le_cun(config: Path) -> None:
    """A subscription to `au:lecun` (docs: "a bare surname matches every LeCun") also gets papers signed
    "Y. Le Cun", such as the 1998 LeNet paper and arXiv listings of his older work: particles join in
    surnames."""
    assert run(config, "subscribe", "ada@example.org", "au:lecun", "--name", "lecun").exit_code == 0
    _ingest(config, [
        _paper("2401.10001", "Gradient-based learning applied to document recognition", ["Y. Le Cun", "L. Bottou"]),
        _paper("2401.10002", "A path towards autonomous machine intelligence", ["Yann LeCun"]),
    ])
    assert run(config, "match").exit_code == 0
    found = {m["paper_id"] for m in _json(run(config, "matches", "--json", "--subscription", "ada@example.org/lecun"))}
    assert found == {"arxiv:2401.10001", "arxiv:2401.10002"}


@pytest.mark.parametrize("query", ['au:"Yann Le Cun"', 'au:"Le Cun"', 'au:"Le Cun, Y."'])
def test_le_cun_spelling_in_the_query_finds_both_spellings(config: Path, query: str) -> None:
    """LeCun's name typed the way older papers print it (`au:"Yann Le Cun"`, the surname alone `au:"Le
    Cun"`, or `au:"Le Cun, Y."`) finds papers signed "Y. Le Cun" and "Yann LeCun" alike."""
    _ingest(config, [
        _paper("2401.10001", "Gradient-based learning applied to document recognition", ["Y. Le Cun", "L. Bottou"]),
        _paper("2401.10002", "A path towards autonomous machine intelligence", ["Yann LeCun"]),
    ])
    assert _found(config, query) == {"arxiv:2401.10001", "arxiv:2401.10002"}


@pytest.mark.parametrize("query,author", [
    ('au:"van der Maaten"', "Laurens van der Maaten"),
    ('au:"de Freitas"', "Nando de Freitas"),
    ('au:"van den Oord"', "Aäron van den Oord"),
    ('au:"De la Torre"', "Fernando De la Torre"),
])
def test_surname_with_particle_without_given_name(config: Path, query: str, author: str) -> None:
    """A surname with a particle, written as everyone writes it and with no given name (`au:"van der
    Maaten"`, `au:"de Freitas"`, `au:"De la Torre"`), finds the author: the leading particle is part of
    the surname, not an initial."""
    _ingest(config, [_paper("2401.10003", "Visualizing data using t-SNE", [author, "Geoffrey Hinton"])])
    assert _found(config, query) == {"arxiv:2401.10003"}


@pytest.mark.parametrize("query,author", [
    ('au:"Bernhard Schoelkopf"', "Bernhard Schölkopf"),
    ('au:schoelkopf', "Bernhard Schölkopf"),
    ('au:"Klaus-Robert Mueller"', "Klaus-Robert Müller"),
    ('au:"Schölkopf"', "B. Schoelkopf"),
])
def test_umlaut_written_out_is_the_same_person(config: Path, query: str, author: str) -> None:
    """An ASCII spelling of a name with diacritics finds the same person, with the umlaut spelled out
    too, as German names often are (arXiv lists Schölkopf as "Bernhard Schoelkopf" on many papers); it
    works both ways."""
    _ingest(config, [_paper("2401.10004", "Kernel methods in machine learning", [author, "Alex Smola"])])
    assert _found(config, query) == {"arxiv:2401.10004"}


@pytest.mark.parametrize("query", ["au:gates", 'au:"S. J. Gates"'])
def test_author_with_suffix_jr(config: Path, query: str) -> None:
    """An author with a suffix, "S. James Gates, Jr." as the arXiv reader keeps him (a prolific hep-th
    author), is found by `au:gates` and by `au:"S. J. Gates"`."""
    _ingest(config, [_paper("2401.10005", "Adinkras for supersymmetric quantum mechanics",
                            ["S. James Gates, Jr.", "W. D. Linch III"])])
    assert _found(config, query) == {"arxiv:2401.10005"}


@pytest.mark.parametrize("query", ['au:"James Gates"', 'au:"Gates, James"', 'au:"S. James Gates"'])
def test_author_who_goes_by_a_middle_name_is_found_by_it(config: Path, query: str) -> None:
    """"S. James Gates, Jr." goes by James: `au:"James Gates"` finds his papers, as do his initials,
    while another given name ("Bill Gates") and another initial (`au:"J. Gates"`, which could be anyone)
    do not claim him."""
    _ingest(config, [_paper("2401.10005", "Adinkras for supersymmetric quantum mechanics",
                            ["S. James Gates, Jr.", "W. D. Linch III"]),
                     _paper("2401.10008", "Software for everyone", ["Bill Gates"])])
    assert _found(config, query) == {"arxiv:2401.10005"}
    assert _found(config, 'au:"J. Gates"') == set()


@pytest.mark.parametrize("name, middle", [
    ("S. James Gates, Jr.", "james"), ("Gates, S. James", "james"), ("F. Scott Fitzgerald", "scott"),
    ("S. J. Gates", ""), ("James Gates", ""), ("J. van der Waals", ""), ("Gates", ""),
])
def test_goes_by_reads_the_written_out_name_after_an_initial(name: str, middle: str) -> None:
    from digest.text import goes_by

    assert goes_by(name) == middle


@pytest.mark.parametrize("query,same,other", [
    ('au:"Kaiming He"', "K. He", "Kun He"),
    ('au:"Wei Wang"', "W. Wang", "Wen Wang"),
    ('au:"Xiang Li"', "Li, X.", "Xin Li"),
])
def test_full_given_names_that_differ_are_different_people(config: Path, query: str, same: str, other: str) -> None:
    """Full given names that differ are different people: `au:"Kaiming He"` finds "K. He" (only an
    initial: may be him) but not "Kun He". Surnames such as He, Wang and Li are shared by thousands of
    authors."""
    _ingest(config, [_paper("2401.10006", "Deep residual learning for image recognition", [same]),
                     _paper("2401.10007", "Graph neural networks for molecules", [other])])
    assert _found(config, query) == {"arxiv:2401.10006"}


@pytest.mark.parametrize("name, parts", [
    ("OpenAI", ("openai", "", "")),                       # a one-word name is a surname, not an initial
    ("Suyanto", ("suyanto", "", "")),
    ("Le Song", ("song", "l", "le")),                     # in an author line, "Le" is his given name
    ("Laurens van der Maaten", ("van der maaten", "l", "laurens")),
    ("Gates, Jr., S. James", ("gates", "s", "")),         # BibTeX's Last, Jr., First
    ("J.-B. Alayrac", ("alayrac", "j", "")),               # hyphenated initials give only the initial
    ("Jean-Baptiste Alayrac", ("alayrac", "j", "jeanbaptiste")),
])
def test_author_parts_read_names_as_author_lines_write_them(name: str, parts: tuple[str, str, str]) -> None:
    """How one author's name splits into (surname, initial, given name), which matching, merging and
    muting all read."""
    from digest.text import author_parts

    assert author_parts(name) == parts
