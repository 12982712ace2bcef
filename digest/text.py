"""Text cleanup shared by every source: titles, author names, folding for keys.

Matching has its own, heavier normalisation (digest.match.normalize); this module only makes stored
values clean and comparable.
"""

from __future__ import annotations

import html
import re
import unicodedata

_WS = re.compile(r"\s+")
# TeX that shows up in arXiv titles/abstracts: $...$ math is kept as its content, accent and
# formatting commands are resolved, braces dropped (arXiv listings do the same for display).
_TEX_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
}
_TEX_ACCENT_RE = re.compile(r"\\([\'`^\"~=.uvHck])\s*\{?\\?([A-Za-z])\}?")
_TEX_SPECIAL = {r"\ss": "ß", r"\o": "ø", r"\O": "Ø", r"\aa": "å", r"\AA": "Å", r"\ae": "æ",
                r"\AE": "Æ", r"\l": "ł", r"\L": "Ł", r"\&": "&", r"\%": "%", r"\_": "_", r"\#": "#"}
_TEX_SPECIAL_RE = re.compile(r"(\\(?:ss|o|O|aa|AA|ae|AE|l|L)(?![A-Za-z])|\\[&%_#])\s?")
_TEX_FORMAT_RE = re.compile(r"\\(?:textbf|textit|emph|mathrm|mathbf|mathcal|mathbb|texttt|textsc|text|rm|it|bf)\s*\{([^{}]*)\}")
_TEX_MATH_RE = re.compile(r"\$\$?([^$]*)\$\$?")
_TAGS_RE = re.compile(r"<[^>]+>")


def collapse_ws(text: str) -> str:
    # str.split() and re's \s agree on every Unicode whitespace character; split/join is ~3x faster,
    # which matters on ingest's hot path (every abstract of a 1,500-item arXiv feed passes here).
    return " ".join(text.split())


def strip_tex(text: str) -> str:
    """Resolve common TeX accents/commands and drop math delimiters and braces."""
    if "\\" not in text and "$" not in text and "{" not in text:
        return text
    text = _TEX_ACCENT_RE.sub(lambda m: unicodedata.normalize("NFC", m.group(2) + _TEX_ACCENTS[m.group(1)]), text)
    text = _TEX_SPECIAL_RE.sub(lambda m: _TEX_SPECIAL[m.group(1)], text)
    for _ in range(3):  # nested \emph{\textbf{x}}
        new = _TEX_FORMAT_RE.sub(r"\1", text)
        if new == text:
            break
        text = new
    text = _TEX_MATH_RE.sub(r"\1", text)
    return text.replace("{", "").replace("}", "")


def clean_title(raw: str) -> str:
    """Display title: entities decoded, markup dropped, TeX resolved, whitespace collapsed."""
    text = html.unescape(raw)
    text = _TAGS_RE.sub("", text) if "<" in text else text
    return collapse_ws(strip_tex(text))


def clean_text(raw: str | None) -> str:
    """Abstract-like text to plain text (no markup), whitespace collapsed."""
    if not raw:
        return ""
    text = html.unescape(raw)
    if "<" in text:
        text = _TAGS_RE.sub(" ", text)
    return collapse_ws(text)


def fold(text: str) -> str:
    """ASCII-folded lower-case form: "Łukasz Kaiser" -> "lukasz kaiser" (diacritics dropped)."""
    if text.isascii():  # nothing to fold (NFKD is the identity on ASCII); half of ingest time otherwise
        return text.lower()
    special = {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "AE", "đ": "d",
               "Đ": "D", "ı": "i", "œ": "oe", "Œ": "OE", "þ": "th"}
    text = "".join(special.get(c, c) for c in text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
_PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "le", "la", "dos", "das", "ter", "ten"}


def normalize_author(name: str) -> str:
    """Display form "First Last": "LeCun, Yann" -> "Yann LeCun"; "Last, F." -> "F. Last".

    Diacritics are kept; only order and whitespace change.
    """
    name = collapse_ws(html.unescape(strip_tex(name))).strip(" ,;")
    if name.count(",") == 1:
        last, first = (p.strip() for p in name.split(","))
        if first and last and first.lower() not in _SUFFIXES:
            name = f"{first} {last}"
    return name


def split_authors(field: str) -> list[str]:
    """Split a one-field author list ("A, B and C", "A; B", "A, B, and C") into names.

    Handles the "Last, First; Last, First" convention when semicolons are present.
    """
    field = collapse_ws(field)
    if not field:
        return []
    if ";" in field:
        parts = [p for p in (s.strip() for s in field.split(";")) if p]
    else:
        field = re.sub(r",?\s+and\s+", ", ", field)
        parts = [p for p in (s.strip() for s in field.split(",")) if p]
        # "Smith, J." style lists with no semicolons: glue a lone initials token onto its surname.
        merged: list[str] = []
        for p in parts:
            if merged and re.fullmatch(r"(?:[A-Z]\.\s?)+(?:-[A-Z]\.)?", p):
                merged[-1] = f"{merged[-1]}, {p}"
            else:
                merged.append(p)
        parts = merged
    return [normalize_author(p) for p in parts if p]


def author_key(name: str) -> str:
    """Matching key "surname first-initial": "Yann LeCun" / "LeCun, Y." / "Y. LeCun" -> "lecun y"."""
    name = normalize_author(name)
    tokens = [t for t in re.split(r"[\s.]+", fold(name)) if t and t not in _SUFFIXES]
    if not tokens:
        return ""
    surname = [tokens[-1]]
    i = len(tokens) - 2
    while i > 0 and tokens[i] in _PARTICLES:  # "Ludwig van Beethoven" -> "van beethoven"
        surname.insert(0, tokens[i])
        i -= 1
    given = tokens[: len(tokens) - len(surname)]
    initial = given[0][0] if given else ""
    return f"{' '.join(surname).replace('-', ' ')} {initial}".strip()


def surname_key(name: str) -> str:
    """The folded surname alone ("lecun"), used to block candidate papers for fuzzy merging."""
    key = author_key(name)
    return key.rsplit(" ", 1)[0] if " " in key and len(key.rsplit(" ", 1)[1]) == 1 else key
