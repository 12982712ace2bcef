"""digest.match.normalize: the same key for every way people write a word, and offsets for spans."""

from __future__ import annotations

import pytest

from digest.match.normalize import americanize, is_stop_word, normalize_word, stem, terms


def key(word: str) -> str:
    return normalize_word(word)[1]


@pytest.mark.parametrize("variants", [
    ("regularisation", "regularization", "Regularisation"),
    ("modelling", "modeling", "modelled", "modeled", "models", "model"),
    ("behaviour", "behavior", "Behaviours", "behaviors"),
    ("optimise", "optimize", "optimised", "optimized", "optimising", "optimizing"),
    ("colour", "color"),
    ("centre", "center"),
    ("analyse", "analyze", "analysed", "analyzed"),
    ("labelled", "labeled", "labelling", "labeling"),
    ("tumour", "tumor", "tumours"),
    ("haemoglobin", "hemoglobin"),
    ("catalogue", "catalog"),
    ("studies", "study", "studied"),
    ("embedded", "embed", "embedding"),
    ("networks", "network"),
    ("processes", "process"),
    ("GANs", "GAN", "gans"),
])
def test_spelling_and_inflection_variants_share_a_key(variants: tuple[str, ...]) -> None:
    assert len({key(v) for v in variants}) == 1, {v: key(v) for v in variants}


@pytest.mark.parametrize("a, b", [
    ("organ", "organization"), ("organ", "organise"), ("gan", "organ"), ("encoder", "encode"),
    ("analysis", "analyse"), ("promise", "promize"), ("noise", "noize"), ("expertise", "expertize"),
    ("string", "str"), ("need", "ne"), ("speed", "spe"), ("statistics", "states"), ("causal", "casual"),
])
def test_conservative_stemmer_keeps_different_words_apart(a: str, b: str) -> None:
    assert key(a) != key(b)


def test_british_ise_rule_spares_words_that_end_in_ise_anyway() -> None:
    for word in ("promise", "premise", "exercise", "otherwise", "pairwise", "noise", "raise", "arise",
                 "expertise", "advise", "revise", "treatise", "compromise"):
        assert "iz" not in americanize(word), word


def test_accents_case_and_lookalikes_fold() -> None:
    assert key("Łukasz") == key("lukasz")
    assert key("Schrödinger") == key("schrodinger")
    assert key("\u0412ERT") == key("BERT")  # Cyrillic capital VE inside a Latin word
    assert key("ＢＥＲＴ") == key("bert")  # full-width
    assert key("ﬁne") == key("fine")  # ligature
    assert normalize_word("α")[0] == "α"  # a Greek letter on its own stays Greek


def test_tex_and_markup_are_stripped_with_offsets_into_the_original() -> None:
    text = r"Bal\'azs on $\mathcal{O}(n)$ <i>diffusion</i> &amp; \emph{models}"
    found = terms(text, joined=False)
    assert [t.form for t in found] == ["balazs", "on", "o", "n", "diffusion", "models"]
    for t in found:
        assert text[t.start:t.end].lower().replace("\\'", "").startswith(t.form[:1])
    diffusion = next(t for t in found if t.form == "diffusion")
    assert text[diffusion.start:diffusion.end] == "diffusion"


def test_hyphen_space_and_joined_forms_all_carry_the_joined_key() -> None:
    joined_keys = []
    for text in ("self-supervised learning", "self supervised learning", "selfsupervised learning"):
        keys = {t.key for t in terms(text)}
        joined_keys.append(key("selfsupervised") in keys)
    assert joined_keys == [True, True, True]
    split = {t.key for t in terms("self-supervised")}
    assert {key("self"), key("supervised")} <= split


def test_joined_terms_span_both_tokens_and_skip_stop_words() -> None:
    text = "a data set in formation"
    joined = [t for t in terms(text) if t.width == 2]
    assert [(t.form, text[t.start:t.end]) for t in joined] == [("dataset", "data set")]


def test_a_particle_hyphenated_to_a_word_glues_as_written() -> None:
    # "trade-off" is "tradeoff"; "trade off", "in-context" and "in formation" stay apart
    assert key("tradeoff") in {t.key for t in terms("a trade-off between speed and size")}
    assert key("followup") in {t.key for t in terms("a follow\u2010up study")}
    assert key("tradeoff") not in {t.key for t in terms("trade off")}
    assert key("incontext") not in {t.key for t in terms("in-context learning")}
    assert key("information") not in {t.key for t in terms("in formation")}


def test_positions_count_tokens() -> None:
    found = terms("Knowledge distillation, for GANs!", joined=False)
    assert [t.pos for t in found] == [0, 1, 2, 3]
    assert [(t.start, t.end) for t in found] == [(0, 9), (10, 22), (24, 27), (28, 32)]


def test_stem_leaves_short_words_and_numbers_alone() -> None:
    assert stem("gas") == "gas"
    assert stem("3d") == "3d"
    assert {t.key for t in terms("GPT-4")} >= {"gpt", "4", "gpt4"}


def test_stop_words() -> None:
    assert is_stop_word("The") and is_stop_word("using")
    assert not is_stop_word("diffusion")
