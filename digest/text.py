"""Text cleanup shared by every source: titles, author names, folding for keys.

Matching has its own, heavier normalisation (digest.match.normalize); this module only makes stored
values clean and comparable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import html
import re
import unicodedata

from digest.names import Givens, same_person

_WS = re.compile(r"\s+")
# TeX that shows up in arXiv titles/abstracts: $...$ math is kept as its content, accent and
# formatting commands are resolved, braces dropped (arXiv listings do the same for display).
_TEX_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328", "r": "\u030a",
}
#: A symbol accent (\\'e, \\"{o}) or a letter accent (\\c{c}, \\u g) on one letter. A letter accent is
#: a control word: "\\chi", "\\kappa", "\\cdot" and "\\colon" are other commands, not \\c or \\k on a letter.
_TEX_ACCENT_RE = re.compile(r"\\(?:([\'`^\"~=.])|([uvHckr])(?![A-Za-z]))\s*\{?\\?([A-Za-z])\}?")
_TEX_SPECIAL = {r"\ss": "ß", r"\o": "ø", r"\O": "Ø", r"\aa": "å", r"\AA": "Å", r"\ae": "æ",
                r"\AE": "Æ", r"\l": "ł", r"\L": "Ł", r"\i": "ı", r"\j": "ȷ", r"\&": "&", r"\%": "%", r"\_": "_",
                r"\#": "#"}
#: A control word (\\ss, \\o) takes the space after it, as in TeX; a control symbol (\\% \\&) does not.
_TEX_SPECIAL_RE = re.compile(r"(\\(?:ss|o|O|aa|AA|ae|AE|l|L|i|j))(?![A-Za-z])\s?|(\\[&%_#])")
#: A command on a braced argument (\\textbf{x}, \\mathrm{t}, \\mathfrak{h}, \\bar{t}): its argument, as
#: arXiv's listings show it; the known symbols keep theirs (\\sqrt{x} is √x).
_TEX_FORMAT_RE = re.compile(r"\\([A-Za-z]+)\s*\{([^{}]*)\}")
#: $math$ (or $$display$$): a non-space right after the opening "$" and right before the closing one,
#: and no digit after it (Pandoc's tex_math_dollars rule), so "From $10 to $100" stays prices.
_TEX_MATH_RE = re.compile(r"\$\$([^$]+)\$\$|\$(?!\s)([^$]*?[^\s$])\$(?!\d)")
#: Letters and symbols that titles use in math ("$\alpha$-stable", "$O(n \log n)$"), as Unicode text.
_TEX_SYMBOLS = {
    **{name: chr(code) for name, code in (
        ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("epsilon", 0x3B5),
        ("varepsilon", 0x3B5), ("zeta", 0x3B6), ("eta", 0x3B7), ("theta", 0x3B8), ("vartheta", 0x3D1),
        ("iota", 0x3B9), ("kappa", 0x3BA), ("lambda", 0x3BB), ("mu", 0x3BC), ("nu", 0x3BD), ("xi", 0x3BE),
        ("pi", 0x3C0), ("rho", 0x3C1), ("sigma", 0x3C3), ("tau", 0x3C4), ("upsilon", 0x3C5), ("phi", 0x3C6),
        ("varphi", 0x3C6), ("chi", 0x3C7), ("psi", 0x3C8), ("omega", 0x3C9), ("Gamma", 0x393),
        ("Delta", 0x394), ("Theta", 0x398), ("Lambda", 0x39B), ("Xi", 0x39E), ("Pi", 0x3A0), ("Sigma", 0x3A3),
        ("Phi", 0x3A6), ("Psi", 0x3A8), ("Omega", 0x3A9))},
    "ell": "ℓ", "infty": "∞", "pm": "±", "times": "×", "cdot": "·", "to": "→", "rightarrow": "→",
    "leftarrow": "←", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈",
    "sim": "~", "partial": "∂", "nabla": "∇", "sqrt": "√", "in": "∈", "ldots": "…", "dots": "…",
    **{name: name for name in ("log", "ln", "lg", "exp", "sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh",
                               "tanh", "arcsin", "arccos", "arctan", "max", "min", "sup", "inf", "lim", "liminf",
                               "limsup", "det", "dim", "ker", "deg", "gcd", "hom", "arg", "Pr")},
}
_TEX_SYMBOL_RE = re.compile(rf"\\({'|'.join(sorted(_TEX_SYMBOLS, key=len, reverse=True))})(?![A-Za-z])")
_TAGS_RE = re.compile(r"<[^>]+>")


def collapse_ws(text: str) -> str:
    # str.split() and re's \s agree on every Unicode whitespace character; split/join is ~3x faster,
    # which matters on ingest's hot path (every abstract of a 1,500-item arXiv feed passes here).
    if text.isascii():
        # The usual abstract is ASCII with single spaces (snapshot lines also wrap with "\n"): then
        # only the ends change, and a few C scans beat splitting ~200 words and joining them again.
        flat = (text.replace("\n", " ") if "\n" in text else text).strip(" ")
        # The other ASCII characters str.split() splits on (str.isspace(): tab, vertical tab, form
        # feed, carriage return, the four C0 separators). Each one-character `in` is a memchr, so the
        # eight cost ~0.3 us on a 1.2 KB abstract, where isprintable() costs 2.5 us.
        if "  " not in flat and not ("\t" in flat or "\r" in flat or "\x0b" in flat or "\x0c" in flat
                                     or "\x1c" in flat or "\x1d" in flat or "\x1e" in flat or "\x1f" in flat):
            return flat
    return " ".join(text.split())


#: Operator names TeX typesets as words with space around them: "n\\log n" reads "n log n".
_TEX_WORDS = frozenset(name for name, value in _TEX_SYMBOLS.items() if name == value)
_TEX_MATH_DELIMITERS = re.compile(r"\\[()\[\]]")


def _tex_symbol(m: re.Match[str]) -> str:
    value = _TEX_SYMBOLS[m.group(1)]
    if m.group(1) in _TEX_WORDS and m.start() and m.string[m.start() - 1].isalnum():
        return f" {value}"
    return value


def _tex_accent(m: re.Match[str]) -> str:
    return unicodedata.normalize("NFC", m.group(3) + _TEX_ACCENTS[m.group(1) or m.group(2)])


def _tex_format(m: re.Match[str]) -> str:
    return m.group(0) if m.group(1) in _TEX_SYMBOLS else m.group(2)


#: A TeX sub- or superscript of a braced group ("x^{p,q}", "a_{ij}"): innermost groups first.
_TEX_SCRIPT_RE = re.compile(r"([\^_])\{([^{}]*)\}")


def script_operand(text: str) -> str:
    """A script's (or a base's) text as one operand, the way one types it: bracketed unless it is one
    symbol, a run of letters or digits, or already bracketed: "x^(p,q)", "10^(−5)", "x^2", "(a+b)^2"."""
    text = " ".join(text.split())
    if len(text) <= 1 or text.replace(".", "").isalnum():
        return text
    if text[0] in "([{" and text[-1] in ")]}" and _balanced_once(text):
        return text
    return f"({text})"


def _balanced_once(text: str) -> bool:
    """Whether ``text``'s first bracket closes only at its end: "(a+b)" yes, "(a)+(b)" no."""
    depth = 0
    for i, c in enumerate(text):
        depth += c in "([{"
        depth -= c in ")]}"
        if depth == 0 and i < len(text) - 1:
            return False
    return depth == 0


