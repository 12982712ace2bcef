"""The normalisation the matcher applies to both sides: paper text and query words.

A token of text goes through, in order:

1. TeX accents resolved (``Bal\\'azs``), TeX command names (``\\mathcal``), markup tags and HTML
   entities skipped entirely; math delimiters, braces, hyphens and punctuation split tokens.
2. NFKC (full-width letters, ligatures, mathematical alphanumerics), then :func:`digest.text.fold`
   (case and diacritics), then Greek/Cyrillic look-alikes mapped to Latin *when the token mixes
   scripts* ("ВERT" with a Cyrillic В is "bert"; a lone Greek "α" stays Greek).
3. British spelling to American (:func:`americanize`): -ise/-isation after known stems, -yse, -our,
   -tre, doubled l before -ing/-ed in a small table, and a table of whole words. The result is the
   token's **form** (used by prefix queries).
4. A light, conservative stemmer (:func:`stem`) gives the token's **key** (used by exact and fuzzy
   matching): plural -s/-es/-ies, -ing, -ed/-ied, a final silent -e, and undoubling of the consonant
   left by -ing/-ed ("embedded" -> "embed"). Nothing else is stripped: no -ation, -ment, -ly, -er,
   so "organ" never meets "organization" and "encoder" stays apart from "encode". Words of three
   letters or fewer and tokens with digits are left alone.

Adjacent tokens separated only by spaces or hyphens also yield a **joined** term whose key is the
stem of both forms glued together, so "self-supervised", "self supervised" and "selfsupervised" all
carry the key ``selfsupervis``.

Public: :class:`Term`, :func:`terms`, :func:`normalize_word`, :func:`stem`, :func:`americanize`,
:func:`is_stop_word`, :data:`STOP_WORDS`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from digest.text import fold, strip_tex

__all__ = ["Term", "terms", "join_forms", "normalize_word", "stem", "americanize", "is_stop_word", "STOP_WORDS"]


class Term(NamedTuple):
    """One normalised term of a text (a named tuple: documents hold hundreds of thousands).

    ``pos`` counts tokens (a joined term takes the position of its first token and ``width`` 2);
    ``start``/``end`` are character offsets in the original text, for highlighting.
    """

    key: str
    form: str
    pos: int
    start: int
    end: int
    width: int = 1


# TeX accents and letters inside a word, as strip_tex reads them: \"o, \"{o}, {\"o}, \H{o}, {\H{o}}, \r{u},
# {\L}, {\ss}; and a Greek letter written as a command ("$\alpha$-divergence" is "α-divergence",
# as titles store it).
_ACCENT = (r"\\['`^\"~=.]\{?[A-Za-z]\}?|\\[uvHckr]\{[A-Za-z]\}|\{\\['`^\"~=.][A-Za-z]\}|\{\\[uvHckr]\{[A-Za-z]\}\}"
           r"|\{\\(?:[LlOoij]|ss|ae|AE|oe|OE|aa|AA)\}")
_GREEK = ("alpha|beta|gamma|delta|varepsilon|epsilon|zeta|eta|vartheta|theta|iota|kappa|lambda|mu|nu|xi|pi|rho|"
          "sigma|tau|upsilon|varphi|phi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Pi|Sigma|Phi|Psi|Omega")
_CHAR = rf"(?:[^\W_]|{_ACCENT}|\\(?:{_GREEK})(?![A-Za-z]))"
_WORD = rf"{_CHAR}+(?:['’]{_CHAR}+)*"
# Alternatives tried left to right: a word, else things skipped whole (TeX commands, tags, entities).
_TOKEN_RE = re.compile(rf"(?P<w>{_WORD})|\\[A-Za-z]+|<[^<>]{{0,60}}>|&#?\w{{1,10}};")
# The same without a backslash in the text (nearly every abstract): every TeX alternative above
# starts with "\\" or "{\\", so a word is plain letters and digits. Same tokens, ~40% less time.
_PLAIN_TOKEN_RE = re.compile(r"(?P<w>[^\W_]+(?:['’][^\W_]+)*)|<[^<>]{0,60}>|&#?\w{1,10};")
assert _TOKEN_RE.groupindex["w"] == _PLAIN_TOKEN_RE.groupindex["w"] == 1
# Tokens glue into a joined term only across these gaps ("self-supervised", "self supervised").
_JOIN_GAP = re.compile(r"[\s\-\u2010\u2011\u2012\u2013]{1,2}")

# Lower-case Greek and Cyrillic letters that look like Latin ones (capital look-alikes lower-cased).
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "һ": "h",
    "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "h", "ι": "i", "κ": "k", "μ": "m", "ν": "n",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "y", "χ": "x",
})

STOP_WORDS = frozenset("""
a about above after again all also an and any are as at be been before being below between both but
by can could did do does doing down during each few for from further had has have having here how i
if in into is it its itself just more most no nor not of off on once only or other our out over own
same she should so some such than that the their them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you
your via using use based new paper show propose results method approach
""".split())


def is_stop_word(word: str) -> bool:
    """True for English function words and words every abstract uses ("paper", "propose")."""
    return fold(word) in STOP_WORDS


# --- British -> American --------------------------------------------------------------------------

# -ise/-isation only after these endings: optimise, regularise, characterise, synchronise, recognise,
# prioritise, tokenise, stabilise, criticise, apologise... The list keeps promise, premise, expertise,
# exercise, noise, raise, revise, advise, otherwise (and -wise words) untouched.
_ISE_RE = re.compile(r"(?<=[a-z])(al|ar|or|er|im|on|gn|ic|it|an|at|il|en|og|in|nt|el|et|om|rd)is(e|es|ed|ing|er|ers|"
                     r"ation|ations|ational|able)$")
_ISE_EXCEPTIONS = frozenset({"arise", "arises", "arising", "treatise", "treatises", "reprise", "anise",
                             "expertise", "franchise", "merchandise", "enterprise", "enterprises",
                             "promise", "promises", "promised", "promising", "compromise", "compromises",
                             "compromised", "compromising"})
_YSE_RE = re.compile(r"(?<=[a-z]{3})(ly|ys)s(e|es|ed|ing|er|ers)$")
_OUR_RE = re.compile(r"^(behavi|col|fav|hon|lab|neighb|rum|vap|flav|harb|hum|vig|tum|arm|endeav|od|val|sav|"
                     r"splend|rig|clam|ard|parl|sav)our")
_TRE_RE = re.compile(r"^(cent|fib|lit|theat|calib|spect|lust|somb|meag|kilomet|centimet|millimet|micromet|"
                     r"nanomet|met|sab)re(s|d)?$")
# Words whose British spelling doubles the final l before -ing/-ed/-er (modelling, labelled).
_DOUBLE_L = frozenset({"model", "label", "travel", "cancel", "level", "fuel", "tunnel", "channel", "signal",
                       "total", "equal", "dial", "counsel", "marshal", "pedal", "rival", "jewel", "duel",
                       "panel", "barrel", "parcel", "libel", "marvel", "shovel", "spiral", "initial",
                       "trial", "funnel", "tunnel"})
# British single l where American spelling has two (distil/distill): the American form, whatever follows.
_SINGLE_L = re.compile(r"^(distil|instil|fulfil|enrol|extol)(s|ment|ments)?$")
_DOUBLE_L_RE = re.compile(r"^([a-z]+l)l(ing|ed|er|ers)$")
_WORDS = {
    "catalogue": "catalog", "catalogues": "catalogs", "dialogue": "dialog", "dialogues": "dialogs",
    "analogue": "analog", "analogues": "analogs", "programme": "program", "programmes": "programs",
    "grey": "gray", "defence": "defense", "licence": "license", "offence": "offense", "ageing": "aging",
    "judgement": "judgment", "acknowledgement": "acknowledgment", "aluminium": "aluminum",
    "manoeuvre": "maneuver", "sulphur": "sulfur", "tyre": "tire", "tyres": "tires", "plough": "plow",
    "cheque": "check", "enrolment": "enrollment", "fulfilment": "fulfillment", "mould": "mold",
    "moulds": "molds", "artefact": "artifact", "artefacts": "artifacts", "practise": "practice",
    "practised": "practiced", "learnt": "learned", "spelt": "spelled", "draught": "draft",
}
_AE_OE_RE = re.compile(r"^(h|an|leuk|isch|p|orthop|encyclop|septic)ae(m|d)|^(o|f)e(s|t)")


def americanize(word: str) -> str:
    """British to American spelling of one folded word ("regularisation" -> "regularization")."""
    if len(word) < 4 or not word.isalpha():
        return word
    if word in _WORDS:
        return _WORDS[word]
    if word not in _ISE_EXCEPTIONS:
        word = _ISE_RE.sub(r"\1iz\2", word)
    word = _YSE_RE.sub(r"\1z\2", word)
    word = _OUR_RE.sub(r"\1or", word)
    m = _TRE_RE.match(word)
    if m:
        end = m.group(2)
        word = f"{m.group(1)}er" + ("s" if end == "s" else "ed" if end == "d" else "")
    m = _DOUBLE_L_RE.match(word)
    if m and m.group(1) in _DOUBLE_L:
        word = m.group(1) + m.group(2)
    m = _SINGLE_L.match(word)
    if m:
        word = f"{m.group(1)}l{m.group(2) or ''}"
    if word.startswith(("haem", "anaem", "leukaem", "ischaem", "paed", "orthopaed", "encyclopaed",
                        "oesoph", "oestr", "foet", "oedem", "anaesth", "gynaec", "diarrhoe")):
        word = word.replace("ae", "e", 1).replace("oe", "e", 1)
    return word


def americanize_prefix(prefix: str) -> str:
    """The American spelling of the start of a word, for prefix queries: papers are indexed in
    American spelling, so "optimis*" looks for "optimiz", "modell*" for "model", "colour*" for
    "color". The prefix is completed with a few endings and spelled as a whole word would be."""
    for ending in ("e", "ing", "ion"):
        whole = americanize(prefix + ending)
        if whole != prefix + ending and whole.endswith(ending):
            return whole[: -len(ending)]
    return prefix


# --- Stemming -------------------------------------------------------------------------------------

_VOWEL = re.compile(r"[aeiouy]")
# Words ending in -ed or -ing that are not inflections ("embedded" -> "embed" must meet "embed").
_NOT_PAST_TENSE = frozenset({"embed", "imbed", "shed", "shred", "sled", "fled", "bred", "hundred", "sacred",
                             "naked", "wicked", "kindred", "rugged", "jagged", "ragged", "beloved"})
_UNDOUBLE = frozenset("bdgmnprt")
#: Verbs ending in one l that double it before -ed/-ing in American spelling too ("controlled"); other
#: -lled words keep both ("installed" is "install", "called" is "call").
_DOUBLING_L = frozenset({"control", "patrol", "compel", "propel", "expel", "repel", "excel", "rebel", "dispel",
                         "impel", "annul"})
#: Singular words ending in s: not plurals ("bias" is no "bia"; "lensing" must meet "lens").
_SINGULAR_S = frozenset({"bias", "alias", "atlas", "canvas", "pancreas", "lens", "chaos", "cosmos", "ethos",
                         "kudos", "news", "thermos", "iris", "bonus"})
#: Latin and Greek plurals common in papers, to their singular ("Random Matrices" is "random matrix").
_IRREGULAR_PLURALS = {
    "matrices": "matrix", "vertices": "vertex", "indices": "index", "appendices": "appendix",
    "simplices": "simplex", "apices": "apex", "cortices": "cortex", "hypotheses": "hypothesis",
    "theses": "thesis", "crises": "crisis", "syntheses": "synthesis", "diagnoses": "diagnosis",
    "prognoses": "prognosis", "parentheses": "parenthesis", "ellipses": "ellipsis", "radii": "radius",
    "foci": "focus", "nuclei": "nucleus", "loci": "locus", "stimuli": "stimulus", "fungi": "fungus",
    "criteria": "criterion", "phenomena": "phenomenon", "automata": "automaton", "polyhedra": "polyhedron",
    "maxima": "maximum", "minima": "minimum", "optima": "optimum", "spectra": "spectrum", "quanta": "quantum",
    "media": "medium", "strata": "stratum", "bacteria": "bacterium", "mitochondria": "mitochondrion",
}


def _strip_inflection(word: str) -> str:
    if word in _SINGULAR_S:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith(("ches", "shes", "xes", "zes")) and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]  # and go on: "embeddings" -> "embedding" -> "embed"
    if word.endswith("ied") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and not word.endswith("eed") and word not in _NOT_PAST_TENSE:
            base = word[: -len(suffix)]
            if len(base) >= 3 and _VOWEL.search(base):
                if len(base) > 3 and base[-1] == base[-2] and (base[-1] in _UNDOUBLE or base[:-1] in _DOUBLING_L):
                    base = base[:-1]
                return base
    return word


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The conservative stem of a folded, Americanised word (see the module docstring)."""
    if len(word) <= 3 or not word.isalpha():
        return word
    word = _IRREGULAR_PLURALS.get(word) or _strip_inflection(word)
    if len(word) > 3 and word.endswith("ie"):  # "movie" and "movies" (-> "movy") meet
        return word[:-2] + "y"
    if len(word) > 3 and word.endswith("e") and not word.endswith(("ee", "ye")):
        word = word[:-1]
    return word


