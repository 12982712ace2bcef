"""digest.match.query: the AST of valid queries and the column of every error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import QueryError
from digest.match.query import And, MetaClause, Not, Or, TextClause, parse, vocabulary_words


def leaf(text: str) -> TextClause:
    root = parse(text).root
    assert isinstance(root, TextClause)
    return root


def test_words_are_implicitly_anded_and_or_binds_looser() -> None:
    root = parse("diffusion AND model OR flow -gan").root
    assert isinstance(root, Or)
    first, second = root.children
    assert isinstance(first, And) and [c.text for c in first.children] == ["diffusion", "model"]  # type: ignore[union-attr]
    assert isinstance(second, And)
    assert isinstance(second.children[1], Not)


def test_juxtaposed_plain_words_may_also_be_one_written_word() -> None:
    root = parse("self supervised").root
    assert isinstance(root, Or)
    both, phrase = root.children
    assert isinstance(both, And) and len(both.children) == 2
    assert isinstance(phrase, TextClause) and phrase.joins == ("selfsupervis",)
    assert isinstance(parse("self AND supervised").root, And)
    assert isinstance(parse("self supervised -gan").root, And)  # a NOT in the run: plain AND


def test_parentheses_not_and_explicit_and() -> None:
    root = parse("(diffusion OR flow) AND NOT gan").root
    assert isinstance(root, And)
    assert isinstance(root.children[0], Or)
    assert isinstance(root.children[1], Not) and root.children[1].column == 25


def test_lowercase_operators_are_words() -> None:
    """Lower-case "or" is the word, not the operator: both other words stay required (as a function
    word between plain words, "or" itself is not)."""
    root = parse("diffusion or flow").root
    assert isinstance(root, Or) and isinstance(root.children[0], And)
    assert [c.text for c in root.children[0].children] == ["diffusion", "flow"]  # type: ignore[union-attr]
    assert [c.text for c in parse("diffusion or flow AND x").root.children] == ["diffusion", "or", "flow", "x"]  # type: ignore[union-attr]


def test_fields_and_field_groups() -> None:
    assert leaf("ti:diffusion").fields == ("title",)
    assert leaf("abs:diffusion").fields == ("abstract",)
    assert leaf("tldr:diffusion").fields == ("tldr",)
    assert leaf("kw:diffusion").fields == ("keywords",)
    assert leaf("diffusion").fields == ("title", "tldr", "abstract", "keywords")
    group = parse("ti:(diffusion OR flow)").root
    assert isinstance(group, Or) and all(c.fields == ("title",) for c in group.children)  # type: ignore[union-attr]


def test_phrases_are_exact_and_hyphenated_words_are_phrases() -> None:
    quoted = leaf('"knowledge distillation"')
    assert quoted.quoted and [w.dist for w in quoted.words] == [0, 0]
    hyphen = leaf("self-supervised")
    assert not hyphen.quoted and [w.form for w in hyphen.words] == ["self", "supervised"]
    assert hyphen.joins == ("selfsupervis",)
    assert leaf('"self supervised"').joins == ("selfsupervis",)


def test_automatic_fuzziness_only_for_long_lowercase_words() -> None:
    assert leaf("distilation").words[0].dist == 1
    assert leaf("distilation").words[0].anchored
    assert leaf("model").words[0].dist == 0
    assert leaf("GAN").words[0].dist == 0 and leaf("GAN").words[0].acronym
    assert leaf("TRANSFORMER").words[0].dist == 0  # capitals: an acronym-like exact word
    assert leaf("learning").words[0].dist == 0  # its stem "learn" is too short to fuzz


def test_explicit_fuzzy_and_prefix() -> None:
    assert leaf("gan~").words[0].dist == 1
    assert leaf("diffusion~2").words[0].dist == 2
    assert leaf("distillation~0").words[0].dist == 0
    word = leaf("diffus*").words[0]
    assert word.prefix and word.form == "diffus"


def test_structured_fields() -> None:
    au = parse('au:"Yann LeCun"').root
    assert isinstance(au, MetaClause) and (au.value, au.initial) == ("lecun", "y")
    for text in ('au:"LeCun, Y."', 'au:"Y. LeCun"'):
        other = parse(text).root
        assert isinstance(other, MetaClause) and (other.value, other.initial) == ("lecun", "y")
    bare = parse("au:lecun").root
    assert isinstance(bare, MetaClause) and (bare.value, bare.initial) == ("lecun", "")
    cat = parse("cat:cs.*").root
    assert isinstance(cat, MetaClause) and cat.prefix and cat.value == "cs."
    src = parse("src:hf-daily").root
    assert isinstance(src, MetaClause) and src.value == "hfdaily"
    ident = parse("id:2401.01234v2").root
    assert isinstance(ident, MetaClause) and ident.value == "arxiv:2401.01234"


@pytest.mark.parametrize("text, column, reason", [
    ("", 1, "empty query"),
    ("   ", 1, "empty query"),
    ("(diffusion", 1, "unclosed parenthesis"),
    ("diffusion (flow OR gan", 11, "unclosed parenthesis"),
    ("diffusion)", 10, "unmatched ')'"),
    ('"knowledge distillation', 1, "unclosed quote"),
    ('diffusion "', 11, "unclosed quote"),
    ("diffusion OR", 11, "needs a term on both sides"),
    ("OR diffusion", 1, "needs a term on both sides"),
    ("diffusion AND OR flow", 11, "needs a term on both sides"),
    ("diffusion NOT", 11, "needs a term after it"),
    ("diffusion -", 11, "needs a term after it"),
    ("foo:bar", 1, "unknown field 'foo'"),
    ("diffusion xx:bar", 11, "unknown field 'xx'"),
    ("ti: diffusion", 1, "needs a value right after the colon"),
    ("diffusion~3", 10, "too large"),
    ("diffusion~x", 10, "bad fuzzy distance"),
    ("dif*fusion", 4, "only allowed at the end"),
    ("ab*", 1, "at least 3 letters"),
    ("()", 1, "empty parentheses"),
    ('""', 1, "nothing to match"),
    ("&&", 1, "no letters or digits"),
    ("au:lecun~", 9, "not supported"),
])
def test_errors_point_at_the_column(text: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(text)
    assert info.value.column == column, str(info.value)
    assert reason in info.value.reason
    assert info.value.query == text
    assert info.value.caret().splitlines()[1] == " " * (column - 1) + "^"


_ALPHABET = st.sampled_from(list('abcGAN -+*~()":12 ') + ["AND", "OR", "NOT", "ti:", "au:", "cat:", "zz:", "é", "\\"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=14).map("".join))
def test_random_strings_parse_or_raise_query_error_inside_the_text(text: str) -> None:
    try:
        parse(text)
    except QueryError as exc:
        assert 1 <= exc.column <= max(len(text), 1)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_arbitrary_unicode_never_raises_anything_else(text: str) -> None:
    try:
        parse(text)
    except QueryError as exc:
        assert 1 <= exc.column <= max(len(text), 1)


def test_words_the_corpus_does_not_know_tolerate_a_typo_from_five_letters() -> None:
    assert vocabulary_words("protien learing sound GAN distilation au:lecun") == frozenset(
        {"protien", "lear", "sound", "distilation"})  # long words: whether the corpus uses them often; acronyms never
    assert parse("distilation").root.words[0].dist == 1  # type: ignore[union-attr]
    assert parse("simulation", common={"simulation"}).root.words[0].dist == 0  # type: ignore[union-attr]
    typo = parse("protien", unknown={"protien"}).root
    assert isinstance(typo, TextClause) and typo.words[0].dist == 1 and typo.words[0].anchored
    assert leaf("protien").words[0].dist == 0  # without a vocabulary: exact, as before
    known = parse("sound", unknown={"protien"}).root  # a real corpus word stays exact (sound/round)
    assert isinstance(known, TextClause) and known.words[0].dist == 0
    for text in ("GANs", "CLIP", "gpt", "lora"):  # capitals and <= 4 letters: always exact
        root = parse(text, unknown={text.lower(), text.lower().rstrip("s")}).root
        assert isinstance(root, TextClause) and root.words[0].dist == 0, text
    quoted = parse('"protien folding"', unknown={"protien"}).root
    assert isinstance(quoted, TextClause) and quoted.words[0].dist == 0  # quotes mean exact