def _tex_script(m: re.Match[str]) -> str:
    return m.group(1) + script_operand(m.group(2))


def _inside_out(pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str], text: str) -> str:
    """``pattern`` (a braced group with no braces inside) replaced until nothing changes, three
    levels of nesting deep at most: the innermost groups first."""
    for _ in range(3):
        new = pattern.sub(repl, text)
        if new == text:
            break
        text = new
    return text


def strip_tex(text: str) -> str:
    """Resolve common TeX accents/commands and drop math delimiters and braces."""
    if "\\" not in text and "$" not in text and "{" not in text:
        return text
    # Each pass below runs only when its pattern's first character is there: "$x$" math in titles and
    # {\l} in author names then cost one regex pass instead of five (their results are the same).
    if "\\" in text:
        text = _TEX_ACCENT_RE.sub(_tex_accent, text)
        text = _TEX_SPECIAL_RE.sub(lambda m: _TEX_SPECIAL[m.group(1) or m.group(2)], text)
        text = _inside_out(_TEX_FORMAT_RE, _tex_format, text)  # nested \emph{\textbf{x}}
        text = _TEX_SYMBOL_RE.sub(_tex_symbol, text)
        text = _TEX_MATH_DELIMITERS.sub("", text)  # LaTeX's inline and display math: \(k\)-hop, \[x\]
    if "$" in text:
        text = _TEX_MATH_RE.sub(lambda m: m.group(1) or m.group(2), text)
    if "^{" in text or "_{" in text:
        # Its braces are the script's extent: "H^{p,q}" is "H^(p,q)", not "H^p,q" (nested: x^{a_{ij}}).
        text = _inside_out(_TEX_SCRIPT_RE, _tex_script, text)
    return text.replace("{", "").replace("}", "")


