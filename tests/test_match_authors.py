"""Author queries (`au:`) end to end: the spellings of one person's name that find their papers
(particles, umlauts written out, suffixes such as "Jr.", initials) and the names of other people that
do not. Papers are stored with the real Store in a temporary config's SQLite file and found with
`digest match` / `digest search --json` (see tests/test_cli_match_cases.py for the helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
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


@pytest.mark.parametrize("query", ['au:"James Gates"', 'au:"Gates, James"', 'au:"S. James Gates"', 'au:"J. Gates"'])
def test_author_who_goes_by_a_middle_name_is_found_by_it(config: Path, query: str) -> None:
    """"S. James Gates, Jr." goes by James: `au:"James Gates"` finds his papers, as do his initials and
    James's initial (`au:"J. Gates"`: J. Gates may be James Gates), while another given name ("Bill
    Gates") does not claim him, nor is Bill found by `au:"J. Gates"`."""
    _ingest(config, [_paper("2401.10005", "Adinkras for supersymmetric quantum mechanics",
                            ["S. James Gates, Jr.", "W. D. Linch III"]),
                     _paper("2401.10008", "Software for everyone", ["Bill Gates"])])
    assert _found(config, query) == {"arxiv:2401.10005"}


@pytest.mark.parametrize("query,author", [
    ('au:"James Gates"', "Sylvester James Gates"),       # both given names written out
    ('au:"J. Gates"', "Sylvester James Gates"),
    ('au:"Robert Oppenheimer"', "J. Robert Oppenheimer"),
    ('au:"R. Oppenheimer"', "J. Robert Oppenheimer"),
    ('au:"Cristina Marchetti"', "M. Cristina Marchetti"),
    ('au:"Cristina Marchetti"', "Maria Cristina Marchetti"),
    ('au:"Eugene Stanley"', "H. Eugene Stanley"),
    ('au:"Paul Alivisatos"', "A. Paul Alivisatos"),
    ('au:"Ana Garcia"', "Ana María García-López"),
    ('au:"Ana Maria Garcia"', "Ana García-López"),
    ('au:"Maria Garcia-Lopez"', "Ana María García-López"),
    ('au:"S. James Gates"', "James Gates"),                # the query writes the leading initial, the paper not
    ('au:"Sylvester James Gates"', "J. Gates"),
    ('au:"J. Robert Oppenheimer"', "Robert Oppenheimer"),
    ('au:"Geoffrey E. Hinton"', "Geoffrey Hinton"),         # a middle initial one side leaves out
    ('au:"G. Hinton"', "Geoffrey E. Hinton"),
    ('au:"Hector Garcia-Molina"', "H. Garcia-Molina"),
    ('au:"van der Waals"', "J. D. van der Waals"),
    ('au:"Diederik van der Waals"', "J. Diederik van der Waals"),
    ('au:"Martin Luther King"', "Martin Luther King, Jr."),
])
def test_a_name_written_with_more_or_fewer_given_names_is_found(config: Path, query: str, author: str) -> None:
    """Authors sign with a leading initial and the middle name they go by ("J. Robert Oppenheimer",
    "M. Cristina Marchetti", "H. Eugene Stanley"), with every given name written out, or with one left
    out; the name they go by finds them, and so does its initial."""
    _ingest(config, [_paper("2401.10009", "Collected works", [author, "Ada Lovelace"])])
    assert _found(config, query) == {"arxiv:2401.10009"}


@pytest.mark.parametrize("query,author", [
    ('au:"James Gates"', "Sarah Gates"),           # another written-out given name
    ('au:"James Gates"', "S. Gates"),              # an initial S cannot be James
    ('au:"J. Gates"', "S. Gates"),
    ('au:"James Gates"', "S. J. Gates"),           # a middle initial is no name anyone goes by...
    ('au:"J. Smith"', "A. J. Smith"),              # ...else `au:"J. Smith"` would claim every X. J. Smith
    ('au:"John Smith"', "Jane Smith"),
    ('au:"Robert James Gates"', "S. James Gates"),  # both write the first given name, and they differ
    ('au:"Sylvester Gates"', "James Gates"),
    ('au:"Cristina Marchetti"', "Marco Marchetti"),
    ('au:"Ana Garcia"', "María García-López"),
])
def test_given_names_that_cannot_be_the_same_person_do_not_match(config: Path, query: str, author: str) -> None:
    """A name the query writes must be one the author may go by: their first given name, or a later
    one they write out in full. So `au:"James Gates"` finds neither Sarah Gates nor "S. Gates", and a
    middle initial is not a name to go by."""
    _ingest(config, [_paper("2401.10010", "Collected works", [author, "Ada Lovelace"])])
    assert _found(config, query) == set()


