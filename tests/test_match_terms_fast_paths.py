"""The tokenizer's fast paths give exactly what the general path gives.

:func:`digest.match.normalize.terms` reads a text without a backslash with a simpler pattern, takes a
one-space gap between tokens without asking _JOIN_GAP, and builds terms without the named tuple's
constructor; :class:`digest.match.document.FieldText` asks ``is_acronym`` only about tokens with a
capital letter. Here the straightforward versions (written out below, as the code read before those
paths) are compared with them on generated texts (Hypothesis) and on real abstracts and titles.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.match.document import FieldText
from digest.match.normalize import _JOIN_GAP, _TOKEN_RE, STOP_WORDS, Term, join_forms, normalize_word, terms
from digest.match.query import acronym_key, is_acronym
from digest.sources import arxiv_snapshot


def reference_terms(text: str, *, joined: bool = True) -> list[Term]:
    out: list[Term] = []
    for m in _TOKEN_RE.finditer(text):
        word = m.group("w")
        if word is None:
            continue
        form, key = normalize_word(word)
        if key:
            out.append(Term(key, form, len(out), m.start(), m.end()))
    if joined:
        for i in range(len(out) - 1):
            a, b = out[i], out[i + 1]
            gap = _JOIN_GAP.fullmatch(text, a.end, b.start)
            if gap and a.form not in STOP_WORDS and (b.form not in STOP_WORDS or not gap.group().isspace()):
                form, key = join_forms(a.form, b.form)
                out.append(Term(key, form, a.pos, a.start, b.end, 2))
    return out


def reference_field(text: str) -> tuple[dict[str, list[Term]], dict[str, list[Term]], list[str], list[int]]:
    all_terms = reference_terms(text)
    seq = [t for t in all_terms if t.width == 1]
    postings: dict[str, list[Term]] = {}
    form_postings: dict[str, list[Term]] = {}
    for t in all_terms:
        postings.setdefault(t.key, []).append(t)
        form_postings.setdefault(t.form, []).append(t)
    capitals = [is_acronym(text[t.start:t.end]) for t in seq]
    for t in all_terms[:]:
        if capitals[t.pos] if t.width == 1 else capitals[t.pos] and (
                capitals[t.pos + 1] or seq[t.pos + 1].form.isdigit()):
            acronym = t._replace(key=acronym_key(t.key))
            postings.setdefault(acronym.key, []).append(acronym)
            all_terms.append(acronym)
    return postings, form_postings, [t.key for t in all_terms], [t.pos for t in all_terms]


def _same(text: str) -> None:
    assert terms(text) == reference_terms(text)
    assert terms(text, joined=False) == reference_terms(text, joined=False)
    assert all(type(t) is Term for t in terms(text))
    field = FieldText(text)
    postings, form_postings, keys, positions = reference_field(text)
    assert field.postings == postings and list(field.postings) == list(postings)
    assert field.form_postings == form_postings and list(field.form_postings) == list(form_postings)
    assert (field.term_keys, field.term_positions) == (keys, positions)
    assert field.seq == reference_terms(text, joined=False)


# Pieces the tokenizer treats specially: gaps, TeX, markup, entities, apostrophes, capitals, digits.
_PIECES = st.sampled_from([
    " ", "  ", "-", " - ", "\u2010", "\u2013", "\u2014", "\n", "\t", "_", ".", ",", "'", "’", "'s", "\\", "{", "}",
    "$", "\\alpha", "\\'{e}", "{\\o}", "\\mathcal", "\\L", "<i>", "</i>", "<sub>", "&amp;", "&#x3b1;", "&nbsp;",
    "GAN", "GANs", "GPT", "4", "2024", "COVID", "19", "LLMs'", "BERT's", "3D", "U.S.", "self", "supervised",
    "in", "the", "of", "trade", "off", "follow", "up", "naïve", "Ørsted", "straße", "ﬁ", "кот", "ΑΒΓ", "α", "x",
    "Learning", "networks", "models", "embeddings", "studies", "ied", "ing",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_generated_texts(text: str) -> None:
    _same(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text(text: str) -> None:
    _same(text)


def test_real_abstracts_and_titles(data_dir: Path) -> None:
    snapshot = data_dir / "corpus" / "arxivSpider_mnbvc_kaggle-arxiv-metadata-oai-snapshot_first200.jsonl"
    with snapshot.open("rb") as stream:
        records = list(arxiv_snapshot.iter_records(stream))
    assert len(records) == 200
    for r in records:
        _same(r.title)
        _same(r.abstract)


@pytest.mark.parametrize("text", ["", " ", "a", "GPT-4 and COVID-19", "self-supervised trade-off in formation",
                                  "\\'{E}cole \\alpha-divergence $\\beta$", "H<sub>2</sub>O &amp; co"])
def test_small_cases(text: str) -> None:
    _same(text)
