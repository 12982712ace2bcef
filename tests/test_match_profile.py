"""User-tag profiles on real papers: liked papers pull similar ones up, "not relevant" pushes
similar ones down, muted authors and already-labelled papers are dropped."""

from __future__ import annotations

import pytest
from eval_papers import EVAL

from digest.match.document import Document
from digest.match.eval import load_papers, load_qrels
from digest.match.profile import DEFAULT_PROFILE_THRESHOLD, build_profile, profile_for
from digest.match.stats import CorpusStats
from digest.models import Paper
from digest.store import Store

LIKED = ["arxiv:2505.11897", "arxiv:2411.07483"]  # FiGKD; Quantifying Knowledge Distillation


@pytest.fixture(scope="module")
def corpus() -> tuple[dict[str, Paper], CorpusStats]:
    papers = load_papers(EVAL / "papers.jsonl")
    return {p.id: p for p in papers}, CorpusStats.from_documents(Document.from_paper(p) for p in papers)


def test_profile_recommends_papers_like_the_tagged_ones(corpus: tuple[dict[str, Paper], CorpusStats]) -> None:
    papers, stats = corpus
    relevant = {pid for pid, r in load_qrels(EVAL / "qrels.txt")["kd-1"].items() if r > 0}
    profile = build_profile("kd", [papers[i] for i in LIKED], [], stats.idf)
    scored = [(r.score, pid) for pid, p in papers.items() if (r := profile.evaluate(p, stats.idf)) is not None]
    above = sorted((s, pid) for s, pid in scored if s >= DEFAULT_PROFILE_THRESHOLD)
    assert len(above) >= 4
    precision = sum(pid in relevant for _, pid in above) / len(above)
    assert precision >= 0.8
    assert not set(LIKED) & {pid for _, pid in scored}  # tagged papers are not recommended back
    best = profile.evaluate(papers["arxiv:2504.06036"], stats.idf)  # Multi-Sense Embeddings ... Knowledge Distillation
    assert best is not None and best.explanation["kind"] == "profile"
    assert best.explanation["clauses"] and best.explanation["similar_to"]["paper_id"] in LIKED


def test_not_relevant_pushes_similar_papers_down(corpus: tuple[dict[str, Paper], CorpusStats]) -> None:
    papers, stats = corpus
    liked = [papers[i] for i in LIKED]
    plain = build_profile("kd", liked, [], stats.idf)
    # "Not relevant": federated unlearning. Federated KD drops more than KD elsewhere.
    pushed = build_profile("kd", liked, [papers["arxiv:2408.07587"]], stats.idf)
    fed = "arxiv:2211.04742"  # Knowledge Distillation for Federated Learning
    other = "arxiv:2505.12074"  # Denoising Mutual Knowledge Distillation in ... Multiple Instance Learning
    drop = {pid: plain.evaluate(papers[pid], stats.idf).score - pushed.evaluate(papers[pid], stats.idf).score  # type: ignore[union-attr]
            for pid in (fed, other)}
    assert drop[fed] > drop[other] >= 0
    assert pushed.evaluate(papers[fed], stats.idf).explanation["not_relevant_penalty"] > 0  # type: ignore[union-attr]


def test_muted_author_is_dropped(corpus: tuple[dict[str, Paper], CorpusStats]) -> None:
    papers, stats = corpus
    target = papers["arxiv:2504.06036"]
    muted = build_profile("kd", [papers[i] for i in LIKED], [], stats.idf, muted=["lecun y", _key(target)])
    assert muted.evaluate(target, stats.idf) is None


def _key(paper: Paper) -> str:
    from digest.text import author_key

    return author_key(paper.authors[0])


def test_profile_from_store_labels(store: Store) -> None:
    from eval_papers import eval_records

    store.ingest_records("eval", eval_records(["2505.11897", "2411.07483", "2408.07587", "2504.06036"]))
    u = store.upsert_user("a@example.org")
    for pid in LIKED:
        store.add_label(u.id, "kd", pid)
    store.add_label(u.id, "kd", "arxiv:2408.07587", -1)
    stats = CorpusStats.from_documents(Document.from_paper(p) for p in store.iter_papers())
    profile = profile_for(store, u.id, "kd", stats.idf)
    assert {pid for pid, _, _ in profile.positive_titles} == set(LIKED)
    assert [pid for pid, _, _ in profile.negative_titles] == ["arxiv:2408.07587"]
    assert profile_for(store, u.id, "nothing", stats.idf).empty
