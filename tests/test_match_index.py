"""digest.match.index: the percolator returns exactly what brute-force evaluation returns."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.match import CorpusStats, Document, QueryIndex, compile_query, match_all
from digest.match.score import MatchResult

# A small vocabulary full of near-misses: typos, plurals, joined/split forms, British spellings,
# acronyms inside other words and in other cases (GAN, GaN), shared prefixes.
VOCAB = ["diffusion", "diffusions", "difusion", "diffuse", "model", "models", "modelling", "self", "supervised",
         "selfsupervised", "gan", "gans", "organ", "organization", "graph", "graphs", "knowledge", "knowlege",
         "distillation", "distilation", "transformer", "transformers", "regularisation", "regularization",
         "data", "set", "dataset", "learning", "embedding", "embeddings", "protein", "proteins", "the",
         "GAN", "GANs", "GaN", "AlGaN", "GAN4"]
AUTHORS = ["Yann LeCun", "X. LeCun", "Łukasz Kaiser", "Léon Bottou", "Ada Lovelace", "Geoffrey Hinton"]
CATEGORIES = ["cs.LG", "cs.CV", "stat.ML", "q-bio.BM"]
FIELDS = ["", "", "", "ti:", "abs:", "kw:", "tldr:"]

word = st.sampled_from(VOCAB)


@st.composite
def leaves(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 10))
    w = draw(word)
    if kind == 0:
        return f"{draw(st.sampled_from(FIELDS))}{w}~{draw(st.integers(0, 2))}"
    if kind == 1:
        return f"{w[:draw(st.integers(3, len(w)))]}*"
    if kind == 2:
        return '"' + " ".join(draw(st.lists(word, min_size=2, max_size=3))) + '"'
    if kind == 3:
        return f"{draw(word)}-{draw(word)}"
    if kind == 4:
        return "au:" + draw(st.sampled_from(["lecun", '"Y. LeCun"', '"Lukasz Kaiser"', "bottou", "hinton"]))
    if kind == 5:
        return "cat:" + draw(st.sampled_from(["cs.LG", "cs.*", "stat", "q-bio.BM"]))
    if kind == 6:
        return "src:" + draw(st.sampled_from(["arxiv", "hf-daily", "arxiv*"]))
    if kind == 7:
        return w.upper()
    if kind == 8:  # compounds that documents also write as one word or hyphenated
        compound = draw(st.sampled_from(["self supervised", "data set", "knowledge distillation", "diffusion model",
                                            "GAN model", "GaN model"]))
        return draw(st.sampled_from([f'"{compound}"', compound, compound.replace(" ", "-")]))
    return f"{draw(st.sampled_from(FIELDS))}{w}"


queries = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"{t[0]} {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} OR {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} AND NOT ({t[1]})"),
        inner.map(lambda q: f"NOT ({q})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}) OR -({t[1]})"),
    ),
    max_leaves=4,
)


@st.composite
def papers(draw: st.DrawFn) -> dict[str, Any]:
    def text(max_size: int) -> str:
        words = draw(st.lists(word, max_size=max_size))
        seps = draw(st.lists(st.sampled_from([" ", " ", "-", ", "]), min_size=len(words), max_size=len(words)))
        return "".join(w + s for w, s in zip(words, seps)).strip(" ,-")

    return {
        "texts": {"title": text(6), "abstract": text(14), "tldr": text(4) if draw(st.booleans()) else "",
                  "keywords": "; ".join(draw(st.lists(word, max_size=2)))},
        "authors": draw(st.lists(st.sampled_from(AUTHORS), max_size=3, unique=True)),
        "categories": draw(st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True)),
        "sources": draw(st.sampled_from([["arxiv-rss", "arXiv"], ["hf-daily", "Hugging Face"], []])),
    }


def doc_of(p: dict[str, Any], i: int) -> Document:
    return Document(f"p{i}", p["texts"], p["authors"], p["categories"], p["sources"], [f"arxiv:2501.0000{i}"])


def as_dict(results: list[tuple[Any, MatchResult]]) -> dict[Any, tuple[float, str]]:
    return {k: (r.score, json.dumps(r.explanation, sort_keys=True)) for k, r in results}


def _compile_all(texts: list[str]) -> dict[int, Any]:
    return {i: compile_query(t) for i, t in enumerate(texts)}


def assert_same(got: list[tuple[Any, float]], want: list[tuple[Any, MatchResult]]) -> None:
    """Same keys, scores within 1e-9, best first."""
    assert {k for k, _ in got} == {k for k, _ in want}
    scores = dict(got)
    for k, r in want:
        assert abs(scores[k] - r.score) <= 1e-9, (k, scores[k], r.score)
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=1, max_size=25), st.lists(papers(), min_size=1, max_size=6),
       st.sampled_from([0.0, 0.5, 1.0]))
def test_index_equals_brute_force(texts: list[str], ps: list[dict[str, Any]], threshold: float) -> None:
    compiled = _compile_all(texts)
    stats = CorpusStats.from_documents(doc_of(p, i) for i, p in enumerate(ps))
    index = QueryIndex(stats)
    for key, q in compiled.items():
        index.add(key, q)
    # separate documents: the index presets fuzzy expansions, brute force computes its own
    docs = [doc_of(p, i) for i, p in enumerate(ps)]
    batch = index.match_batch(docs, stats, threshold)
    for i, p in enumerate(ps):
        want = match_all(compiled, doc_of(p, i), stats, threshold)
        assert_same(batch[i], want)
        # explanations are built on demand, for stored matches: the same as brute force's
        assert as_dict([(k, index.explain(k, docs[i], stats)) for k, _ in batch[i]]) == as_dict(want)
        assert as_dict(index.match(doc_of(p, i), stats, threshold)) == as_dict(want)
        assert set(k for k, _ in want) <= index.candidates(doc_of(p, i))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=2, max_size=16), st.lists(papers(), min_size=1, max_size=4), st.data())
def test_index_after_removals_and_replacements(texts: list[str], ps: list[dict[str, Any]], data: st.DataObject) -> None:
    compiled = _compile_all(texts)
    index = QueryIndex()
    for key, q in compiled.items():
        index.add(key, q)
    removed = data.draw(st.sets(st.sampled_from(sorted(compiled))))
    for key in removed:
        index.remove(key)
        del compiled[key]
    replaced = data.draw(st.sampled_from(sorted(compiled))) if compiled else None
    if replaced is not None:
        compiled[replaced] = compile_query(data.draw(queries))
        index.add(replaced, compiled[replaced])
    assert len(index) == len(compiled)
    stats = CorpusStats.from_documents(doc_of(p, i) for i, p in enumerate(ps))
    thresholds = {k: 0.0 for k in compiled}
    batch = index.match_batch([doc_of(p, i) for i, p in enumerate(ps)], stats, thresholds)
    for i, p in enumerate(ps):
        assert_same(batch[i], match_all(compiled, doc_of(p, i), stats, thresholds))


def test_index_prunes_and_still_finds() -> None:
    texts = ["diffusion", "organ", "GAN", "knowlege distilation", "au:lecun", "cat:cs.*", "transform*"]
    index = QueryIndex()
    for i, t in enumerate(texts):
        index.add(t, compile_query(t))
    doc = Document("p", {"title": "Knowledge Distillation for GANs", "abstract": "transformers help"},
                   ["Yann LeCun"], ["stat.ML"])
    assert index.candidates(doc) == {"GAN", "knowlege distilation", "au:lecun", "transform*"}
    found = dict(index.match(doc, CorpusStats(), 0.0))
    assert set(found) == {"GAN", "knowlege distilation", "au:lecun", "transform*"}
    index.remove("GAN")
    assert "GAN" not in dict(index.match(doc, CorpusStats(), 0.0))


def test_pure_not_queries_are_checked_on_every_paper() -> None:
    index = QueryIndex()
    index.add("not-gan", compile_query("NOT gan"))
    doc = Document("p", {"title": "Diffusion"})
    assert index.candidates(doc) == {"not-gan"}
    assert [k for k, _ in index.match(doc, CorpusStats(), 0.0)] == ["not-gan"]


def test_thresholds_per_query() -> None:
    index = QueryIndex()
    index.add(1, compile_query("diffusion"))
    index.add(2, compile_query("diffusion"))
    doc = Document("p", {"abstract": "diffusion once"})
    assert [k for k, _ in index.match(doc, CorpusStats(), {1: 0.1})] == [1]  # 2 keeps the default


def test_fuzzy_words_never_accept_phrase_keys() -> None:
    """A batch looks two-word phrases up under "a b" keys: "trad off" (from "trade off") is one
    edit from "tradeoff", but no fuzzy word may take it for a word of the paper."""
    stats = CorpusStats.from_documents([])
    index = QueryIndex(stats)
    index.add("fuzzy", compile_query("tradeoffs"))
    index.add("phrase", compile_query('"trade off"'))
    doc = Document("p1", {"title": "To trade off precision and recall"})
    got = index.match_batch([doc], stats, 0.0)[0]
    assert {k for k, _ in got} == {k for k, _ in match_all(index.queries, doc, stats, 0.0)} == {"phrase"}


def test_bulk_paths_give_the_scalar_scores_bit_for_bit() -> None:
    """The paths of digest.match.clauses that leave the common case: a fuzzy word with two accepted
    keys in one paper (hits summed in position order, score.py's order), a fuzzy phrase where a
    near variant of a word occurs (scalar where adjacent or joined, exact pair elsewhere), a prefix word
    over several forms, a phrase present both as a pair and joined."""
    texts = ["constraint~", "ti:constraint~", "diffusion-models", "constraint-rules", "diffus*",
             '"self supervised"', "constraint~ diffusion", "abs:diffusion~ constraint", "non-linear~"]
    stats = CorpusStats.from_documents([])
    index = QueryIndex(stats)
    for t in texts:
        index.add(t, compile_query(t))
    docs = [Document("p1", {"title": "Constraint solving under constrain rules, constraint rules",
                            "abstract": "we constrain the constraint, constraints and constraining sets"}),
            Document("p2", {"title": "Difusion models and diffusion model priors",
                            "abstract": "diffusion models; diffuse diffusers"}),
            Document("p3", {"title": "Self supervised selfsupervised self-supervised learning"}),
            Document("p4", {"abstract": "diffusion constrain constraint diffusion"}),
            # "non" accepts "on" here, yet the phrase matches through the joined word alone
            Document("p5", {"title": "A nonlinear model on graphs"})]
    got = index.match_batch(docs, stats, 0.0)
    for i, doc in enumerate(docs):
        fresh = Document(doc.paper_id, {name: f.text for name, f in doc.fields.items()})
        want = sorted(((k, r.score) for k, r in match_all(index.queries, fresh, stats, 0.0)), key=lambda kr: kr[0])
        assert sorted(got[i]) == want  # the very same floats


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 6))), st.integers(1, 400))
def test_distinct_rows_in_blocks_equals_sorting(rows: list[tuple[int, int]], cells: int) -> None:
    import numpy as np

    from digest.match.plans import distinct_rows

    g = np.array([r[0] for r in rows], np.int64)
    p = np.array([r[1] for r in rows], np.int64)
    got_g, got_p = distinct_rows(g, p, 41, 7, cells)
    assert list(zip(got_g.tolist(), got_p.tolist())) == sorted(set(rows))


def test_match_batch_turns_the_cycle_collector_back_on() -> None:
    import gc

    index = QueryIndex()
    index.add("q", compile_query("diffusion"))
    assert gc.isenabled()
    index.match_batch([Document("p", {"title": "Diffusion"})], CorpusStats(), 0.0)
    assert gc.isenabled()


def test_a_papers_matches_read_as_a_sequence_of_pairs() -> None:
    from digest.match.index import Ranked

    ranked = Ranked(["a", ("b", 2)], [2.5, 1.0])
    assert len(ranked) == 2 and ranked[0] == ("a", 2.5) and ranked[-1] == (("b", 2), 1.0)
    assert list(ranked) == [("a", 2.5), (("b", 2), 1.0)] == ranked
    assert dict(ranked) == {"a": 2.5, ("b", 2): 1.0} and ranked[1:] == [(("b", 2), 1.0)]
    assert ("a", 2.5) in ranked and Ranked([], []) == [] and not Ranked([], [])


@pytest.mark.parametrize("query", ["knowledge-distillation", "NOT (knowledge-distillation)"])
@pytest.mark.parametrize("keywords", ["knowledge; distilation", "knowledge distilation"])
def test_a_fuzzy_phrase_met_only_in_a_near_variant_is_found_by_the_index(query: str, keywords: str) -> None:
    """A batch where no paper holds the phrase's exact pair but one holds a near variant
    ("distilation"): the variant is still scored (hypothesis found the index disagreeing)."""
    empty = {"title": "", "abstract": "", "tldr": "", "keywords": ""}
    ps = [{"texts": dict(empty, keywords=keywords), "authors": [], "categories": [], "sources": ["arxiv-rss"]},
          {"texts": dict(empty, abstract="diffusion"), "authors": [], "categories": [], "sources": ["arxiv-rss"]}]
    compiled = _compile_all([query])
    stats = CorpusStats.from_documents(doc_of(p, i) for i, p in enumerate(ps))
    index = QueryIndex(stats)
    index.add(0, compiled[0])
    for i, p in enumerate(ps):
        want = match_all(compiled, doc_of(p, i), stats, 0.0)
        (got,) = index.match_batch([doc_of(p, i)], stats, 0.0)
        assert_same(got, want)
    assert bool(match_all(compiled, doc_of(ps[0], 0), stats, 0.0)) == (not query.startswith("NOT"))