# --- Tokens ---------------------------------------------------------------------------------------


def _has_latin(text: str) -> bool:
    return any("a" <= c <= "z" for c in text)


_POSSESSIVE = re.compile(r"['’][sS]$")
#: A plural of capitals: two or more capital letters (digits between them allowed), then a small s.
_ACRONYM_PLURAL = re.compile(r"[A-Z][A-Z0-9]*[A-Z][A-Z0-9]*s")


@lru_cache(maxsize=262144)
def normalize_word(surface: str) -> tuple[str, str]:
    """``(form, key)`` of one token as written: form is folded and Americanised, key is its stem."""
    text = strip_tex(surface) if "\\" in surface else surface
    if "'" in text or "’" in text:  # "BERT's" is BERT
        text = _POSSESSIVE.sub("", text).replace("'", "").replace("’", "")
    if _ACRONYM_PLURAL.fullmatch(text):  # "GPUs" is GPU, as "LLMs" is LLM (folded, "gpus" would keep its -us)
        text = text[:-1]
    text = fold(unicodedata.normalize("NFKC", text))
    if not text.isascii() and _has_latin(text):
        text = text.translate(_CONFUSABLES)
    form = americanize(text)
    return form, stem(form)


def terms(text: str, *, joined: bool = True) -> list[Term]:
    """Normalised terms of ``text`` with token positions and original offsets.

    Single tokens come first, in order; with ``joined`` the joined terms of adjacent token pairs
    (width 2) follow them.
    """
    singles = single_terms(text)
    return singles + joined_terms(text, singles) if joined else singles