@pytest.mark.parametrize("name, givens", [
    ("S. James Gates, Jr.", ("s", "james")), ("Gates, S. James", ("s", "james")), ("Gates, Jr., S. James", ("s", "james")),
    ("S.J. Gates", ("s", "j")), ("James Gates", ("james",)), ("J. van der Waals", ("j",)), ("Gates", ()),
    ("J.-B. Alayrac", ("j",)), ("Jean-Baptiste Alayrac", ("jeanbaptiste",)), ("Ana María García-López", ("ana", "maria")),
    ("Le Song", ("le",)), ("The ATLAS Collaboration", ()),
])
def test_name_parts_read_every_given_name(name: str, givens: tuple[str, ...]) -> None:
    """Every given name of an author in order, folded: an initial as its letter, the second half of
    hyphenated initials ("J.-B.") no name of its own, a suffix no name at all."""
    from digest.text import author_parts, name_parts

    surname, got = name_parts(name)
    assert got == givens
    assert surname == author_parts(name)[0]


_SURNAMES = st.sampled_from(["Gates", "Oppenheimer", "García-López", "van der Waals", "LeCun", "Schölkopf", "Li"])
_GIVEN = st.sampled_from(["James", "Sylvester", "Robert", "María", "Ana", "Xiao-Ming", "Eugene", "Yann", "Bo"])


def _matches(query: str, author: str) -> bool:
    from digest.match import CorpusStats, Document, compile_query

    return compile_query(query).evaluate(Document("p", {}, [author, "Ada Lovelace"]), CorpusStats()) is not None


def _initials(given: list[str]) -> str:
    return " ".join(f"{'.-'.join(part[0] for part in g.split('-'))}." for g in given)


@settings(max_examples=200, deadline=None)
@given(st.lists(_GIVEN, min_size=1, max_size=3), _SURNAMES, st.sampled_from("ABCDEFGHKLMNPRSTVWZ"))
def test_a_name_matches_its_own_forms(names: list[str], surname: str, extra: str) -> None:
    """A name matches itself, its initials, itself with a middle initial added or its middle names left
    out, whichever side writes which, and its surname alone; the name its author goes by after a
    leading initial finds them, and so does that name's initial."""
    name = f"{' '.join(names)} {surname}"
    forms = [name, f"{_initials(names)} {surname}", f"{names[0]} {extra}. {' '.join(names[1:])} {surname}",
             f"{names[0]} {surname}", f"{_initials(names[:1])} {surname}"]
    for form in forms:
        assert _matches(f'au:"{form}"', name), (form, name)
        assert _matches(f'au:"{name}"', form), (name, form)
    assert _matches(f'au:"{surname}"', name)
    called = f"{extra}. {names[-1]} {surname}"      # "S. James Gates" goes by James
    assert _matches(f'au:"{names[-1]} {surname}"', called)
    assert _matches(f'au:"{_initials(names[-1:])} {surname}"', called)


@settings(max_examples=200, deadline=None)
@given(st.lists(_GIVEN, min_size=1, max_size=3), _GIVEN, _SURNAMES)
def test_a_given_name_the_author_cannot_have_does_not_match(names: list[str], other: str, surname: str) -> None:
    """An author who writes one given name, whose initial is that of none of the query's given names,
    is another person, whether the name is written out or as its initial."""
    assume(all(n[0] != other[0] for n in names))
    assert not _matches(f'au:"{" ".join(names)} {surname}"', f"{other} {surname}")
    assert not _matches(f'au:"{" ".join(names)} {surname}"', f"{other[0]}. {surname}")
    assert not _matches(f'au:"{other} {surname}"', f"{' '.join(names)} {surname}")


_AUTHORS = ["S. James Gates, Jr.", "Sylvester James Gates", "S. J. Gates", "Sarah Gates", "James Gates", "J. Gates",
            "J. Robert Oppenheimer", "Ana María García-López", "María García", "Bill Gates"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["au:" + f'"{a}"' for a in _AUTHORS] + ["au:gates", "au:garcia", 'au:"James Gates" OR au:lopez']),
                min_size=1, max_size=8),
       st.lists(st.lists(st.sampled_from(_AUTHORS), min_size=1, max_size=3, unique=True), min_size=1, max_size=5))
def test_the_query_index_finds_every_author_match(texts: list[str], author_lists: list[list[str]]) -> None:
    """The saved-query index files author clauses under surname forms: it finds exactly what
    evaluating every query on every paper finds, for names with middle names and initials too."""
    from digest.match import CorpusStats, Document, QueryIndex, compile_query, match_all

    compiled = {i: compile_query(t) for i, t in enumerate(texts)}
    index = QueryIndex()
    for key, q in compiled.items():
        index.add(key, q)
    docs = [Document(f"p{i}", {}, authors) for i, authors in enumerate(author_lists)]
    batch = index.match_batch(docs, CorpusStats(), 0.0)
    for i, doc in enumerate(docs):
        want = {k for k, _ in match_all(compiled, Document(f"p{i}", {}, author_lists[i]), CorpusStats(), 0.0)}
        assert {k for k, _ in batch[i]} == want
        assert {k for k, _ in index.match(Document(f"p{i}", {}, author_lists[i]), CorpusStats(), 0.0)} == want


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