def clean_title(plain: str) -> str:
    """Display title of a plain-text title: TeX resolved, whitespace collapsed.

    ``plain`` is text, never markup: what an XML or JSON parser read from a field that is text (arXiv
    escapes its titles exactly once), or :func:`digest.sanitize.to_text` of one that is HTML. Reading
    it as HTML again would decode its entities a second time and delete "tags" that are
    mathematics or medicine: "infants aged <6 months and adults aged >60 years", "$1<p<2$".
    """
    return collapse_ws(strip_tex(plain))


def clean_text(raw: str | None) -> str:
    """Abstract-like text to plain text (no markup), whitespace collapsed."""
    if not raw:
        return ""
    text = html.unescape(raw)
    if "<" in text:
        text = _TAGS_RE.sub(" ", text)
    return collapse_ws(text)


# Letters NFKD does not decompose into a base letter plus accents.
_FOLD_SPECIAL = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "Æ": "AE", "’": "'", "‘": "'",
                               "đ": "d", "Đ": "D", "ı": "i", "œ": "oe", "Œ": "OE", "þ": "th"})


def fold(text: str) -> str:
    """ASCII-folded lower-case form: "Łukasz Kaiser" -> "lukasz kaiser" (diacritics dropped)."""
    if text.isascii():  # nothing to fold (NFKD is the identity on ASCII); half of ingest time otherwise
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_SPECIAL))
    if decomposed.isascii():  # "Łukasz", "Müller": only accents were non-ASCII, now gone below
        return decomposed.lower()
    combining = unicodedata.combining
    return "".join(c for c in decomposed if not combining(c)).lower()


#: Name suffixes and surname particles (folded), shared with the feed readers' author splitting.
NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
NAME_PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "le", "la", "dos", "das", "ter", "ten"})


def normalize_author(name: str) -> str:
    """Display form "First Last": "LeCun, Yann" -> "Yann LeCun"; "Last, F." -> "F. Last".

    Diacritics are kept; only order and whitespace change.
    """
    name = collapse_ws(html.unescape(strip_tex(name))).strip(" ,;")
    commas = name.count(",")
    if commas == 1:
        last, first = (p.strip() for p in name.split(","))
        if first and last and first.lower() not in NAME_SUFFIXES:
            name = f"{first} {last}"
    elif commas == 2:  # BibTeX's "Last, Jr., First"
        last, suffix, first = (p.strip() for p in name.split(","))
        if first and last and suffix.lower() in NAME_SUFFIXES:
            name = f"{first} {last}, {suffix}"
    return name


