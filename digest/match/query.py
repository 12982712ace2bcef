"""The saved-query language: a parser from text to an immutable AST (see docs/queries.md).

Grammar (upper-case AND/OR/NOT are operators; anything else is a word)::

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary ("AND"? unary)*            -- juxtaposition is AND
    unary   := "NOT" unary | "-" primary | "+" primary | primary
    primary := "(" or_expr ")" | FIELD ":" (WORD | PHRASE | "(" or_expr ")") | WORD | PHRASE

Text leaves (no field, ``ti:``, ``abs:``, ``tldr:``, ``kw:``) become :class:`TextClause` values
whose words are already normalised (:mod:`digest.match.normalize`); ``au:``, ``cat:``, ``src:`` and
``id:`` become :class:`MetaClause` values. Every error is a :class:`~digest.errors.QueryError`
whose 1-based column points at the offending character.

Public: :func:`parse`, :func:`vocabulary_words`, :class:`Query`, the node classes and
:data:`FIELD_ALIASES`.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Union

from digest.errors import QueryError
from digest.ids import parse_paper_ref
from digest.match.normalize import americanize_prefix, join_forms, normalize_word, terms
from digest.text import NAME_PARTICLES, fold, name_parts

__all__ = ["parse", "Query", "Word", "TextClause", "MetaClause", "And", "Or", "Not", "Node",
           "FIELD_ALIASES", "TEXT_FIELDS", "DEFAULT_FIELDS", "AUTO_FUZZY_MIN_LETTERS", "VOCAB_FUZZY_MIN_LETTERS",
           "vocabulary_words", "ACRONYM_MARK", "is_acronym", "acronym_key"]

TEXT_FIELDS = ("title", "tldr", "abstract", "keywords")
#: No prefix searches these.
DEFAULT_FIELDS = TEXT_FIELDS
FIELD_ALIASES: dict[str, str] = {
    "ti": "title", "title": "title", "abs": "abstract", "abstract": "abstract", "tldr": "tldr",
    "kw": "keywords", "keyword": "keywords", "keywords": "keywords", "tag": "keywords",
    "au": "authors", "author": "authors", "cat": "categories", "category": "categories",
    "src": "sources", "source": "sources", "id": "ids",
}
#: Words of at least this many letters tolerate one edit unless written in capitals. Tuned on the
#: corpus: at 5-7 letters one edit mostly lands on another real word (sound/round, protect/project).
AUTO_FUZZY_MIN_LETTERS = 8
#: ... and only when their stem keeps at least this many letters ("learning" -> "learn" stays exact).
AUTO_FUZZY_MIN_KEY = 6
#: A word that is no word of the corpus (its key has document frequency 0: "protien", "learing")
#: tolerates one edit from this many letters, with a stem of at least VOCAB_FUZZY_MIN_KEY letters:
#: it cannot mean itself, so an edit can only lead to what was meant. Real corpus words of 5-7
#: letters stay exact (sound/round). Needs the corpus statistics: see :func:`vocabulary_words`.
VOCAB_FUZZY_MIN_LETTERS = 5
VOCAB_FUZZY_MIN_KEY = 4
MIN_PREFIX = 3
#: How deep parentheses and NOTs may nest (real queries use two or three levels).
MAX_NESTING = 32


@dataclass(frozen=True, slots=True)
class Word:
    """One normalised query word. ``dist`` is the edit distance allowed (0 = exact); ``anchored``
    fuzzy words (automatic tolerance) must keep their first letter, as most typos do."""

    surface: str
    form: str
    key: str
    dist: int = 0
    prefix: bool = False
    anchored: bool = False
    acronym: bool = False


@dataclass(frozen=True, slots=True)
class TextClause:
    """Words that must appear in this order, adjacent, in one of ``fields``.

    ``joins[i]`` is the key of words i and i+1 written as one word (None when either is fuzzy or a
    prefix): "self supervised" also matches "selfsupervised".
    """

    fields: tuple[str, ...]
    words: tuple[Word, ...]
    joins: tuple[str | None, ...]
    quoted: bool
    text: str
    column: int


@dataclass(frozen=True, slots=True)
class MetaClause:
    """A structured field: authors (``value`` = surname, ``givens`` = the given names in order,
    each written out or an initial: see :func:`digest.text.name_parts`), categories, sources, ids."""

    field: str
    value: str
    text: str
    column: int
    prefix: bool = False
    givens: tuple[str, ...] = ()

    @property
    def initial(self) -> str:
        """The first given name's initial ("" for none)."""
        return self.givens[0][0] if self.givens else ""

    def readings(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The (surname, given names) an author clause may mean: "Le Song" names a surname "Le Song"
        or Le (given name) Song, as author lines write him; "Le Cun" is Yann's "LeCun"."""
        first, _, rest = self.value.partition(" ")
        if not self.givens and rest and first in NAME_PARTICLES:
            return (self.value, ()), (rest, (first,))
        return ((self.value, self.givens),)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: "Node"
    column: int


Node = Union[TextClause, MetaClause, And, Or, Not]


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    root: Node


# --- Lexer ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # ( ) word phrase AND OR NOT - + field
    text: str
    col: int  # 1-based
    end: int  # 0-based index just after the token


_FIELD_RE = re.compile(r"([A-Za-z]+):")
#: Typographic quotes (what phones and word processors type) are the ASCII quote: same length, so
#: columns in errors still point into the query as written.
_QUOTES = str.maketrans({q: '"' for q in "“”„‟«»″"})


def _word_end(text: str, i: int) -> int:
    """End of the word starting at ``i``: any whitespace (a non-breaking space too), a parenthesis or a quote."""
    n = len(text)
    while i < n and not text[i].isspace() and text[i] not in '()"':
        i += 1
    return i


def _id_end(text: str, i: int) -> int:
    """End of an ``id:`` value: up to whitespace, keeping the colons and parentheses of identifiers
    ("arXiv:2401.01234", "https://arxiv.org/abs/...", "10.1016/S0140-6736(20)30183-5") but not a
    closing parenthesis of the query's own group."""
    n, j = len(text), i
    while j < n and not text[j].isspace():
        j += 1
    while j > i and text[j - 1] == ")" and text.count(")", i, j) > text.count("(", i, j):
        j -= 1
    return j


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    text = text.translate(_QUOTES)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            toks.append(_Tok(c, c, i + 1, i + 1))
            i += 1
        elif c == '"':
            j = text.find('"', i + 1)
            if j < 0:
                raise QueryError(text, i + 1, "unclosed quote")
            toks.append(_Tok("phrase", text[i + 1:j], i + 1, j + 1))
            i = j + 1
        elif c in "-+" and (not toks or toks[-1].end < i or toks[-1].kind in ("(", "field")):
            toks.append(_Tok(c, c, i + 1, i + 1))
            i += 1
        else:
            j = _word_end(text, i)
            word = text[i:j]
            m = _FIELD_RE.match(word)
            if m:
                toks.append(_Tok("field", m.group(1), i + 1, i + m.end()))
                i += m.end()
                if FIELD_ALIASES.get(m.group(1).lower()) == "ids" and i < n and not text[i].isspace() and text[i] not in '("':
                    j = _id_end(text, i)
                    toks.append(_Tok("word", text[i:j], i + 1, j))
                    i = j
                continue
            kind = word if word in ("AND", "OR", "NOT") else "word"
            toks.append(_Tok(kind, word, i + 1, j))
            i = j
    return toks


# --- Parser ---------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, unknown: Container[str] = (), common: Container[str] = ()) -> None:
        self.text = text
        self.unknown = unknown
        self.common = common
        self.toks = _lex(text)
        self.i = 0
        self.depth = 0

    def error(self, col: int, reason: str) -> QueryError:
        return QueryError(self.text, col, reason)

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            raise self.error(1, "empty query")
        node = self.or_expr(None)
        tok = self.peek()
        if tok is not None:  # only a stray ")" can stop or_expr early
            raise self.error(tok.col, "unmatched ')'")
        return node

    def or_expr(self, field: str | None) -> Node:
        children = [self.and_expr(field)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            self.expect_operand(tok)
            children.append(self.and_expr(field))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, field: str | None) -> Node:
        children = [self.unary(field)]
        explicit = False
        while (tok := self.peek()) is not None and tok.kind not in ("OR", ")"):
            if tok.kind == "AND":
                explicit = True
                self.take()
                self.expect_operand(tok)
            children.append(self.unary(field))
        if not explicit:
            children = _without_function_words(children)
        if len(children) == 1:
            return children[0]
        node = And(tuple(children))
        return node if explicit else _with_joined_alternative(node)

    def expect_operand(self, op: _Tok) -> None:
        nxt = self.peek()
        if nxt is None or nxt.kind in ("AND", "OR", ")"):
            raise self.error(op.col, f"{op.text!r} needs a term on both sides")

    def unary(self, field: str | None) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.error(len(self.text) + 1, "expected a term")
        if tok.kind in ("AND", "OR"):
            raise self.error(tok.col, f"{tok.text!r} needs a term on both sides")
        if tok.kind in ("NOT", "-"):
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in ("AND", "OR", ")"):
                raise self.error(tok.col, f"{tok.text!r} needs a term after it")
            with self.nested(tok):
                child = self.unary(field) if tok.kind == "NOT" else self.primary(field)
            return Not(child, tok.col)
        if tok.kind == "+":
            self.take()
            if self.peek() is None or self.peek().kind in ("AND", "OR", ")"):  # type: ignore[union-attr]
                raise self.error(tok.col, "'+' needs a term after it")
            return self.primary(field)
        return self.primary(field)

    @contextmanager
    def nested(self, tok: _Tok) -> Iterator[None]:
        """One more level of parentheses or NOT: a bounded depth, so no query (typed, imported or
        posted) exhausts the parser's or the evaluator's recursion."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(tok.col, f"nested more than {MAX_NESTING} levels deep")
        try:
            yield
        finally:
            self.depth -= 1

    def primary(self, field: str | None) -> Node:
        tok = self.take()
        if tok.kind == "(":
            if (nxt := self.peek()) is not None and nxt.kind == ")":
                raise self.error(tok.col, "empty parentheses")
            if nxt is None:
                raise self.error(tok.col, "unclosed parenthesis")
            with self.nested(tok):
                node = self.or_expr(field)
            close = self.peek()
            if close is None or close.kind != ")":
                raise self.error(tok.col, "unclosed parenthesis")
            self.take()
            return node
        if tok.kind == ")":
            raise self.error(tok.col, "unmatched ')'")
        if tok.kind == "field":
            return self.fielded(tok)
        if tok.kind in ("NOT", "-", "+"):
            raise self.error(tok.col, f"{tok.text!r} cannot follow here")
        return _leaf(self.text, field, tok, self.unknown, self.common)

    def fielded(self, tok: _Tok) -> Node:
        name = FIELD_ALIASES.get(tok.text.lower())
        if name is None:
            known = ", ".join(sorted({"ti", "abs", "tldr", "kw", "au", "cat", "src", "id"}))
            raise self.error(tok.col, f"unknown field {tok.text!r} (known: {known})")
        nxt = self.peek()
        if nxt is None or nxt.col - 1 != tok.end or nxt.kind not in ("word", "phrase", "(", "AND", "OR", "NOT"):
            raise self.error(tok.col, f"field {tok.text}: needs a value right after the colon")
        if nxt.kind in ("AND", "OR", "NOT"):  # ti:OR is the word "OR" in titles
            self.take()
            return _leaf(self.text, name, _Tok("word", nxt.text, nxt.col, nxt.end), self.unknown, self.common)
        return self.primary(name)


def parse(text: str, unknown: Container[str] = (), common: Container[str] = ()) -> Query:
    """Parse a saved query; raises :class:`QueryError` with the column of the problem.

    ``unknown`` holds the keys (of those :func:`vocabulary_words` names) that are no word of the
    corpus: they get one edit of tolerance from VOCAB_FUZZY_MIN_LETTERS letters. ``common`` holds
    those that mean themselves (the corpus uses them often, or seldom but with no far more frequent
    word one edit away: :func:`digest.match.score.means_itself`), so a long one gets no automatic
    tolerance ("simulation" must not find "stimulation", "graphene" not "grapheme").
    """
    return Query(text, _Parser(text, unknown, common).parse())


class _Recorder:
    """A container that holds nothing and notes what it was asked about."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return False


@lru_cache(maxsize=8192)
def vocabulary_words(text: str) -> frozenset[str]:
    """Keys of the words of ``text`` whose typo tolerance depends on whether the corpus knows them
    (raises :class:`QueryError` like :func:`parse`)."""
    recorder = _Recorder()
    _Parser(text, recorder, recorder).parse()
    return frozenset(recorder.asked)


# --- Leaves ---------------------------------------------------------------------------------------


def _leaf(query: str, field: str | None, tok: _Tok, unknown: Container[str] = (), common: Container[str] = ()) -> Node:
    if field in ("authors", "categories", "sources", "ids"):
        return _meta_leaf(query, field, tok)
    fields = (field,) if field else DEFAULT_FIELDS
    if tok.kind == "phrase":
        words = []
        for t in terms(tok.text, joined=False):
            acronym = _is_acronym(tok.text[t.start:t.end])
            words.append(Word(query[tok.col + t.start:tok.col + t.end], t.form,
                              acronym_key(t.key) if acronym else t.key, acronym=acronym))
        if not words:
            raise QueryError(query, tok.col, "nothing to match inside the quotes")
        return _text_clause(fields, words, True, f'"{tok.text}"', tok.col)
    return _text_clause(fields, _words(query, tok, unknown, common), False, tok.text, tok.col)


def _suffix(query: str, tok: _Tok) -> tuple[str, int | None, bool]:
    """Split ``word~N`` / ``word*`` into (base, explicit distance, prefix)."""
    text, dist, prefix = tok.text, None, False
    tilde = text.find("~")
    if tilde >= 0:
        spec = text[tilde + 1:]
        col = tok.col + tilde
        if tilde == 0:
            raise QueryError(query, col, "'~' must follow a word")
        if spec and not spec.isdigit():
            raise QueryError(query, col, f"bad fuzzy distance {spec!r}: use word~, word~1 or word~2")
        dist = int(spec) if spec else 1
        if dist > 2:
            raise QueryError(query, col, f"fuzzy distance {dist} is too large: use 0, 1 or 2")
        text = text[:tilde]
    star = text.find("*")
    if star >= 0:
        if star != len(text) - 1:
            raise QueryError(query, tok.col + star, "'*' is only allowed at the end of a word")
        if dist is not None:
            raise QueryError(query, tok.col + star, "a word cannot be both a prefix (*) and fuzzy (~)")
        prefix, text = True, text[:-1]
    return text, dist, prefix


#: Prefix of the keys under which documents also index tokens written in capitals ("^gan" for "GAN",
#: "GANs"): an exact acronym query word uses it, so "GAN" never meets "GaN" or "gan".
ACRONYM_MARK = "^"


def _is_acronym(surface: str) -> bool:
    """Written in capitals: every letter upper case (a plural "s" aside), at least two of them;
    digits allowed ("GPT4", "LLMs")."""
    if surface[-2:] in ("'s", "’s"):  # a possessive: "BERT's"
        surface = surface[:-2]
    core = surface[:-1] if surface.endswith("s") else surface
    # str.isupper() (C) is false for a token with a lower-case letter (nearly every token) or none
    # at all, either of which the character test below refuses too: documents ask for every token.
    if not core.isupper():
        return False
    return sum(c.isupper() for c in core) >= 2 and all(c.isupper() or c.isdigit() for c in core)


is_acronym = _is_acronym


def acronym_key(key: str) -> str:
    """The marker key of an acronym: documents index tokens written in capitals under it too."""
    return ACRONYM_MARK + key


def _words(query: str, tok: _Tok, unknown: Container[str] = (), common: Container[str] = ()) -> list[Word]:
    base, explicit, prefix = _suffix(query, tok)
    found = terms(base, joined=False)
    if not found:
        raise QueryError(query, tok.col, f"{tok.text!r} has no letters or digits to match")
    words = []
    for n, t in enumerate(found):
        surface = base[t.start:t.end]
        acronym = _is_acronym(surface)
        is_prefix = prefix and n == len(found) - 1
        if is_prefix:
            if len(t.form) < MIN_PREFIX:
                raise QueryError(query, tok.col + t.start, f"a prefix needs at least {MIN_PREFIX} letters")
            words.append(Word(surface, americanize_prefix(t.form), t.key, 0, True, False, acronym))
            continue
        if explicit is not None:
            words.append(Word(surface, t.form, t.key, explicit, False, False, acronym))
            continue
        auto = not acronym and surface.isalpha() and (
            (len(surface) >= AUTO_FUZZY_MIN_LETTERS and len(t.key) >= AUTO_FUZZY_MIN_KEY and t.key not in common)
            or (len(surface) >= VOCAB_FUZZY_MIN_LETTERS and len(t.key) >= VOCAB_FUZZY_MIN_KEY
                and t.key in unknown))
        # An exact acronym matches only tokens written in capitals: it looks up their marker key.
        key = acronym_key(t.key) if acronym and not auto else t.key
        words.append(Word(surface, t.form, key, 1 if auto else 0, False, auto, acronym))
    return words


def _with_joined_alternative(node: And) -> Node:
    """Typed side by side, two or three plain words may also be one written word or a hyphenated
    one: ``self supervised`` becomes ``(self AND supervised) OR "self supervised"`` whose phrase
    also matches "selfsupervised" and "self-supervised" (and scores adjacency)."""
    words = node.children
    if not 2 <= len(words) <= 3 or not all(
            isinstance(w, TextClause) and len(w.words) == 1 and not w.quoted and not w.words[0].prefix
            for w in words):
        return node
    clauses = [w for w in words if isinstance(w, TextClause)]
    if len({c.fields for c in clauses}) != 1:
        return node
    phrase = _text_clause(clauses[0].fields, [c.words[0] for c in clauses], False,
                          " ".join(c.text for c in clauses), clauses[0].column)
    return Or((node, phrase))


#: Words that only join others ("graph neural networks for drug discovery"): typed between plain
#: words, they are not required, as search engines read them; quoted, they are part of the phrase.
FUNCTION_WORDS = frozenset("""a an the and or of for to in on at by from with without into onto over under
about between through within via per vs versus as""".split())


def _without_function_words(children: list[Node]) -> list[Node]:
    """The words of an implicit AND without its unquoted function words, unless nothing else is left
    (a query of stop words alone is refused on save, with its reason)."""
    kept = [c for c in children if not (isinstance(c, TextClause) and not c.quoted and len(c.words) == 1
                                        and not c.words[0].acronym and c.words[0].form in FUNCTION_WORDS)]
    return kept if kept else children


def joined_key(a: str, b: str) -> str:
    """Key of two forms written as one word (matches normalize's joined terms)."""
    return join_forms(a, b)[1]


def _text_clause(fields: tuple[str, ...], words: list[Word], quoted: bool, text: str, col: int) -> TextClause:
    # The joined alternative is compared exactly, so it is sound for fuzzy words too.
    # No joined alternative next to an exact acronym: "GAN based" must not meet "GaN-based"; but an
    # acronym and a number (or two acronyms) join as one acronym: "GPT-4" is "GPT4".
    joins = tuple(acronym_key(joined_key(a.form, b.form))
                  if _marked(a) and (_marked(b) or b.form.isdigit()) and not (a.prefix or b.prefix)
                  else joined_key(a.form, b.form) if not (a.prefix or b.prefix or _marked(a) or _marked(b))
                  else None
                  for a, b in zip(words, words[1:]))
    return TextClause(fields, tuple(words), joins, quoted, text, col)


def _marked(word: Word) -> bool:
    return word.key.startswith(ACRONYM_MARK)


def _meta_leaf(query: str, field: str, tok: _Tok) -> MetaClause:
    raw = tok.text.strip()
    prefix = tok.kind == "word" and raw.endswith("*")
    if prefix:
        raw = raw[:-1]
    if tok.kind == "word" and ("~" in raw or "*" in raw):
        col = tok.col + max(raw.find("~"), raw.find("*"))
        raise QueryError(query, col, f"fuzzy and inner wildcards are not supported in {field}")
    if field == "authors":
        if prefix:
            raise QueryError(query, tok.col + len(raw), "author names do not take '*'")
        surname, givens = name_parts(raw, bare_surname=True)
        if not surname:
            raise QueryError(query, tok.col, "empty author name")
        return MetaClause(field, surname, tok.text, tok.col, False, givens)
    if field == "ids":
        value = parse_paper_ref(raw).lower()
    elif field == "sources":
        value = source_key(raw)
    else:
        value = fold(raw).strip()
    if not value:
        raise QueryError(query, tok.col, f"empty value for {field}")
    return MetaClause(field, value, tok.text, tok.col, prefix)


def source_key(name: str) -> str:
    """Feed names, source kinds and labels compared as folded letters and digits ("hf-daily" = "HF daily")."""
    return "".join(c for c in fold(name) if c.isalnum())


def word_key(surface: str) -> str:
    """Key of one word as the matcher normalises it (handy for tests and stats look-ups)."""
    return normalize_word(surface)[1]
