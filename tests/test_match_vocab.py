"""digest.match.vocab: a bulk expansion equals word_similarity over every (word, key) pair."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.match import CorpusStats, Document, QueryIndex, compile_query
from digest.match.document import word_similarity
from digest.match.query import ACRONYM_MARK, Word
from digest.match.vocab import WordSet

# Few letters, so that random strings come near each other; non-ASCII (2-byte, CJK, beyond the
# BMP), the acronym mark, and NUL (numpy pads fixed-width strings with it).
LETTERS = "abcé" + "ß\u4e00\U0001f600" + ACRONYM_MARK + "\x00"
letter = st.sampled_from(LETTERS)
text = st.text(LETTERS, min_size=1, max_size=30)


def expected(words: list[Word], keys: list[str], forms: list[str]) -> dict[Word, dict[str, float]]:
    """The plain definition: every fuzzy word against every key, every prefix word against every form."""
    out = {}
    for w in words:
        if w.prefix or w.dist:
            found = {k: sim for k in (forms if w.prefix else keys) if (sim := word_similarity(w, k)) is not None}
            if found:
                out[w] = found
    return out


@st.composite
def edited(draw: st.DrawFn, base: str) -> str:
    """``base`` after up to three random edits (deletion, insertion, substitution, transposition)."""
    s = base
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.integers(0, 3))
        i = draw(st.integers(0, len(s)))
        if op == 0 and i < len(s):
            s = s[:i] + s[i + 1:]
        elif op == 1:
            s = s[:i] + draw(letter) + s[i:]
        elif op == 2 and i < len(s):
            s = s[:i] + draw(letter) + s[i + 1:]
        elif op == 3 and i + 1 < len(s):
            s = s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s


@st.composite
def words(draw: st.DrawFn) -> Word:
    key = draw(text)
    if draw(st.integers(0, 3)) == 0:
        form = key[:draw(st.integers(1, len(key)))]
        return Word(form, form, key, prefix=True)
    return Word(key, key, key, dist=draw(st.sampled_from([1, 1, 1, 2, 3])), anchored=draw(st.booleans()))


@st.composite
def vocabularies(draw: st.DrawFn, bases: list[str]) -> list[str]:
    """Strings near ``bases`` (and their prefixes, extended) plus random ones, some of them marked."""
    near = [draw(edited(draw(st.sampled_from(bases)))) for _ in range(draw(st.integers(0, 40)))] if bases else []
    found = near + draw(st.lists(text, max_size=10))
    found += [ACRONYM_MARK + s for s in draw(st.lists(st.sampled_from(found), max_size=3))] if found else []
    return [s for s in found if 1 <= len(s) <= 31]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_expand_equals_word_similarity_over_every_pair(data: st.DataObject) -> None:
    pool = data.draw(st.lists(words(), min_size=1, max_size=12))
    bases = [w.form if w.prefix else w.key for w in pool]
    keys = data.draw(vocabularies(bases))
    forms = data.draw(vocabularies(bases))
    vocab = WordSet()
    live: list[Word] = []
    # a history of adds and removes (each change recompiles; expand in between sees the change)
    for _ in range(data.draw(st.integers(1, 20))):
        w = data.draw(st.sampled_from(pool))
        if data.draw(st.integers(0, 2)) == 0:
            vocab.discard(w)
            live = [x for x in live if x != w]
        else:
            vocab.add(w)
            live = live if w in live else [*live, w]
        if data.draw(st.booleans()):
            assert vocab.expand(keys, forms) == expected(live, keys, forms)
    assert len(vocab) == len(live) and all(w in vocab for w in live)
    assert vocab.expand(keys, forms) == expected(live, keys, forms)
    assert vocab.expand(iter(keys), frozenset(forms)) == expected(live, keys, forms)


def test_expand_edge_cases() -> None:
    vocab = WordSet()
    assert vocab.expand(["a"], ["a"]) == {}
    word = Word("model", "model", "model", dist=1, anchored=True)
    prefix = Word("tra", "tra", "tra", prefix=True)
    exact = Word("the", "the", "the")  # neither fuzzy nor prefix: never expanded
    for w in (word, prefix, exact):
        vocab.add(w)
    assert vocab.expand([], []) == {}
    keys = ["models", "modle", "nodel", "mode", "model", "^model", "mdel", "modelling", "m" * 40]
    forms = ["transformer", "tra", "tr", "trb", "^tra", "attra"]
    found = vocab.expand(keys, forms)
    assert found == expected([word, prefix, exact], keys, forms)
    # anchored: not "nodel"; marked keys never fuzzily; a transposition is one edit
    assert list(found[word]) == ["models", "modle", "mode", "model", "mdel"]
    assert found[prefix] == {"transformer": 1.0, "tra": 1.0}
    vocab.discard(prefix)
    vocab.discard(prefix)  # no error
    assert prefix not in vocab and set(vocab.expand(keys, forms)) == {word}


def _doc(i: int, title: str) -> Document:
    return Document(f"p{i}", {"title": title})


def test_index_expansions_follow_adds_and_removes() -> None:
    """Through QueryIndex: a removed query's fuzzy and prefix words stop expanding, unless another
    query still holds them; a word added later expands in the next batch."""
    docs = [_doc(0, "Diffusion models for transformers"), _doc(1, "Difusion of knowlege in transformation")]
    stats = CorpusStats.from_documents(docs)
    keys = {k for d in docs for k in d.vocab_keys}
    forms = {f for d in docs for f in d.vocab_forms}
    index = QueryIndex(stats)
    index.add("a", compile_query("diffusion~1 transf*"))
    index.add("b", compile_query("transf*"))
    found = index.expansions(keys, forms)
    assert {w.form: set(v) for w, v in found.items()} == {
        "diffusion": {"diffusion", "difusion"}, "transf": {"transformers", "transformation"}}
    index.remove("a")
    assert {w.form for w in index.expansions(keys, forms)} == {"transf"}
    index.remove("b")
    assert index.expansions(keys, forms) == {}
    index.add("c", compile_query("knowledge~2"))
    found = index.expansions(keys, forms)
    assert {w.form for w in found} == {"knowledge"}  # its key is stemmed, as is the document's
    assert found == expected(list(found), list(keys), list(forms)) and len(next(iter(found.values()))) == 1
    assert index.candidates(docs[1]) == {"c"} and index.candidates(docs[0]) == set()