# Characters that make normalize_author change a name beyond ordering (TeX, entities).
_NEEDS_NORMALIZING = re.compile(r"[\\${&]")
_AND_RE = re.compile(r",?\s+and\s+")
_INITIALS_RE = re.compile(r"(?:[A-Z]\.\s?)+(?:-[A-Z]\.)?")
#: A part after a comma whose second character is "." (what every initials token starts with).
_MAYBE_INITIALS = re.compile(r", ?[^ ,]\.")


def _bibtex_names(field: str) -> list[str] | None:
    """BibTeX's list, which lab and publication pages copy: "Smith, John and van der Berg, Jan" (or
    "King, Jr., Martin"), one "Last, First" name between each " and ". A plain list ("Alice Smith,
    Bob and Carol Lin") never has a comma in its last part; None unless every part is such a name
    with a surname of at most three words ("García Márquez, Gabriel")."""
    chunks = field.split(" and ")
    names: list[str] = []
    for chunk in chunks:
        parts = [p.strip() for p in chunk.split(",")]
        if len(parts) == 3 and parts[1].lower() in NAME_SUFFIXES:
            last, suffix, first = parts
        elif len(parts) == 2:
            (last, first), suffix = parts, ""
        else:
            return None
        if not first or not 1 <= len(last.split()) <= 3:
            return None
        names.append(" ".join(p for p in (first, last, suffix) if p) if suffix else normalize_author(f"{last}, {first}"))
    return names


def split_authors(field: str) -> list[str]:
    """Split a one-field author list ("A, B and C", "A; B", "A, B, and C") into names.

    Handles the "Last, First; Last, First" convention when semicolons are present.
    """
    field = collapse_ws(field)
    if not field:
        return []
    if "(" in field:  # arXiv's "Name (Affiliation, City), Name (1) ((1) Institute, ...)"
        field = _without_affiliations(field)
    if ": " in field:  # "The LIGO Scientific Collaboration: B. P. Abbott, R. Abbott"
        head, _, rest = field.partition(": ")
        if _collective(head):
            return [head, *split_authors(rest)]
    # Each part below is already whitespace-collapsed and stripped, so without TeX or entities
    # normalize_author can only reorder a "Last, First" part: the others are kept as they are. This
    # skips ~5 calls per arXiv RSS item (it was 30% of the fast parser's time).
    # _NEEDS_NORMALIZING's four characters as four memchr scans: ~80 ns against ~390 for the regex.
    plain = not ("\\" in field or "$" in field or "{" in field or "&" in field)
    if ";" in field:
        parts = [s.strip() for s in field.split(";")]
    else:
        if " and " in field:  # after collapse_ws, \s+ can only be one space
            if "," in field and (bibtex := _bibtex_names(field)) is not None:
                return bibtex
            field = _AND_RE.sub(", ", field)
        parts = [s.strip() for s in field.split(",")]
        # Every initials token holds a ".": without one (three fields in four) skip the regex.
        if "." in field and _MAYBE_INITIALS.search(field) is not None:
            # "Smith, J." style lists with no semicolons: glue a lone initials token onto its surname.
            merged: list[str] = []
            for p in parts:
                # p[1] == ".": the cheap prefix test every initials token passes.
                if merged and p[1:2] == "." and _INITIALS_RE.fullmatch(p):
                    merged[-1] = f"{merged[-1]}, {p}"
                elif p:
                    merged.append(p)
            parts = merged
        elif plain and not _has_suffix_parts(field):
            # No part after a comma has "." second (the field is collapsed: at most one space follows
            # a comma), so there is nothing to glue, and no part holds a comma to reorder.
            return [p for p in parts if p] if "" in parts else parts
    if "" in parts:
        parts = [p for p in parts if p]
    if _has_suffix_parts(field):
        parts = _with_suffixes(parts)
    if plain:
        return [normalize_author(p) if "," in p else p for p in parts]
    # Only the parts with TeX or entities (or a comma) change; in a field that has some, most have none.
    return [normalize_author(p) if "," in p or _NEEDS_NORMALIZING.search(p) else p for p in parts]


