"""digest.match.score (+ document, stats, validate): what users judge the matcher by."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import QueryError
from digest.match import (DEFAULT_THRESHOLD, CorpusStats, Document, compile_query, highlight,
                          validate_for_save)
from digest.match.document import word_similarity
from digest.match.index import QueryIndex
from digest.match.query import Word
from digest.match.run import load_stats, match_new
from digest.match.score import TYPO_RATIO, MatchResult
from digest.match.search import _hits, search
from digest.models import Paper, PaperRecord, Via
from digest.store import Store


def paper(title: str, abstract: str = "", *, authors: tuple[str, ...] = ("A. Author",), pid: str = "arxiv:2501.00001",
          categories: tuple[str, ...] = ("cs.LG",), keywords: tuple[str, ...] = (), tldr: str | None = None) -> Paper:
    via = Via("arxiv-rss", "arxiv-cs", pid, datetime(2025, 1, 1, tzinfo=timezone.utc))
    return Paper(id=pid, title=title, authors=authors, abstract=abstract, categories=categories,
                 keywords=keywords, tldr=tldr, arxiv_id=pid.removeprefix("arxiv:"), sources=(via,))


@pytest.fixture(scope="module")
def corpus_stats(data_dir: Path) -> CorpusStats:
    """Document frequencies of ~1,000 real arXiv papers (titles and abstracts)."""
    feed = json.loads((data_dir / "corpus" / "rss_cache_2025-04-08_3e69c89781.json").read_text("utf-8"))
    docs = [Document("x", {"title": e["title"], "abstract": e["summary"].split("Abstract:", 1)[-1]})
            for f in feed.values() for e in f["entries"]]
    return CorpusStats.from_documents(docs)


def run(query: str, p: Paper, stats: CorpusStats | None = None) -> MatchResult | None:
    return compile_query(query).evaluate(Document.from_paper(p), stats or CorpusStats())


KD = paper("Knowledge Distillation for Compact Vision Transformers",
           "We distil a large teacher into a small student network.")


def test_typos_find_knowledge_distillation(corpus_stats: CorpusStats) -> None:
    res = run("knowlege distilation", KD, corpus_stats)
    assert res is not None and res.score >= DEFAULT_THRESHOLD
    clauses = res.explanation["clauses"]
    assert {c["kind"] for c in clauses} == {"fuzzy"}
    assert {"Knowledge", "Distillation"} <= {m for c in clauses for m in c["matched"]}
    assert all(0.8 < c["similarity"] < 1.0 for c in clauses)


def test_exact_beats_fuzzy(corpus_stats: CorpusStats) -> None:
    exact = run("knowledge distillation", KD, corpus_stats)
    fuzzy = run("knowlege distilation", KD, corpus_stats)
    assert exact is not None and fuzzy is not None
    assert exact.score > fuzzy.score


def test_british_spelling_finds_american_and_back(corpus_stats: CorpusStats) -> None:
    us = paper("Spectral Regularization of Neural Networks")
    uk = paper("Spectral Regularisation of Neural Networks")
    for q in ("regularisation", "regularization", "regularise"):
        for p in (us, uk):
            res = run(q, p, corpus_stats)
            if q == "regularise":  # the verb stem differs from the noun: -ize vs -ization
                assert res is None
            else:
                assert res is not None and res.score >= DEFAULT_THRESHOLD, (q, p.title)


@pytest.mark.parametrize("query", ["self supervised", "self-supervised", "selfsupervised", '"self supervised"'])
@pytest.mark.parametrize("title", ["Self-Supervised Learning of Speech", "Self Supervised Learning of Speech",
                                   "Selfsupervised Learning of Speech"])
def test_self_supervised_in_every_form(query: str, title: str, corpus_stats: CorpusStats) -> None:
    res = run(query, paper(title), corpus_stats)
    assert res is not None and res.score >= DEFAULT_THRESHOLD


def test_acronym_matches_whole_words_only(corpus_stats: CorpusStats) -> None:
    organ = paper("Organ Segmentation with Organization-Aware Priors", "Organs and organisms.")
    assert run("GAN", organ, corpus_stats) is None
    assert run("GANs", organ, corpus_stats) is None
    gan = paper("Training GANs Without Mode Collapse")
    res = run("GAN", gan, corpus_stats)
    assert res is not None and res.explanation["clauses"][0]["matched"] == ["GANs"]


def test_acronym_in_capitals_matches_only_tokens_in_capitals(corpus_stats: CorpusStats) -> None:
    gallium = paper("AlGaN/GaN Heterostructures for High-Power Transistors", "GaN devices on silicon.")
    based = paper("GAN-based Super-Resolution of Satellite Images", "A generative adversarial network.")
    plural = paper("Training GANs Without Mode Collapse")
    organ = paper("Organ Segmentation with Organization-Aware Priors", "Organs and organisms.")
    for query in ("GAN", "GANs", '"GAN"', "title:GAN"):
        assert run(query, gallium, corpus_stats) is None, query
        assert run(query, organ, corpus_stats) is None, query
        assert run(query, based, corpus_stats) is not None, query
        assert run(query, plural, corpus_stats) is not None, query
    # lower case keeps matching regardless of how the paper writes it
    assert run("gan", gallium, corpus_stats) is not None
    assert run("gan", based, corpus_stats) is not None
    assert run("gan", organ, corpus_stats) is None
    # digits are allowed in an acronym
    gpt = paper("Probing GPT4 for Arithmetic")
    assert run("GPT4", gpt, corpus_stats) is not None
    assert run("GPT4", paper("Probing Gpt4 for Arithmetic"), corpus_stats) is None


def test_acronym_in_a_phrase(corpus_stats: CorpusStats) -> None:
    gan = paper("Stable GAN Training with Spectral Normalization")
    gallium = paper("Stable GaN Training Data for Epitaxy Models")
    res = run('"GAN training"', gan, corpus_stats)
    assert res is not None and res.explanation["clauses"][0]["matched"] == ["GAN Training"]
    assert run('"GAN training"', gallium, corpus_stats) is None
    assert run('"gan training"', gallium, corpus_stats) is not None
    assert run("GAN training", gallium, corpus_stats) is None
    assert run("GAN training", gan, corpus_stats) is not None
    # not glued through the joined alternative either
    assert run("GAN based", paper("A GaN-based Amplifier"), corpus_stats) is None
    assert run("GAN based", paper("A GAN-based Upsampler"), corpus_stats) is not None


def test_acronym_stats_and_validation(corpus_stats: CorpusStats) -> None:
    docs = [Document("1", {"title": "GAN training"}), Document("2", {"title": "GaN wafers"})]
    stats = CorpusStats.from_documents(docs)
    assert stats.df["^gan"] == 1 and stats.df["gan"] == 2
    assert CorpusStats.from_dict(stats.to_dict()) == stats
    # stats counted before marker keys existed fall back to the plain key
    assert CorpusStats(10, {"gan": 3}).fraction("^gan") == 0.3
    validate_for_save("GAN AND cat:cs.LG", corpus_stats)
    validate_for_save('"GAN training"', corpus_stats)
    # acronyms are never fuzzy, and fuzzy words never meet acronym marker keys
    assert run("GAM", paper("Training GANs Without Mode Collapse"), corpus_stats) is None
    fuzzy = run("gann~1", paper("Training GANs Without Mode Collapse"), corpus_stats)
    assert fuzzy is not None and fuzzy.explanation["clauses"][0]["matched"] == ["GANs"]


def test_short_words_are_never_fuzzy(corpus_stats: CorpusStats) -> None:
    assert run("graph", paper("Grape Yield Prediction"), corpus_stats) is None
    assert run("organ", paper("Organization of Memory"), corpus_stats) is None


def test_plurals_and_inflections(corpus_stats: CorpusStats) -> None:
    res = run("embedding", paper("Embedded Representations and Their Embeddings"), corpus_stats)
    assert res is not None and len(res.explanation["clauses"][0]["spans"]) == 2


@pytest.mark.parametrize("query", ['au:"Yann LeCun"', 'au:"LeCun, Y."', 'au:"Y. LeCun"', "au:lecun", "au:LeCun"])
def test_author_forms_find_the_same_person(query: str) -> None:
    p = paper("Energy-Based Models", authors=("Yann LeCun", "Léon Bottou"))
    res = run(query, p)
    assert res is not None and res.explanation["clauses"][0]["matched"] == ["Yann LeCun"]
    assert res.score >= DEFAULT_THRESHOLD


def test_ascii_spelling_of_a_name_with_diacritics() -> None:
    p = paper("Attention Is All You Need", authors=("Łukasz Kaiser", "Léon Bottou"))
    assert run('au:"Lukasz Kaiser"', p) is not None
    assert run("au:bottou", p) is not None


def test_different_initials_are_different_people() -> None:
    p = paper("Energy-Based Models", authors=("X. LeCun",))
    assert run('au:"Y. LeCun"', p) is None
    assert run('au:"Yann LeCun"', p) is None
    assert run("au:lecun", p) is not None


def test_title_beats_abstract_and_passing_mention_stays_below_threshold(corpus_stats: CorpusStats) -> None:
    in_title = paper("Diffusion Models for Protein Design", "We design proteins.")
    in_abstract = paper("Protein Design at Scale", "We compare with diffusion models and other baselines.")
    title_hit = run("diffusion", in_title, corpus_stats)
    passing = run("diffusion", in_abstract, corpus_stats)
    assert title_hit is not None and passing is not None
    assert title_hit.score >= DEFAULT_THRESHOLD > passing.score
    # even the rarest word mentioned once in an abstract stays below
    rare = paper("Protein Design", "We mention zygomorphic flowers once.")
    rare_hit = run("zygomorphic", rare, corpus_stats)
    assert rare_hit is not None and rare_hit.score < DEFAULT_THRESHOLD


def test_field_weights_order(corpus_stats: CorpusStats) -> None:
    scores = {}
    for field, p in {"title": paper("Sparse Autoencoders"), "tldr": paper("X", tldr="Sparse autoencoders."),
                     "keywords": paper("X", keywords=("sparse autoencoders",)),
                     "abstract": paper("X", "Sparse autoencoders.")}.items():
        res = run("autoencoders", p, corpus_stats)
        assert res is not None and res.explanation["clauses"][0]["field"] == field
        scores[field] = res.score
    assert scores["title"] > scores["tldr"] > scores["keywords"] > scores["abstract"]


def test_rare_terms_weigh_more(corpus_stats: CorpusStats) -> None:
    common = run("model", paper("A Model of Models"), corpus_stats)
    rare = run("zygomorphic", paper("A Zygomorphic Flower"), corpus_stats)
    assert common is not None and rare is not None and rare.score > common.score


def test_phrase_needs_adjacency_and_proximity_helps(corpus_stats: CorpusStats) -> None:
    apart = paper("Neural Methods for Radiance of Field Lines")
    assert run('"radiance field"', apart, corpus_stats) is None
    near = paper("Neural Radiance Fields", "Radiance fields for scenes.")
    far = paper("Neural Radiance Methods for Vector Fields", "Radiance and some fields.")
    a, b = run("radiance field", near, corpus_stats), run("radiance field", far, corpus_stats)
    assert a is not None and b is not None and a.score > b.score


def test_not_filters_and_fields_restrict(corpus_stats: CorpusStats) -> None:
    p = paper("Diffusion Models for Audio", "We study speech.")
    assert run("diffusion -speech", p, corpus_stats) is None
    assert run("diffusion NOT (speech OR music)", p, corpus_stats) is None
    assert run("diffusion -image", p, corpus_stats) is not None
    assert run("abs:diffusion", p, corpus_stats) is None
    assert run("ti:diffusion", p, corpus_stats) is not None


def test_categories_sources_and_ids() -> None:
    p = paper("Diffusion Models", categories=("cs.LG", "stat.ML"), pid="arxiv:2501.01234")
    assert run("cat:cs.LG diffusion", p) is not None
    assert run("cat:cs.* diffusion", p) is not None
    assert run("cat:cs diffusion", p) is not None
    assert run("cat:cs.CV diffusion", p) is None
    assert run("src:arxiv diffusion", p) is not None
    assert run("src:arxiv-cs diffusion", p) is not None
    assert run("src:hf-daily diffusion", p) is None
    assert run("id:2501.01234v3", p) is not None
    # a category filter does not dilute the text score
    with_cat, alone = run("cat:cs.LG diffusion", p), run("diffusion", p)
    assert with_cat is not None and alone is not None and with_cat.score == alone.score


def test_explanation_spans_point_into_the_original_field_text(corpus_stats: CorpusStats) -> None:
    title = "On $\\mathcal{O}(n)$ Self-Supervised GANs"
    p = paper(title)
    res = run("self-supervised GAN", p, corpus_stats)
    assert res is not None
    spans = [tuple(s) for c in res.explanation["clauses"] for s in c["spans"]]
    assert {title[s:e] for s, e in spans} == {"Self-Supervised", "GANs"}
    json.dumps(res.explanation)  # storable as JSON
    pieces = highlight(title, [list(s) for s in spans])
    assert "".join(t for t, _ in pieces) == title
    assert [t for t, on in pieces if on] == ["Self-Supervised", "GANs"]


def test_highlight_merges_overlaps_and_clips() -> None:
    assert highlight("abcdef", [[1, 3], [2, 4], [5, 99]]) == [("a", False), ("bcd", True), ("e", False),
                                                             ("f", True)]
    assert highlight("abc", []) == [("abc", False)]


def test_corpus_stats_round_trip_and_update() -> None:
    docs = [Document.from_paper(paper("Diffusion Models")), Document.from_paper(paper("Flow Models"))]
    stats = CorpusStats.from_documents(docs)
    assert stats.doc_count == 2 and stats.df["model"] == 2 and stats.df["diffusion"] == 1
    again = CorpusStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert again == stats
    again.update(Document.from_paper(paper("Diffusion Again")))
    assert again.df["diffusion"] == 2 and again != stats


def test_cached_scores_follow_stats_updates() -> None:
    doc = Document.from_paper(paper("Zeta Functions"))
    stats = CorpusStats()
    q = compile_query("zeta")
    before = q.score(doc, stats)
    for _ in range(60):
        stats.update(Document.from_paper(paper("Zeta Everywhere")))
    assert q.score(doc, stats) != before


@pytest.mark.parametrize("text, column, reason", [
    ("NOT gan", 1, "only says what to exclude"),
    ("diffusion OR -gan", 14, "only says what to exclude"),
    ("the", 1, "stop words"),
    ('"of the"', 1, "stop words"),
    ("using OR diffusion", 1, "stop words"),
    ("cat:foo.bar diffusion", 5, "no category"),
    ("diffusion src:nowhere", 15, "no source"),
])
def test_validate_for_save_refuses_useless_queries(text: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as info:
        validate_for_save(text, CorpusStats())
    assert info.value.column == column and reason in info.value.reason


def test_validate_for_save_accepts_good_queries_and_estimates_fractions(corpus_stats: CorpusStats) -> None:
    for text in ("diffusion", "cat:cs.LG diffusion", "cat:cs.*", "cat:hep-th", "src:arxiv", 'au:"Y. LeCun"',
                 "the diffusion", "knowlege distilation"):
        validate_for_save(text, corpus_stats)
    validate_for_save("src:my-lab", corpus_stats, sources=["my-lab"])
    with pytest.raises(QueryError, match="would match about"):
        validate_for_save("model", corpus_stats)
    with pytest.raises(QueryError, match="would match about"):
        validate_for_save("diffusion OR model", corpus_stats)


def test_typos_of_short_words_the_corpus_does_not_know(corpus_stats: CorpusStats) -> None:
    def hit(query: str, p: Paper) -> MatchResult | None:
        return compile_query(query, corpus_stats).evaluate(Document.from_paper(p), corpus_stats)

    for query, title in [("protien", "Protein Folding with Language Models"),
                         ("federated learing", "Federated Learning on Edge Devices")]:
        res = hit(query, paper(title))
        assert res is not None and res.score >= DEFAULT_THRESHOLD, query
        assert "fuzzy" in {c["kind"] for c in res.explanation["clauses"]}
    assert run("protien", paper("Protein Folding")) is None  # no statistics: no vocabulary, exact
    # real corpus words stay exact, acronyms and short words too
    assert corpus_stats.df["sound"] and hit("sound", paper("Round Robin Scheduling")) is None
    assert hit("GAN", paper("Organ Segmentation")) is None
    # deterministic given the statistics: the same text and stats compile to the same query
    assert compile_query("protien", corpus_stats) is compile_query("protien", corpus_stats)
    assert compile_query("protien", corpus_stats).root != compile_query("protien").root


# --- Rare words and repeated typos: the noisy channel ------------------------------------------------

GRAPHENE = ["Graphene Nanoribbons for Flexible Electronics", "Strain Engineering in Bilayer Graphene"]
GRAPHEME = ["Grapheme to Phoneme Conversion for Low-Resource Languages", "Grapheme Segmentation of Handwritten Scripts"]
TYPO = ["A Transfromer for Protein Folding"]


def rare_word_corpus(transformers: int = 12, fillers: int = 50) -> list[Paper]:
    """Graphene and grapheme in two papers each, "transformer" in ``transformers`` papers and its
    typo "transfromer" in one, and filler papers to make a corpus (50 papers give a vocabulary)."""
    titles = GRAPHENE + GRAPHEME + TYPO + [f"Transformer Architectures for Task Number {i}" for i in range(transformers)]
    titles += [f"Sparse Coding Experiment {i} on Robot Grasping" for i in range(fillers)]
    return [paper(t, pid=f"arxiv:2501.{n:05d}") for n, t in enumerate(titles)]


def finder(papers: list[Paper]) -> tuple[CorpusStats, Callable[[str], set[str]]]:
    """The corpus statistics of ``papers``, and the titles a query finds among them."""
    docs = [(p, Document.from_paper(p)) for p in papers]
    stats = CorpusStats.from_documents(d for _, d in docs)

    def found(query: str) -> set[str]:
        compiled = compile_query(query, stats)
        return {p.title for p, d in docs if (r := compiled.evaluate(d, stats)) is not None
                and r.score >= DEFAULT_THRESHOLD}

    return stats, found


def test_a_rare_word_does_not_find_another_rare_word_one_letter_away() -> None:
    """An alert on "graphene" in a store where graphene and grapheme are both rare gets graphene
    papers, not grapheme (linguistics) ones: a correctly spelled word means itself."""
    stats, found = finder(rare_word_corpus())
    assert stats.df["graphen"] == stats.df["graphem"] == 2
    assert found("graphene") == set(GRAPHENE)
    assert found("grapheme") == set(GRAPHEME)
    assert found("graphene grapheme") == set()


def test_a_typo_the_corpus_repeats_still_finds_the_word_it_misspells() -> None:
    """"transfromer" is in one paper and "transformer" in twelve: the rare word looks like a typo of a
    word TYPO_RATIO times as frequent, so it keeps its tolerance. Beside a word itself rare (five
    papers) the evidence is too weak and it is taken as written; a word in no paper stays tolerant."""
    stats, found = finder(rare_word_corpus(transformers=12))
    transformers = {f"Transformer Architectures for Task Number {i}" for i in range(12)}
    assert stats.df["transformer"] >= TYPO_RATIO * stats.df["transfromer"]
    assert found("transfromer") == transformers | set(TYPO)
    assert found("transformer") == transformers  # used often: exact
    assert found("tranformer") == transformers  # unknown (no paper has it): tolerant
    _, few = finder(rare_word_corpus(transformers=5))
    assert few("transfromer") == set(TYPO)
    assert len(few("tranformer")) == 5


def test_typo_tolerance_follows_the_statistics_as_they_change() -> None:
    """The frequent words are indexed once per version of the statistics: after more papers use
    grapheme, graphene (still in two) is one letter from a word ten times as frequent and reads as its typo."""
    papers = rare_word_corpus()
    stats = CorpusStats.from_documents(Document.from_paper(p) for p in papers)
    assert compile_query("graphene", stats).root.words[0].dist == 0  # type: ignore[union-attr]
    for i in range(20):
        stats.update(Document.from_paper(paper(f"Grapheme Inventories of Language {i}", pid=f"arxiv:2502.{i:05d}")))
    assert compile_query("graphene", stats).root.words[0].dist == 1  # type: ignore[union-attr]
    assert CorpusStats.from_dict(stats.to_dict()).frequent_near("graphen", 3) == {"graphem": 22}


_KEYS = st.text("abcé", min_size=1, max_size=7)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS | _KEYS.map("^".__add__), st.integers(1, 30), max_size=40), _KEYS, st.integers(1, 12))
def test_frequent_near_finds_what_scanning_the_vocabulary_finds(df: dict[str, int], key: str, min_df: int) -> None:
    """The deletion index of the frequent keys finds exactly the keys an anchored word allowing one
    edit accepts (word_similarity, the one definition of a match), its own key and acronym keys aside."""
    stats = CorpusStats(100, df)
    word = Word(key, key, key, 1, anchored=True)
    for bar in (min_df, min_df + 5):  # another bar on the same statistics: another index
        want = {k: n for k, n in df.items() if n >= bar and k != key and word_similarity(word, k) is not None}
        assert stats.frequent_near(key, bar) == want


def _record(p: Paper) -> PaperRecord:
    return PaperRecord(source_kind="arxiv-rss", external_id=p.arxiv_id or p.id, title=p.title,
                       abstract=p.abstract, categories=p.categories, arxiv_id=p.arxiv_id)


def test_typo_decisions_are_the_same_in_subscriptions_the_query_index_and_search(store: Store) -> None:
    """Subscriptions (compiled at the start of `digest match`, matched through the query index),
    search (through the search index) and evaluating every paper find the same papers: each
    compiles the text with the statistics alone."""
    base = rare_word_corpus()
    later = [paper("Graphene Plasmonics at Terahertz Frequencies", pid="arxiv:2503.00001"),
             paper("Grapheme Embeddings for Spelling Correction", pid="arxiv:2503.00002"),
             paper("Transformer Pruning at Scale", pid="arxiv:2503.00003")]
    # one graphene and one grapheme paper less at first: both stay rare (1, then 2 papers) throughout
    base = [p for p in base if p.title not in (GRAPHENE[0], GRAPHEME[0])]
    store.ingest_records("arxiv-cs", [_record(p) for p in base])
    match_new(store)
    user = store.upsert_user("ada@example.org")
    queries = ["graphene", "grapheme", "transfromer", "transformer", "graphene OR transfromer"]
    for i, text in enumerate(queries):
        store.add_subscription(user.id, f"q{i}", query=text)
    store.ingest_records("arxiv-cs", [_record(p) for p in later])
    match_new(store)

    stats = load_stats(store)
    assert stats.df["graphen"] == stats.df["graphem"] == 2
    papers = list(store.iter_papers())
    index = QueryIndex(stats)
    for text in queries:
        index.add(text, compile_query(text, stats))
    tags = store.topic_tags_by_paper()  # as search sees them
    docs = [Document.from_paper(p, tags=tags.get(p.id, ()), batch=False) for p in papers]
    by_index: dict[str, set[tuple[str, float]]] = {text: set() for text in queries}
    for p, ranked in zip(papers, index.match_batch(docs, stats)):
        for text, score in ranked:
            by_index[text].add((p.id, score))
    later_ids = {p.id for p in papers if p.arxiv_id in {q.arxiv_id for q in later}}
    for i, text in enumerate(queries):
        brute = {(h.paper.id, h.score) for h in _hits(store, text, store.iter_papers(), None)}
        assert {(h.paper.id, h.score) for h in search(store, text)} == brute, text
        assert by_index[text] == brute, text
        subscribed = {m.paper_id for m in store.matches(subscription=f"ada@example.org/q{i}")}
        assert subscribed == {pid for pid, _ in brute} & later_ids, text
    titles = {h.paper.title for h in search(store, "graphene")}
    assert titles == {"Graphene Plasmonics at Terahertz Frequencies", GRAPHENE[1]}
    assert "Transformer Pruning at Scale" in {h.paper.title for h in search(store, "transfromer")}


def test_a_word_in_most_papers_still_ranks_and_passes_on_a_title_hit() -> None:
    """IDF ranks, it does not veto: "quantum" in a quantum-heavy feed."""
    docs = [Document.from_paper(paper(f"Quantum Topic {i}", "We study quantum states.")) for i in range(60)]
    docs += [Document.from_paper(paper(f"Classical Topic {i}", "Classical mechanics.")) for i in range(40)]
    stats = CorpusStats.from_documents(docs)
    assert stats.fraction("quantum") == 0.6
    validate_for_save("quantum", stats)  # a fair subscription in this feed
    title = run("quantum", paper("Quantum Error Correction"), stats)
    passing = run("quantum", paper("Error Correction", "A remark on quantum codes."), stats)
    assert title is not None and title.score >= DEFAULT_THRESHOLD
    assert passing is not None and passing.score < DEFAULT_THRESHOLD
    rare = run("zygomorphic", paper("Zygomorphic Flowers"), stats)
    assert rare is not None and rare.score > title.score  # rarity still ranks