#: Builds a Term from its six fields: ~3x faster than the named tuple's generated __new__, and
#: documents hold hundreds of thousands of terms.
_term = tuple.__new__


def single_terms(text: str) -> list[Term]:
    """The single-token terms of ``text``, in order (:func:`terms` without the joined ones)."""
    out: list[Term] = []
    append = out.append
    for m in (_TOKEN_RE if "\\" in text else _PLAIN_TOKEN_RE).finditer(text):
        word = m.group(1)
        if word is None:  # a TeX command, a tag or an entity: skipped whole
            continue
        form, key = normalize_word(word)
        if key:
            start, end = m.span()
            append(_term(Term, (key, form, len(out), start, end, 1)))
    return out


def joined_terms(text: str, singles: list[Term]) -> list[Term]:
    """The joined terms (width 2) of adjacent tokens of ``text``, given its :func:`single_terms`."""
    out: list[Term] = []
    for a, b in zip(singles, singles[1:]):
        # Stop words never glue: "in formation" must not become "information" -- except a
        # particle hyphenated to a word before it, a compound as written: "trade-off",
        # "follow-up", "roll-out" are "tradeoff", "followup", "rollout".
        if b.start - a.end == 1 and text[a.end] == " ":  # the usual gap: _JOIN_GAP's verdict, without the call
            spaced = True
        else:
            gap = _JOIN_GAP.fullmatch(text, a.end, b.start)
            if gap is None:
                continue
            spaced = gap.group().isspace()
        if a.form not in STOP_WORDS and (b.form not in STOP_WORDS or not spaced):
            form, key = join_forms(a.form, b.form)
            out.append(_term(Term, (key, form, a.pos, a.start, b.end, 2)))
    return out


@lru_cache(maxsize=262144)
def join_forms(a: str, b: str) -> tuple[str, str]:
    """``(form, key)`` of two forms written as one word: "self" + "supervised"."""
    form = americanize(a + b)
    return form, stem(form)


#: The keys of the stop words: what a query word is compared by when the validator asks whether a
#: query holds only stop words ("papers" and "proposed" are "paper" and "propose").
STOP_KEYS = frozenset(stem(americanize(w)) for w in STOP_WORDS)