def _without_affiliations(field: str) -> str:
    """An author line without its parenthesised affiliations, nested ones and arXiv's numbered block
    "((1) MPI, Garching; (2) CEA)" included, as arXiv's own author parser reads it; a collective
    in brackets ("G. Aad et al. (ATLAS Collaboration)") stays, as a name of its own."""
    out: list[str] = []
    depth = start = 0
    for i, ch in enumerate(field):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                inner = field[start + 1:i].strip()
                if _collective(inner) and "(" not in inner:
                    out.append(f", {inner}")
        elif depth == 0:
            out.append(ch)
    if depth:  # unbalanced: leave the line as it was
        return field
    return collapse_ws(_SPACE_BEFORE_COMMA.sub(",", "".join(out))).strip(" ,")


def _collective(name: str) -> bool:
    """Whether a name ends in a collective's word ("The LIGO Scientific Collaboration")."""
    return name.rsplit(" ", 1)[-1].lower() in COLLECTIVE_WORDS


_SPACE_BEFORE_COMMA = re.compile(r"\s+,")
_ET_AL_PART = re.compile(r"et\.?\s*al\.?", re.IGNORECASE)
_SUFFIX_PARTS = frozenset({"Jr.", "Jr", "Sr.", "Sr", "II", "III", "IV"})


def _has_suffix_parts(field: str) -> bool:
    """Whether an author line may hold "et al." or a name suffix as a part of its own (five C scans)."""
    return "et al" in field or "Jr" in field or "Sr" in field or "II" in field or "IV" in field


def _with_suffixes(parts: list[str]) -> list[str]:
    """Parts of a comma-split author line with "et al." dropped and a suffix kept with its name
    ("S. James Gates, Jr., W. D. Linch III": two people)."""
    out: list[str] = []
    for p in parts:
        if _ET_AL_PART.fullmatch(p):
            continue
        if p.startswith("et al") or p.startswith("and et al"):
            continue
        if out and p in _SUFFIX_PARTS:
            out[-1] = f"{out[-1]}, {p}"
        else:
            out.append(p)
    return out


#: The last word of a collective author ("The ATLAS Collaboration", "ENCODE Project Consortium").
COLLECTIVE_WORDS = frozenset({"collaboration", "collaborations", "consortium", "consortia", "collaborators", "group",
                              "groups", "investigators", "initiative", "team"})
#: A collective named in brackets after its authors: "G. Aad et al. (ATLAS Collaboration)".
_BRACKETED_COLLECTIVE = re.compile(rf"[(\[]([^()\[\]]*\b(?:{'|'.join(sorted(COLLECTIVE_WORDS))}))\s*[)\]]",
                                   re.IGNORECASE)


def author_key(name: str) -> str:
    """Matching key "surname first-initial": "Yann LeCun" / "LeCun, Y." / "Y. LeCun" -> "lecun y".

    A collective author keeps its whole name ("The ATLAS Collaboration" -> "atlas collaboration"):
    as "surname initial" every "The ... Collaboration" was "collaboration t", one author."""
    surname, initial, _ = author_parts(name)
    return f"{surname} {initial}".strip()


def author_parts(name: str, *, bare_surname: bool = False) -> tuple[str, str, str]:
    """Folded (surname, first initial, first given name) of one author, as :func:`author_key` reads
    them: ("lecun", "y", "yann") for "Yann LeCun", ("hinton", "g", "") for "Hinton, G. E.". A given
    name written as an initial or with hyphenated initials ("J.-B.") gives only the initial; hyphens
    inside a given name are dropped ("Xiao-Ming" is "xiaoming"). A suffix ("S. James Gates, Jr.")
    is no part of the name.

    ``bare_surname``: a name of surname particles and one more word ("van der Maaten", "de Freitas")
    is a surname alone, as a query naming a person by surname writes it; an author line's "Le Song"
    stays given name "Le", surname "Song".
    """
    surname, given = _split_name(_name_tokens(name), bare_surname)
    first = given[0] if given else ""
    full = first.replace("-", "") if len(first) > 1 else ""
    return surname, first[:1], full


