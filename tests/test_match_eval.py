"""The relevance harness: inputs, metrics, the BM25 and substring baselines, and the labelled set."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from eval_papers import EVAL

from digest.errors import ParseError
from digest.match.eval import _score, bm25_scores, evaluate, load_papers, load_qrels, load_queries, substring_match
from digest.models import Paper


def _p(pid: str, title: str, abstract: str = "") -> Paper:
    return Paper(id=pid, title=title, authors=("Ada Lovelace",), abstract=abstract)


def test_inputs_parse_and_reject_garbage(tmp_path: Path) -> None:
    q = tmp_path / "q.tsv"
    q.write_text("# comment\na-1\tGAN OR organ\n\nb-1\tself supervised\n", encoding="utf-8")
    assert load_queries(q) == [("a-1", "GAN OR organ"), ("b-1", "self supervised")]
    r = tmp_path / "qrels"
    r.write_text("a-1 0 arxiv:1 2\na-1 0 arxiv:2 0\n", encoding="utf-8")
    assert load_qrels(r) == {"a-1": {"arxiv:1": 2, "arxiv:2": 0}}
    q.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(ParseError, match="line 1"):
        load_queries(q)
    r.write_text("a-1 arxiv:1 2\n", encoding="utf-8")
    with pytest.raises(ParseError):
        load_qrels(r)


def test_a_query_that_does_not_parse_refuses_the_whole_file(tmp_path: Path) -> None:
    """Every invalid query is named (the first in full, the others by id and line), before any paper
    is scored: an evaluation over a wrong queries file must not produce figures."""
    q = tmp_path / "q.tsv"
    q.write_text('a-1\tGAN OR organ\nb-1\t(self supervised\n# c-1\t"x\nc-1\tok\nd-1\tau:\n', encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        evaluate(q, EVAL / "qrels.txt", EVAL / "papers.jsonl")
    message = str(caught.value)
    assert message.startswith(f"{q}: cannot read as queries TSV: line 2: query b-1 '(self supervised' does not "
                              "parse: query error at column ")
    assert message.endswith(" (also invalid: d-1 (line 5))") and "c-1" not in message


def test_metrics() -> None:
    res = _score("q", "x", "s", {"a", "b", "c", "d"}, {"a": 2, "b": 1, "e": 1, "f": 0})
    assert (res.true_positives, res.precision, res.recall) == (2, 0.5, 0.6667)
    assert res.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), abs=1e-4)
    assert res.false_positives == ("c", "d") and res.false_negatives == ("e",)
    assert _score("q", "x", "s", set(), {"a": 1}).precision == 0.0
    assert _score("q", "x", "s", set(), {}).f1 == 1.0


def test_bm25_by_hand() -> None:
    docs = [_p("1", "graph graph networks"), _p("2", "graph"), _p("3", "protein folding")]
    scores = bm25_scores("graph", docs)
    n, df, avgdl = 3, 2, (3 + 1 + 2) / 3
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))

    def bm25(tf: int, dl: int) -> float:
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))

    assert scores == pytest.approx([bm25(2, 3), bm25(1, 1), 0.0])


def test_substring_baseline_is_naive_on_purpose() -> None:
    organ = _p("1", "Organ segmentation in CT scans")
    assert substring_match("GAN", organ)  # the trap the product must avoid
    assert substring_match("foo OR organ", organ)
    assert not substring_match("organ -segmentation", _p("2", "Other"))
    assert substring_match('au:"Lovelace"', organ)


def test_labelled_set_is_complete() -> None:
    papers = {p.id for p in load_papers(EVAL / "papers.jsonl")}
    queries = load_queries(EVAL / "queries.tsv")
    qrels = load_qrels(EVAL / "qrels.txt")
    needs: dict[str, int] = {}
    for qid, _ in queries:
        needs[qid.rsplit("-", 1)[0]] = needs.get(qid.rsplit("-", 1)[0], 0) + 1
    assert len(needs) >= 25 and min(needs.values()) >= 4
    assert len(papers) >= 300
    for qid, _ in queries:
        assert set(qrels[qid]) <= papers
        assert sum(r > 0 for r in qrels[qid].values()) >= 5


def test_product_beats_substring_on_the_labelled_set() -> None:
    report = evaluate(EVAL / "queries.tsv", EVAL / "qrels.txt", EVAL / "papers.jsonl")
    digest, substring = report.summaries["digest"], report.summaries["substring"]
    assert digest.micro_precision > substring.micro_precision
    assert digest.micro_f1 > substring.micro_f1
    by = {(r.query_id, r.system): r for r in report.results}
    # The GAN trap: "organ" papers are retrieved by substring matching, never by the product.
    assert by[("gan-1", "substring")].false_positives
    assert not {pid for pid in by[("gan-1", "digest")].false_positives}
    assert report.to_dict(details=False)["systems"]["bm25"]["micro_f1"] == report.summaries["bm25"].micro_f1
    # Held-out needs and variants are summed separately (tests/data/eval/needs.tsv, variants.tsv).
    groups = report.groups
    assert {"split:tune", "split:test", "variant:typo", "variant:british", "variant:hyphen", "variant:plural",
            "variant:acronym", "variant:boolean"} <= set(groups)
    assert groups["split:test"]["digest"].micro_f1 > groups["split:test"]["bm25"].micro_f1
    assert groups["variant:typo"]["digest"].micro_recall > 0.8  # "protien", "learing", "nueral"
    for qid in ("rag-1", "gan-2"):  # RAG vs storage/drag, GANs vs organs
        assert not [p for p in by[(qid, "digest")].false_positives if p in _traps(qid)]


def _traps(qid: str) -> set[str]:
    return {p for p, r in load_qrels(EVAL / "qrels.txt")[qid].items() if r == 0}


def test_every_need_has_a_split_and_every_query_a_variant() -> None:
    from digest.match.eval import load_labels

    splits = load_labels(EVAL / "needs.tsv", column=2)
    variants = load_labels(EVAL / "variants.tsv")
    queries = load_queries(EVAL / "queries.tsv")
    assert set(splits.values()) == {"tune", "test"} and sum(v == "test" for v in splits.values()) >= len(splits) // 4
    assert all(qid.rsplit("-", 1)[0] in splits and qid in variants for qid, _ in queries)
