"""Who wrote a feed entry: the people its author fields name, however publishers write them.

A generic feed (kind "rss") names authors in `dc:creator`, `author`, `<authors>` or the description,
one element per person or all in one, as "First Last", "Last, First", PubMed's "Doe AB", linked
names, "et al." notes, collaborations, degrees and affiliations. :func:`authors_of` turns any of
these into display names; :mod:`digest.sources.rss` calls it on whatever fields an entry has.

Public names: :func:`authors_of`.
"""

from __future__ import annotations

import re

from digest.sanitize import to_text
from digest.sources import layouts
from digest.text import COLLECTIVE_WORDS, NAME_SUFFIXES, normalize_author, split_authors

__all__ = ["authors_of"]

#: One author per link: "<a href=...>A. Smith</a>, <a href=...>B. Jones</a>" (arXiv's old RSS, lab pages).
_AUTHOR_LINK = re.compile(r"<a\b[^>]*>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
#: What may stand between those links: separators, a collaboration's colon ("<a>LHCb collaboration</a>:
#: <a>R. Aaij</a>"), and arXiv's "et al. (909 additional authors not shown)" at the end.
_AUTHOR_LIST_GLUE = re.compile(r"^(?:[\s,;:]|\band\b|&amp;|&)*(?:et\.?\s*al\.?\s*(?:\(\d+\s+additional\s+authors?\s+"
                               r"not\s+shown\))?[\s.]*)?$", re.IGNORECASE)


#: What is left of a field once its linked names are taken out: a collaboration in brackets.
_LINKED_COLLECTIVE = re.compile(r"[\s,;]*[(\[]\s*([^()\[\]]*\b(?:" + "|".join(sorted(COLLECTIVE_WORDS))
                                + r"))\s*[)\]]\s*", re.IGNORECASE)


def authors_of(names: list[str]) -> tuple[str, ...]:
    """The people a feed entry's author fields name (each field as the feed wrote it: one person,
    a list, linked names, markup), in order, each once."""
    out: list[str] = []
    for raw in names:
        if not isinstance(raw, str):
            continue
        linked = _AUTHOR_LINK.findall(raw)
        if len(linked) > 1 and _AUTHOR_LIST_GLUE.match(_AUTHOR_LINK.sub("", raw)):
            out.extend(normalize_author(to_text(n)) for n in linked)  # one person per link
            continue
        if linked and (collective := _LINKED_COLLECTIVE.fullmatch(to_text(_AUTHOR_LINK.sub("", raw)))) is not None:
            # arXiv's old RSS: "<a>Christopher Dilks</a> (STAR Collaboration)": the people and the collaboration
            out.extend((*(normalize_author(to_text(n)) for n in linked), collective[1]))
            continue
        name = to_text(raw)
        if len(names) == 1 or "," in name:
            # One element for one person and their affiliation (Taylor & Francis): the person only.
            name = layouts.person_without_affiliation(name) or name
        if (m := _ET_AL_COLLECTIVE.fullmatch(name)) is not None:
            # APS: "I. Adachi et al. (Belle II Collaboration)"
            out.extend((*split_authors(m["first"]), m["collective"]))
            continue
        name = _ET_AL.sub("", name)
        if " & " in name:  # "Jane Doe, John Roe, & Ann Lee": "&" joins names as "and" does
            name = _AMPERSAND.sub(" and ", name)
        if ";" in name and "," in name and all(_two_people(chunk.strip()) or "," not in chunk
                                               for chunk in name.split(";")):
            # Wiley: "Heleen Lauwers, Jamie De Baere; Ilke Aernout, Federica Cappellesso; Bruno De Geest"
            out.extend(p.strip() for chunk in name.split(";") for p in chunk.split(",") if p.strip())
            continue
        if "," in name:
            name = "; ".join(_without_degrees(chunk) for chunk in name.split(";")) if ";" in name else _without_degrees(name)
        if not name:
            continue
        parts = [p.strip() for p in name.split(",")]
        if len(parts) > 1 and all(_pubmed_name(p.rstrip(".")) for p in parts if p):
            # "Li Y, Wu X": PubMed's names, never "Last, First" (OUP's end with a full stop: "Brandt A.")
            out.extend(p.rstrip(".") for p in parts if p)
        # One field naming several people ("A, B and C", "Last, F.; Last, F.") is split; a single
        # "Last, First" is turned round by normalize_author.
        elif ";" in name or " and " in name or name.count(",") > 1:
            out.extend(split_authors(name))
        elif _two_people(name):
            out.extend(map(normalize_author, parts))  # TeX and entities as in any name: "Anders S{\\o}gaard"
        else:
            out.append(normalize_author(name))
    people = [a for a in (_ET_AL.sub("", a) for a in out) if a]
    # PubMed writes every author "Surname Initials" ("Doe AB"); only when all of them are written so
    # is "Doe AB" read as A. B. Doe, so that "Anna Doe" and "Kai LI" elsewhere keep their order.
    if people and all(_pubmed_name(a) for a in people):
        people = [_pubmed_display(a) for a in people]
    return tuple(dict.fromkeys(people))


#: The first author and the collaboration they sign for: "I. Adachi et al. (Belle II Collaboration)".
_ET_AL_COLLECTIVE = re.compile(r"(?P<first>[^()\[\]]+?)\s+et\.?\s*al\.?,?\s*[(\[](?P<collective>[^()\[\]]*\b(?:"
                               + "|".join(sorted(COLLECTIVE_WORDS)) + r"))\s*[)\]]", re.IGNORECASE)


def _without_degrees(name: str) -> str:
    """``name`` without the degrees after a full name: "Jane Doe, MD, MPH" -> "Jane Doe", and "Doe,
    Jane, MD" -> "Doe, Jane". A degree follows a name of two words or more (not a surname with its
    particles: "van der Berg, M.D."), or dangles after "Last, First" pairs (an odd part): "Smith, MD"
    and "Smith, J.R., Lee, M.D." are surnames and initials."""
    parts = [p.strip() for p in name.split(",")]
    while len(parts) > 2 and len(parts) % 2 and parts[-1] in _DEGREE_PARTS:
        parts.pop()
    kept: list[str] = []
    for part in parts:
        before = kept[-1].split() if kept else []
        if part in _DEGREE_PARTS and len(before) >= 2 and before[0][:1].isupper():
            continue
        kept.append(part)
    return ", ".join(kept)


#: "et al." (or "and others") closing an author field: a note, not a person.
_AMPERSAND = re.compile(r",?\s+&\s+")
_ET_AL = re.compile(r"(?:^|[\s,;]+)(?:et\.?\s*al\.?|and\s+others)(?:\s*\(\d+\s+additional\s+authors?\s+not\s+shown\))?"
                    r"\s*$", re.IGNORECASE)
#: PubMed's author form: surname (particles, hyphens allowed), then up to three initials without periods.
_PUBMED_NAME = re.compile(r"(?P<surname>[^\W\d_][\w'’-]*(?:\s+[\w'’-]+)*)\s+(?P<initials>[A-Z]{1,3})")
_ROMAN_SUFFIXES = frozenset({"II", "III", "IV"})
#: Degrees written after a full name ("Jane Doe MD"), not initials after a surname.
_DEGREES = frozenset({"MD", "DO", "RN", "MPH", "DDS", "DMD", "DVM"})
#: Degrees and post-nominals written after a full name ("Jane Doe, MD, MPH"), as publishers write them:
#: those above and the ones a comma always sets apart.
_DEGREE_PARTS = _DEGREES | {"M.D.", "PhD", "Ph.D.", "Ph.D", "MSc", "M.Sc.", "BSc", "MA", "MS", "MBA", "MBBS", "MBChB",
                            "FRCP", "FRCPC", "FRCS", "FACS", "FACP", "DPhil", "DSc", "PharmD", "DrPH", "MPhil", "MSN",
                            "BSN", "DNP", "MRCP", "FRACP"}


def _pubmed_name(name: str) -> bool:
    m = _PUBMED_NAME.fullmatch(name)
    if m is None or m.group("initials") in _ROMAN_SUFFIXES:
        return False
    return not (m.group("initials") in _DEGREES and " " in m.group("surname"))


def _pubmed_display(name: str) -> str:
    """"Doe AB" -> "A. B. Doe" (the display form other sources give)."""
    m = _PUBMED_NAME.fullmatch(name)
    assert m is not None
    return " ".join([*(f"{c}." for c in m.group("initials")), m.group("surname")])


def _two_people(name: str) -> bool:
    """"John Smith, Anna Müller" (two people) rather than "Smith, John" (one, surname first).

    Both sides must be full names of two words or more, none of them a name particle or a
    suffix: "van der Berg, Jan", "King, Jr." and "Smith, John Robert" stay one person. A double
    surname with two given names ("García Márquez, Gabriel José") cannot be told apart and is
    read as two people; feeds write such names "Gabriel José García Márquez" far more often.
    """
    if name.count(",") != 1:
        return False
    sides = [side.split() for side in name.split(",")]
    if any(len(words) < 2 for words in sides):
        return False
    left = [w.lower().strip(".") for w in sides[0]]
    words = left + [w.lower().strip(".") for w in sides[1]]
    # A particle marks a surname written first ("van der Berg, Jan"); inside a full name after the
    # comma ("Jamie De Baere") it is part of that name, but never its last word.
    if any(w in _NAME_PARTICLES for w in left) or sides[1][-1].lower() in _NAME_PARTICLES:
        return False
    if any(w in _NAME_SUFFIXES for w in words):
        return False
    # "Smith Jones, J. R.": initials after the comma, single letters or with periods; "Yi Ma" is a name.
    return not all(len(w.strip(".")) <= 2 for w in sides[1]) or \
        not any(len(w.strip(".")) == 1 or w.endswith(".") for w in sides[1])


#: Particles and suffixes that mark a one-person name: the author matcher's, plus Arabic particles
#: (layouts.PARTICLES) and degrees, which only this test needs ("Abdullah bin Zayed, Ahmed Ali" is one person).
_NAME_PARTICLES = layouts.PARTICLES
_NAME_SUFFIXES = NAME_SUFFIXES | {"phd", "md"}