def name_parts(name: str, *, bare_surname: bool = False) -> tuple[str, tuple[str, ...]]:
    """Folded surname and every given name of one author, in order, as :func:`author_parts` splits
    the name: ("gates", ("s", "james")) for "S. James Gates, Jr.", ("garcia lopez", ("ana", "maria"))
    for "Ana María García-López". A written-out name loses its hyphens ("Xiao-Ming" is "xiaoming"),
    an initial is its letter, and the second half of hyphenated initials ("J.-B.") is no name of its
    own: the pair is one given name, "Jean-Baptiste". A collective author has no given names."""
    surname, given = _split_name(_name_tokens(name), bare_surname)
    names = tuple(g.replace("-", "") for g in given if not g.startswith("-"))
    return surname, tuple(g for g in names if g)


def _split_name(tokens: list[str], bare_surname: bool) -> tuple[str, list[str]]:
    """(surname, given-name tokens) of a name's folded words (see :func:`author_parts`)."""
    if not tokens:
        return "", []
    if tokens[-1] in COLLECTIVE_WORDS:  # hyphens as spaces, as in surnames: "Fermi-LAT" is "Fermi LAT"
        return " ".join(t for t in tokens if t != "the").replace("-", " "), []
    start = len(tokens) - 1
    while start > 0 and tokens[start - 1] in NAME_PARTICLES:  # "Ludwig van Beethoven" -> "van beethoven"
        start -= 1
    if start == 0 and not bare_surname and len(tokens) > 1:  # "Le Song": the first word is his given name
        start = 1
    return " ".join(tokens[start:]).replace("-", " "), tokens[:start]


def _name_tokens(name: str) -> list[str]:
    """The folded words of one author's name as written in display form, suffixes left out (a
    bracketed collective's name alone: "ATLAS Collaboration" of "J. Smith (ATLAS Collaboration)")."""
    name = normalize_author(name)
    if "(" in name or "[" in name:
        bracketed = _BRACKETED_COLLECTIVE.search(name)
        name = bracketed.group(1) if bracketed else name
    return [t for t in (t.strip("()[]") for t in _NAME_SPLIT.split(fold(name))) if t and t not in NAME_SUFFIXES]


#: What separates the words of a name: spaces, the dots of initials, and the comma before a suffix.
_NAME_SPLIT = re.compile(r"[\s.,]+")
#: German umlauts spelled out ("Mueller", "Schoelkopf") after folding: the e after a, o or u before a consonant.
_UMLAUT_SPELLING = re.compile(r"(?<=[aou])e(?=[^aeiouy])")


def surname_form(surname: str) -> str:
    """A folded surname as matching compares it: particles joined ("le cun" is "lecun") and, from five
    letters on, umlauts spelled out folded ("mueller" is "muller", like "Müller"); shorter pairs are
    different names ("Suen"/"Sun")."""
    joined = surname.replace(" ", "")
    return _UMLAUT_SPELLING.sub("", joined) if len(joined) >= 5 else joined


def surname_forms(surname: str) -> frozenset[str]:
    """Every :func:`surname_form` a query may name this surname by: each word of a compound surname
    ("molina" of "garcia molina") and each ending of it ("der maaten", "van der maaten")."""
    words = surname.split()
    return frozenset({surname_form(" ".join(words[i:])) for i in range(len(words))} | set(map(surname_form, words)))


def mute_key(name: str) -> str:
    """What the store keeps of a muted author: ``"surname|initial|given|given names"``, as
    "gates|s||s james" for "S. James Gates, Jr." and "lecun|y|yann|yann" for "Yann LeCun". The last
    field is every given name (:func:`name_parts`), so that :class:`MutedAuthors` knows the person
    by the name they go by; the first three are the key earlier versions wrote (:func:`author_parts`,
    the first given name alone) and read, ignoring any field after them: an older installation
    reads this key (its own rows after a downgrade, or a `digest export`) as the key it would have
    written itself. "" for no name at all."""
    name = name.replace("|", " ")  # a field separator inside a name would shift the key's fields
    surname, givens = name_parts(name)
    if not surname:
        return ""
    _, initial, given = author_parts(name)
    return f"{surname}|{initial}|{given}|{' '.join(givens)}"


