"""Saved queries from the researcher's side: what a subscription or `digest search` finds, what is
refused on save, and how the text is read (stop words, stemming, British and American spelling,
acronyms, TeX in abstracts, the lexer, validation). Papers are built like tests/test_match_score.py
builds them and scored with the public matcher
(`compile_query(text, stats).evaluate(Document.from_paper(p), stats)`), with corpus statistics from ~900
real arXiv papers of tests/data/corpus."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from eval_papers import eval_records

from digest.config import TagSettings
from digest.errors import QueryError
from digest.match import DEFAULT_THRESHOLD, CorpusStats, Document, compile_query, validate_for_save
from digest.match.normalize import normalize_word
from digest.match.run import match_new
from digest.match.score import MatchResult
from digest.match.search import search
from digest.models import Paper, Via
from digest.store import Store


def paper(title: str, abstract: str = "", *, authors: tuple[str, ...] = ("A. Author",),
          pid: str = "arxiv:2501.00001", doi: str | None = None, categories: tuple[str, ...] = ("cs.LG",),
          keywords: tuple[str, ...] = (), tldr: str | None = None) -> Paper:
    via = Via("arxiv-rss", "arxiv-cs", pid, datetime(2025, 1, 1, tzinfo=timezone.utc))
    arxiv_id = pid.removeprefix("arxiv:") if pid.startswith("arxiv:") else None
    return Paper(id=pid, title=title, authors=authors, abstract=abstract, categories=categories,
                 keywords=keywords, tldr=tldr, arxiv_id=arxiv_id, doi=doi, sources=(via,))


@pytest.fixture(scope="module")
def stats(data_dir: Path) -> CorpusStats:
    """Document frequencies of ~900 real arXiv papers (titles and abstracts)."""
    feed = json.loads((data_dir / "corpus" / "rss_cache_2025-04-08_3e69c89781.json").read_text("utf-8"))
    docs = [Document("x", {"title": e["title"], "abstract": e["summary"].split("Abstract:", 1)[-1]})
            for f in feed.values() for e in f["entries"]]
    return CorpusStats.from_documents(docs)


def run(query: str, p: Paper, stats: CorpusStats) -> MatchResult | None:
    return compile_query(query, stats).evaluate(Document.from_paper(p), stats)


def passes(query: str, p: Paper, stats: CorpusStats) -> bool:
    res = run(query, p, stats)
    return res is not None and res.score >= DEFAULT_THRESHOLD


def key(word: str) -> str:
    return normalize_word(word)[1]


@pytest.mark.parametrize("query, title", [
    ("graph neural networks for drug discovery", "Drug Discovery with Graph Neural Networks"),
    ("reinforcement learning with human feedback", "Reinforcement Learning from Human Feedback for Dialogue"),
    ("diffusion models for audio", "Audio Diffusion Models at Scale"),
])
def test_stop_words_in_an_unquoted_query_are_not_required(query: str, title: str, stats: CorpusStats) -> None:
    """A subscription typed as one would type it into Google Scholar, "graph neural networks for drug
    discovery", finds "Drug Discovery with Graph Neural Networks": stop words outside quotes are not
    required."""
    assert passes(query, paper(title), stats)


@pytest.mark.parametrize("query, title", [
    ("simulation", "Deep Brain Stimulation for Parkinson's Disease"),
    ("topology", "A Typology of Languages"),
    ("materials", "Maternal Health Outcomes in Rural India"),
])
def test_correctly_spelled_words_do_not_fuzz_onto_other_real_words(query: str, title: str,
                                                                  stats: CorpusStats) -> None:
    """A correctly spelled query word does not fuzz onto another real word: "topology" does not match "A
    Typology of Languages", nor "simulation" "Deep Brain Stimulation". Typo tolerance is for typos;
    users judge the matcher by not flooding them."""
    assert run(query, paper(title), stats) is None


def test_search_sees_topic_tags_like_subscriptions(sqlite_store: Store) -> None:
    """`kw:` sees configured topic tags in `digest search` as in subscriptions (docs: search uses "the
    same matcher ... as subscriptions"): searching "kw:speech" finds every paper a kw:speech
    subscription gets."""
    store = sqlite_store
    store.ingest_records("eval", eval_records())
    store.sync_tags([TagSettings(name="speech", query='"speech recognition" OR ASR')])
    ada = store.upsert_user("ada@example.org")
    store.add_subscription(ada.id, "speech-kw", query="kw:speech")
    match_new(store)
    subscribed = {m.paper_id for m in store.matches(subscription="ada@example.org/speech-kw")}
    assert subscribed  # the subscription does see the tag
    assert {h.paper.id for h in search(store, "kw:speech")} >= subscribed


@pytest.mark.parametrize("query, title", [
    ("survey", "Large Language Models for Code: Surveys and Perspectives"),
    ("pathway", "Signaling Pathways in Cancer Cells"),
    ("array", "Phased Arrays for 6G Beamforming"),
    ("surveys", "A Survey of Retrieval-Augmented Generation"),
])
def test_plural_of_words_ending_in_a_vowel_and_y(query: str, title: str, stats: CorpusStats) -> None:
    """A subscription to "survey", "pathway" or "array" finds titles with "Surveys", "Pathways" or
    "Arrays", and "surveys" finds "A Survey of ...": plurals in -ys meet their singular."""
    assert passes(query, paper(title), stats)


@pytest.mark.parametrize("query, title", [
    ("bias", "Mitigating Social Biases in Large Language Models"),
    ("gender biases", "Measuring Gender Bias in Machine Translation"),
    ("gravitational lens", "Strong Gravitational Lensing by Galaxy Clusters"),
    ("lens", "Metasurface Lenses for Compact Cameras"),
])
def test_singular_words_ending_in_s_meet_their_plural(query: str, title: str, stats: CorpusStats) -> None:
    """Singular words ending in s meet their other forms: "bias" finds "Mitigating Social Biases",
    "gender biases" finds "Gender Bias", and "gravitational lens" finds "Gravitational Lensing"."""
    assert passes(query, paper(title), stats)


@pytest.mark.parametrize("query, title", [
    ("GPT4", "GPT-4 Technical Report"),
    ("GPT-4", "Evaluating GPT4 on Medical Exams"),
    ("COVID19", "COVID-19 Vaccine Uptake in Europe"),
    ("COVID-19", "COVID19 Vaccine Uptake in Europe"),
])
def test_acronym_with_digits_hyphenated_or_joined(query: str, title: str, stats: CorpusStats) -> None:
    """An acronym with digits matches hyphenated or joined, written in capitals too: "GPT4" finds "GPT-4
    Technical Report", "GPT-4" finds "Evaluating GPT4", and likewise COVID-19 and COVID19."""
    assert passes(query, paper(title), stats)


def test_curly_quotes_make_a_phrase(stats: CorpusStats) -> None:
    """Curly quotes make a phrase like ASCII ones: “knowledge distillation” pasted from a document or a
    chat (macOS and Word curl quotes) finds "Knowledge Distillation for Vision Transformers" but not
    "Distillation of Knowledge Graphs"."""
    assert passes('“knowledge distillation”', paper("Knowledge Distillation for Vision Transformers"), stats)
    assert run('“knowledge distillation”', paper("Distillation of Knowledge Graphs"), stats) is None


def test_non_breaking_space_separates_words_and_operators(stats: CorpusStats) -> None:
    """Non-breaking spaces, common in a query copied from a web page or PDF, separate words and
    operators like plain spaces: "diffusion OR flow" written with them still finds "Flow Matching for
    Generative Modeling"."""
    flow = paper("Flow Matching for Generative Modeling")
    assert run("diffusion OR flow", flow, stats) is not None  # the same query with plain spaces
    assert run("diffusion\u00a0OR\u00a0flow", flow, stats) is not None
    assert run("ti:flow\u00a0au:lecun", paper("Flow Matching", authors=("Yann LeCun",)), stats) is not None


@pytest.mark.parametrize("query", [
    "id:arXiv:2401.01234",
    "id:arxiv:2401.01234v2",
    "id:https://arxiv.org/abs/2401.01234v2",
    "id:https://arxiv.org/pdf/2401.01234v2.pdf",
])
def test_id_field_takes_the_usual_arxiv_forms(query: str, stats: CorpusStats) -> None:
    """`id:` takes the usual arXiv forms, as docs/queries.md promises ("any form digest accepts as a
    paper reference"): "arXiv:2401.01234", a versioned id, and the abs and pdf links."""
    p = paper("Diffusion Models", pid="arxiv:2401.01234")
    res = run(query, p, stats)
    assert res is not None


def test_controlled_is_an_inflection_of_control(stats: CorpusStats) -> None:
    """The query "control" finds "Controlled Text Generation with Diffusion": "controlled" and
    "controlling" share the key of "control"."""
    assert key("controlled") == key("control") == key("controlling")
    assert passes("control", paper("Controlled Text Generation with Diffusion"), stats)


def test_distill_distils_distilled_distilling_share_a_key(stats: CorpusStats) -> None:
    """American "distill", British "distil" and their inflections ("distilled", "distilling", ...) share
    one key, so the query "distill" finds "Distilling Step-by-Step"."""
    assert len({key(w) for w in ("distill", "distills", "distilled", "distilling", "distil", "distils")}) == 1
    assert passes("distill", paper("Distilling Step-by-Step: Outperforming Larger Language Models"), stats)


def test_acronym_plural_ending_in_us(stats: CorpusStats) -> None:
    """Acronym plurals ending in -Us are plurals like GANs: the query "GPU" (or "gpu") finds "Training
    on Thousands of GPUs", and "TPU" finds "... on TPUs"."""
    title = paper("Training Language Models on Thousands of GPUs")
    assert passes("GPU", title, stats)
    assert passes("gpu", title, stats)
    assert passes("TPU", paper("Scaling Sparse Models on TPUs"), stats)


def test_acronym_with_a_possessive(stats: CorpusStats) -> None:
    """An acronym with a possessive stays an acronym: the query "BERT" finds "Probing BERT's Attention
    Heads", with a straight or a curly apostrophe."""
    assert passes("BERT", paper("Probing BERT's Attention Heads"), stats)
    assert passes("BERT", paper("Probing BERT\u2019s Attention Heads"), stats)


@pytest.mark.parametrize("query, abstract", [
    # both from tests/data/corpus (arXiv RSS, April/May 2025)
    ("Schrödinger bridge", r"We propose a dequantified Schr{\"o}dinger bridge and solve the Schr{\"o}dinger "
                           r"bridge problem with optimal transport."),
    ("Polyak-Łojasiewicz", r"Under the Polyak-{\L}ojasiewicz (PL) condition we prove linear convergence; "
                            r"the Polyak-\L{}ojasiewicz inequality also gives rates."),
])
def test_braced_tex_accents_in_abstracts(query: str, abstract: str, stats: CorpusStats) -> None:
    """Abstracts keep their TeX, often with BibTeX-style braces ("Schr{\\"o}dinger",
    "Polyak-{\\L}ojasiewicz", both from tests/data/corpus); the query written with the accented letter
    finds these words in the abstract."""
    res = run(query, paper("Untitled", abstract), stats)
    assert res is not None and {c["field"] for c in res.explanation["clauses"]} == {"abstract"}


def test_greek_letters_written_in_tex_in_abstracts(stats: CorpusStats) -> None:
    """The query "α-divergence" finds both a title "α-Divergences ..." and an abstract that writes
    "$\\alpha$-divergences" (abstracts keep their TeX; tests/data/corpus has "$\\alpha$-divergences",
    "$\\gamma$-FedHT", "$\\alpha$-Rank")."""
    assert run("α-divergence", paper("α-Divergences for Variational Inference"), stats) is not None
    res = run("α-divergence", paper("Variational Inference", r"We show that the $\alpha$-divergences "
                                    r"interpolate; $\alpha$-divergences are robust."), stats)
    assert res is not None


@pytest.mark.parametrize("query, title", [
    ("optimis*", "Optimisation of Neural Networks"),
    ("regularis*", "Spectral Regularisation for GANs"),
    ("modell*", "Modelling Protein Dynamics"),
])
def test_british_prefix_finds_the_british_spelling(query: str, title: str, stats: CorpusStats) -> None:
    """A British prefix finds the British spelling: "optimis*" (meant to catch optimise, optimisation,
    optimiser) finds "Optimisation of Neural Networks", "regularis*" "Regularisation", "modell*"
    "Modelling"."""
    assert passes(query, paper(title), stats)


@pytest.mark.parametrize("british, american", [
    ("quantisation", "quantization"), ("parallelisation", "parallelization"),
    ("discretisation", "discretization"), ("randomised", "randomized"), ("standardised", "standardized"),
    ("oedema", "edema"), ("anaesthesia", "anesthesia"),
])
def test_common_british_spellings_share_the_american_key(british: str, american: str) -> None:
    """Everyday British spellings in papers (LLM "quantisation", "randomised controlled trial",
    "parallelisation", "oedema") share the key of the American spelling, so a query in either spelling
    finds both as exact hits."""
    assert key(british) == key(american)


@pytest.mark.parametrize("query, title", [
    ("random matrix", "Spectra of Random Matrices"),
    ("vertex", "Counting Vertices of Random Polytopes"),
    ("learned index", "Learned Indices for Key-Value Stores"),
    ("hypothesis testing", "Testing Hypotheses with Language Models"),
])
def test_latin_plurals_common_in_papers(query: str, title: str, stats: CorpusStats) -> None:
    """The Latin plurals every math/CS paper uses meet their singular: "random matrix" finds "Random
    Matrices", "vertex" "Vertices", "learned index" "Learned Indices", "hypothesis testing" "Testing
    Hypotheses"."""
    assert passes(query, paper(title), stats)


@pytest.mark.parametrize("query, title", [
    ("movie recommendation", "Movies and Recommendation: A New Benchmark"),
    ("cookie", "Cookies and Third-Party Web Tracking"),
])
def test_plural_of_words_ending_in_ie(query: str, title: str, stats: CorpusStats) -> None:
    """Words ending in -ie meet their plural: "movie recommendation" finds "Movies and Recommendation",
    "cookie" finds "Cookies and Third-Party Web Tracking"."""
    assert passes(query, paper(title), stats)


@pytest.mark.parametrize("text", [
    "diffusion -diffusion",
    "ti:diffusion NOT ti:diffusion",
    "id:not-a-paper-id",
])
def test_queries_that_cannot_match_anything_are_refused(text: str, stats: CorpusStats) -> None:
    """A query that is valid but cannot match anything is refused on save with a clear reason: a word
    and its own negation, or an `id:` value that is no paper id."""
    with pytest.raises(QueryError):
        validate_for_save(text, stats)


@pytest.mark.parametrize("text", ["cat:cs.ML", "cat:stat.LG", "cat:cs.FOO"])
def test_category_that_arxiv_does_not_have_is_refused(text: str, stats: CorpusStats) -> None:
    """A `cat:` value arXiv does not have is refused on save with a reason about the category, even
    under a known archive: people confuse stat.ML with cs.LG and type cat:cs.ML, which would never
    match."""
    with pytest.raises(QueryError, match="category"):
        validate_for_save(text, stats)


def test_id_field_takes_a_doi_with_parentheses(stats: CorpusStats) -> None:
    """`id:` takes a DOI with parentheses as one value, as Elsevier/Lancet DOIs have them
    (10.1016/S0140-6736(20)30183-5), and finds the paper."""
    doi = "10.1016/s0140-6736(20)30183-5"
    p = paper("Clinical Features of Patients Infected with 2019 Novel Coronavirus", pid=f"doi:{doi}", doi=doi)
    assert run("id:10.1016/S0140-6736(20)30183-5", p, stats) is not None


@pytest.mark.parametrize("text", ["ALL", "WHO"])
def test_acronym_in_capitals_is_not_a_stop_word(text: str, stats: CorpusStats) -> None:
    """Subscriptions to "ALL" (acute lymphoblastic leukaemia) and "WHO", real ones in bioRxiv/medRxiv
    feeds, are accepted: written in capitals they match only words in capitals (docs/queries.md), so
    they are no stop words."""
    validate_for_save(text, stats)


@pytest.mark.parametrize("text", ["papers", "methods", "approaches", "proposed"])
def test_inflected_stop_words_are_refused_like_their_base(text: str) -> None:
    """On a new installation (no statistics yet) "papers", "methods", "approaches" and "proposed" are
    refused as stop words, like "paper", "method", "approach" and "propose": they are found in as many
    abstracts."""
    with pytest.raises(QueryError, match="stop words"):
        validate_for_save(text, CorpusStats())
