"""What journal and preprint platforms write into an item's description, read apart.

Many feeds have no element for a paper's authors, journal or date and write them as lines of the
description instead, around (or instead of) the abstract. :mod:`digest.sources.rss` reads the
elements; this module reads such text, already made plain (:func:`digest.sanitize.to_text`, one
line per paragraph or ``<br>``). Each layout is named after a real feed, captured under
tests/data/generic-rss/ (tests/data/SOURCES.md) or written in tests/test_sources_rss_shapes.py:

- ScienceDirect: "Publication date: 15 December 2026 / Source: Remote Sensing of Environment,
  Volume 347 / Author(s): ..." and no abstract (:func:`sciencedirect_source`, :func:`publication_day`).
- Copernicus: the title, the authors, the citation with its doi.org link, then a summary
  (:func:`title_led`).
- PubMed: the citation, "ABSTRACT", the abstract, "PMID: ... | DOI: ..." (:func:`pubmed_abstract`).
- Pensoft (ZooKeys and ~40 journals, ARPHA Preprints): "ZooKeys 1076: 151-182 / DOI: ... / Authors:
  ... / Abstract: ... / HTML / XML / PDF" (:func:`labelled_lines`).
- CNKI and feeds built from Crossref: the author list before or instead of the abstract
  (:func:`leading_names`).
- Wiley, Science and other Atypon journals: "Journal, Volume 63, Issue 12, March 18, 2024." as the
  description (:func:`issue_citation`).

- Taylor & Francis: a person and their affiliation in one author element
  (:func:`person_without_affiliation`).

Names come back as raw strings for the caller's author parser. Public names: the functions above,
:func:`licence`, :func:`is_name_list`, :data:`MAX_VENUE`, :data:`PARTICLES`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone

from digest.text import NAME_PARTICLES, split_authors

__all__ = ["sciencedirect_source", "publication_day", "title_led", "pubmed_abstract", "labelled_lines",
           "leading_names", "issue_citation", "licence", "is_name_list", "person_without_affiliation", "MAX_VENUE",
           "PARTICLES"]

#: Longest journal name or reference kept from a feed (free text).
MAX_VENUE = 300

# --- ScienceDirect -----------------------------------------------------------------------------

#: ScienceDirect's "Source:" line: the journal, then the volume (and issue, pages) or the article's
#: status ("In press, journal pre-proof", "Available online ..."), both optional.
_SOURCE_LINE = re.compile(r"^Source:[ \t]*(?P<venue>[^\n,]+?(?:,(?![ \t]*(?:Volume|Vol\.|In press|Available|Article|"
                          r"Part|Issue|Pages?)\b)[^\n,]+?)*)(?:,[ \t]*(?P<rest>[^\n]*))?[ \t]*$", re.MULTILINE)
_VOLUME = re.compile(r"\b(?:Volume|Vol\.)\s*(?P<volume>[\w.-]+)(?:,\s*Part\s+(?P<part>\w+))?"
                     r"(?:,\s*(?:Issue|No\.)\s*(?P<issue>[\w.–-]+))?(?:,\s*(?:Pages?|pp\.)\s*(?P<pages>[\w.–-]+))?")
_MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"), 1)}
#: "Publication date: 15 December 2026", "... December 2026", "... Available online 20 May 2026",
#: "... 1–15 December 2026" (the issue's first day).
_PUBLICATION_DAY = re.compile(r"^Publication date:[^\n]*?(?:\b(?P<day>\d{1,2})(?:[–-]\d{1,2})?\s+)?"
                              r"(?P<month>[A-Z][a-z]+)\s+(?P<year>(?:19|20)\d\d)\b", re.MULTILINE)


def publication_day(text: str) -> datetime | None:
    """The day of a "Publication date:" line (its first day for a range, the 1st for a month)."""
    m = _PUBLICATION_DAY.search(text)
    month = _MONTHS.get(m["month"].lower()) if m else None
    if m is None or month is None:
        return None
    try:
        return datetime(int(m["year"]), month, int(m["day"] or 1), tzinfo=timezone.utc)
    except ValueError:
        return None


def sciencedirect_source(text: str, dated: datetime | None) -> tuple[str | None, str | None] | None:
    """(venue, journal reference in arXiv's style) of a "Source:" line, or None without one:
    "Remote Sensing of Environment, Volume 347" is "Remote Sensing of Environment 347 (2026)";
    "Cell, In press" names the venue only."""
    line = _SOURCE_LINE.search(text) if "Source:" in text else None
    if line is None:
        return None
    venue = line["venue"].strip()[:MAX_VENUE] or None
    return venue, _reference(venue, line["rest"] or "", dated.year if dated else None)


def _reference(venue: str | None, rest: str, year: int | None) -> str | None:
    vol = _VOLUME.search(rest)
    if venue is None or vol is None:
        return None
    volume = vol["volume"] + (f" Part {vol['part']}" if vol["part"] else "")
    issue, pages = vol["issue"], vol["pages"]
    ref = f"{venue} {volume}{f'({issue})' if issue else ''}{f', {pages}' if pages else ''}"
    return (ref + (f" ({year})" if year else ""))[:MAX_VENUE]


# --- Wiley, Science, other Atypon journals -----------------------------------------------------

_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def issue_citation(text: str) -> tuple[str, str | None] | None:
    """(venue, journal reference) of a description that only cites the issue: "Transactions in GIS,
    Volume 30, Issue 7, November 2026." is "Transactions in GIS 30(7) (2026)"; "Science, Volume
    383, Issue 6683, Page 590-595, February 2024." keeps its pages."""
    venue, sep, rest = text.strip().partition(", Vol")
    if not sep or not venue or len(venue) > 150 or "\n" in venue:
        return None
    years = _YEAR.findall(rest)
    return venue, _reference(venue, "Vol" + rest, int(years[-1]) if years else None)


# --- Copernicus --------------------------------------------------------------------------------

def title_led(text: str, title: str) -> tuple[str, str, tuple[str, str | None] | None] | None:
    """A description that repeats ``title`` on its first line, as (the rest, without the names and
    citation lines after the title; the names line, raw; (venue, journal reference) of the citation),
    or None: "<title> / A. Doe, B. Roe, and C. Loe / Earth Syst. Sci. Data, 18, 6799–6813,
    https://doi.org/10.5194/essd-18-6799-2026, 2026 / <summary>"."""
    first, sep, rest = text.partition("\n")
    if not sep or first.strip().casefold() != title.casefold():
        return None
    lines = [line.strip() for line in rest.split("\n")]
    names = ""
    if lines and is_name_list(lines[0]):
        names, lines = lines[0], lines[1:]
    citation: tuple[str, str | None] | None = None
    # The citation names the DOI; a preprint's has a status line after it ("Preprint under review
    # for ESSD (discussion: open, 0 comments)").
    while lines and ("doi.org/" in lines[0] or lines[0].startswith("Preprint ")) and len(lines[0]) < 300:
        citation = citation or _copernicus_citation(lines[0])
        lines = lines[1:]
    return "\n".join(lines).strip(), names, citation


_LINK_IN_CITATION = re.compile(r",?\s*https?://[^\s,]+")


def _copernicus_citation(line: str) -> tuple[str, str | None] | None:
    """(venue, journal reference) of "Earth Syst. Sci. Data, 18, 6799–6813, https://doi.org/..., 2026"
    ("Earth Syst. Sci. Data 18, 6799–6813 (2026)"); a discussion paper's has no volume: venue only."""
    parts = [p.strip() for p in _LINK_IN_CITATION.sub("", line).split(",")]
    if not parts[0] or len(parts[0]) > 150:
        return None
    venue = parts[0][:MAX_VENUE]
    if len(parts) == 4 and parts[1].isdigit() and _YEAR.fullmatch(parts[3]):
        return venue, f"{venue} {parts[1]}, {parts[2]} ({parts[3]})"
    return venue, None


# --- names before or instead of the abstract ---------------------------------------------------

#: Particles that belong to a name: the author matcher's, plus Arabic ones ("Abdullah bin Zayed").
PARTICLES = NAME_PARTICLES | {"bin", "ibn", "al", "el"}
#: A name's words: capitalised (diacritics, hyphens, apostrophes, initials allowed) or a particle.
_NAME_WORD = re.compile(r"[^\W\d_][\w'’.-]*")


#: Words of a topic, not of a name: a first line "Machine Learning, Computer Vision" lists keywords.
_TOPIC_WORDS = frozenset({
    "learning", "network", "networks", "neural", "machine", "vision", "language", "model", "models",
    "analysis", "data", "system", "systems", "theory", "method", "methods", "quantum", "computer", "computing",
    "science", "sciences", "intelligence", "artificial", "processing", "research", "review", "study",
    "engineering", "biology", "chemistry", "physics", "mathematics", "statistics", "health", "medicine",
    "climate", "energy", "graph", "graphs", "optimization", "robotics", "algorithms", "security", "design"})


def _is_name(name: str) -> bool:
    words = unicodedata.normalize("NFC", name).split()  # "Lu\u0308chow" is a word too
    return 2 <= len(words) <= 5 and all(
        _NAME_WORD.fullmatch(w) and (w[0].isupper() or w.lower() in PARTICLES) and w.lower() not in _TOPIC_WORDS
        for w in words)


_ENDS_WITH_INITIAL = re.compile(r"(?:^|[\s.])[^\W\d_]\.\Z")


def is_name_list(line: str) -> bool:
    """Whether a line is only people's names: "A. Doe, B. Roe, and C. Loe", "Yinpeng ZHANG;Xiaolong
    LIU;" (each two to five capitalised words, no digits, links or sentence end)."""
    if not line or len(line) > 3000 or any(c.isdigit() for c in line) or "://" in line:
        return False
    if line.endswith(".") and not _ENDS_WITH_INITIAL.search(line):
        return False  # a sentence ("We study sparse probes."), not "Cano, María J."
    names = split_authors(line)
    return bool(names) and all(_is_name(n) for n in names)


def leading_names(text: str) -> tuple[str, str] | None:
    """(the names, the rest) of a description that starts with its author list: CNKI's "Guocheng
    SHU;Ping LIU;...;Feng XIE;Biodiversity is ..." (at least two names, each ended by ";"), or a
    first line (or the whole text) that is a list of names: a feed built from Crossref records
    gives the authors as the description. None when it does not."""
    if ";" in text[:200]:
        pieces = text.split(";")
        n = 0
        while n < len(pieces) - 1 and "\n" not in pieces[n] and _is_name(pieces[n].strip()):
            n += 1
        if n >= 2:
            return ";".join(pieces[:n]), ";".join(pieces[n:]).strip()
    first, _, rest = text.partition("\n")
    if is_name_list(first.strip()) and len(split_authors(first)) >= 2:
        return first.strip(), rest.strip()
    return None


#: Words that start an affiliation or a position written after a person's name (Taylor & Francis:
#: "Richard Wisneski Miami University, Oxford, Ohio, USA", "Christopher Jimenez Associate Librarian").
_AFFILIATION_WORDS = frozenset({
    "university", "universidad", "université", "universität", "college", "institute", "institut", "department",
    "dept", "school", "faculty", "library", "libraries", "librarian", "professor", "lecturer", "researcher",
    "scholar", "independent", "associate", "assistant", "clinical", "collection", "nursing", "research",
    "center", "centre", "hospital", "laboratory", "laboratories", "division", "health", "medical", "director",
    "student", "postdoctoral", "museum", "foundation", "academy", "ministry", "agency", "council",
    "society", "association", "services", "program", "programme", "inc", "ltd", "corporation", "company"})
#: Of those, institutions that are often named by a word before them ("Miami University").
_NAMED_INSTITUTIONS = frozenset({"university", "college", "institute", "hospital", "museum", "academy", "library"})


_OF = frozenset({"of", "de", "di", "da", "do", "del", "della", "für", "for", "at", "in"})


def person_without_affiliation(text: str) -> str | None:
    """The person of "Name Affiliation[, Place ...]" (one author element holding both), or None
    when ``text`` is not that: the affiliation starts at a word of :data:`_AFFILIATION_WORDS` after
    at least two words of name. "Richard Wisneski Miami University, Oxford, Ohio, USA" is "Richard
    Wisneski"; "Bradford Lee Eden Independent Scholar and Academic Librarian" "Bradford Lee Eden"."""
    words = text.partition(",")[0].split()
    if words and words[0].lower() == "the":
        return None  # an organisation as the author: "The Alan Turing Institute"
    for i, word in enumerate(words[2:], 2):
        key = word.strip(".,;:()").lower()
        if key in _AFFILIATION_WORDS:
            if (key in _NAMED_INSTITUTIONS and i >= 3 and words[i - 1][:1].isupper()
                    and (i + 1 == len(words) or words[i + 1].lower() not in _OF)):
                i -= 1  # "Miami University" (not "University of Amsterdam"): the word before is the institution's
            return " ".join(words[:i])
    return None


# --- PubMed ------------------------------------------------------------------------------------

#: PubMed's last line: "PMID:34902460 | PMC:PMC8662978 | DOI:10.21307/jofnem-2021-100".
_PUBMED_FOOTER = re.compile(r"\n\s*PMID:\s*\d+(?:\s*\|\s*[A-Za-z]+:\s*\S+)*\s*\Z")
#: Its first: "J Virol Methods. 2021 Dec 10:114425. doi: 10.1016/... Online ahead of print."
_PUBMED_CITATION = re.compile(r"\A(?P<ref>[^\n]{2,200}?\.\s(?:19|20)\d\d\b[^\n]*?)(?:\.?\s+doi:\s*\S+?)?"
                              r"(?:\.?\s+(?:Online ahead of print|Epub [^\n]*?|eCollection [^\n]*?)\.?)*\.?[ \t]*\n")
_ABSTRACT_LABEL = re.compile(r"\A\s*(?:ABSTRACT|Abstract)[:.]?[ \t]*(?:\n|\Z)\s*")


def pubmed_abstract(text: str) -> tuple[str, str | None] | None:
    """(the abstract, the citation) of a PubMed feed item's content, or None when it is not one."""
    footer = _PUBMED_FOOTER.search(text)
    if footer is None:
        return None
    text = text[:footer.start()]
    citation = _PUBMED_CITATION.match(text)
    ref = None
    if citation is not None:
        ref, text = citation["ref"].strip()[:MAX_VENUE], text[citation.end():]
    return _ABSTRACT_LABEL.sub("", text, count=1).strip(), ref


# --- Pensoft -----------------------------------------------------------------------------------

_LABEL = re.compile(r"^(?P<label>Authors?|DOI|Abstract):[ \t]*(?P<value>.*)$")
#: The citation line before the labelled ones: "ZooKeys 1076: 151-182", "Biodiversity Data Journal 9: e75672".
_PENSOFT_CITATION = re.compile(r"\A(?P<venue>[^\n:]{2,150}?) (?P<volume>\d+): (?P<pages>[\w–-]+)\Z")
#: The links after the abstract.
_FORMAT_LINES = frozenset({"HTML", "XML", "PDF", "EPUB"})


def labelled_lines(text: str) -> tuple[str, str, tuple[str, str] | None] | None:
    """(the abstract, the authors line, (venue, journal reference)) of a description of labelled
    lines, or None when it has no "Authors:" and "Abstract:" lines."""
    lines = text.split("\n")
    found: dict[str, str] = {}
    citation: tuple[str, str] | None = None
    abstract: list[str] = []
    for i, line in enumerate(lines):
        m = _LABEL.match(line.strip())
        if m and m["label"] != "Abstract":
            found[m["label"].rstrip("s")] = m["value"]
        elif m:
            abstract = [m["value"], *(rest for rest in lines[i + 1:] if rest.strip() not in _FORMAT_LINES)]
            break
        elif i == 0 and (c := _PENSOFT_CITATION.match(line.strip())):
            citation = (c["venue"], f"{c['venue']} {c['volume']}, {c['pages']}")
        elif line.strip():
            return None  # prose before the labels: not this layout
    if "Author" not in found or not abstract:
        return None
    return "\n".join(abstract).strip(), found["Author"], citation


# --- licences ----------------------------------------------------------------------------------

#: A rights statement that is a copyright notice, not a licence ("© American Public Health
#: Association 2015", "Copyright 2024 Elsevier"), unless it names one.
_COPYRIGHT = re.compile(r"\s*(?:©|\(c\)|copyright\b)", re.IGNORECASE)
_LICENCE_WORDS = re.compile(r"licen[cs]|creativecommons|\bCC[ -]?(?:BY|0)\b|public domain|open access", re.IGNORECASE)
#: A licence's address inside a notice: "Copyright (c) 2021 J. Janicki http://creativecommons.org/licenses/by-nc/3.0/".
_LICENCE_URL = re.compile(r"https?://(?:www\.)?creativecommons\.org/(?:licenses|publicdomain)/[^\s<>\"']+", re.IGNORECASE)


def licence(rights: str, declared: str | None = None) -> str | None:
    """A paper's licence: ``declared`` (a cc:license address) when given, else the licence address
    a rights statement holds, else the statement unless it is only a copyright notice."""
    if declared:
        return declared
    if (url := _LICENCE_URL.search(rights)) is not None:
        return url.group()
    if not rights or (_COPYRIGHT.match(rights) and not _LICENCE_WORDS.search(rights)):
        return None
    return rights