def mute_name(key: str) -> str:
    """A name whose :func:`mute_key` is ``key`` (any form): how `digest import` mutes the key of an
    export ("s. james gates"; an older key gives the one name it holds: "yann lecun", "s. gates"). A
    surname of several words is hyphenated ("laurens van-der-maaten"): written with spaces, its
    first words would read back as given names."""
    surname, givens = _mute_parts(key)
    first = " ".join(g if len(g) > 1 else f"{g}." for g in givens)
    return f"{first} {surname.replace(' ', '-')}".strip()


def _mute_parts(key: str) -> tuple[str, Givens]:
    """(surname, given names) of a muted key, of any form :func:`mute_key` wrote: the key of today;
    "surname|initial|given", which kept the first given name alone ("gates|s|" for "S. James
    Gates"); and the first "surname initial" ("lecun y"; a key of one word is a surname alone)."""
    fields = key.split("|")
    if len(fields) >= 4:
        return fields[0], tuple(fields[3].split())
    if len(fields) > 1:
        surname, initial, given = (fields + ["", ""])[:3]
        return surname, (given,) if given else (initial,) if initial else ()
    surname, _, initial = key.rpartition(" ")
    return (surname, (initial,)) if surname and len(initial) == 1 else (key, ())


def narrower_mute(key: str, than: str) -> bool:
    """Whether muted ``key`` names the person of ``than`` with no more than it does: the same
    surname, and its given names, in order, each the one of ``than`` in the same place or its
    initial, where ``than``'s given names may also start after leading initials (the name its person
    goes by). "gates|s|", "S. Gates" and "James Gates" are narrower than "S. James Gates", "lecun y"
    than "Yann LeCun"; "Sarah Gates" is not narrower than "S. James Gates", nor "Yann" than "Y."."""
    surname, givens = _mute_parts(key)
    other_surname, other_givens = _mute_parts(than)
    if surname_form(surname) != surname_form(other_surname):
        return False
    for start in range(len(other_givens) + 1):
        tail = other_givens[start:]
        if len(givens) <= len(tail) and all(a == b or (len(a) == 1 and b.startswith(a)) for a, b in zip(givens, tail)):
            return True
        if start < len(other_givens) and len(other_givens[start]) > 1:
            break  # only leading initials may be skipped
    return False


class MutedAuthors:
    """The authors one user muted, each hiding the papers of the person that key names however a
    listing writes them: the person rule of ``au:`` (:func:`digest.names.same_person`, both ways).
    "Schoelkopf" is Schölkopf, "Le Cun" LeCun, "Hernández Lobato" Hernández-Lobato, and muting
    "James Gates" hides "S. James Gates, Jr."; "Yang Li" is not Yi Li, "James Gates" not "Sarah
    Gates", and "OpenAI" not OpenBMB."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._people = [(surname_form(surname), givens, surname_forms(surname))
                        for surname, givens in map(_mute_parts, keys) if surname]

    def __bool__(self) -> bool:
        return bool(self._people)

    def hides(self, authors: Iterable[str]) -> bool:
        """Whether any of ``authors`` (as a paper lists them) is a muted person."""
        if not self._people:
            return False
        for name in authors:
            surname, givens = name_parts(name)
            if not surname:
                continue
            form, forms = surname_form(surname), surname_forms(surname)
            for m_form, m_givens, m_forms in self._people:
                # Both ways: a one-word name may name any word of the other's compound surname.
                if same_person(m_form, m_givens, (forms, givens)) or same_person(form, givens, (m_forms, m_givens)):
                    return True
        return False


def surname_key(name: str) -> str:
    """The folded surname alone ("lecun"), used to block candidate papers for fuzzy merging."""
    key = author_key(name)
    return key.rsplit(" ", 1)[0] if " " in key and len(key.rsplit(" ", 1)[1]) == 1 else key
