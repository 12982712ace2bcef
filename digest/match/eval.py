"""Relevance evaluation: the product matcher against plain substring matching and BM25.

Inputs are TREC-style: a queries TSV (``QUERY_ID<TAB>query``) and qrels
(``QUERY_ID 0 PAPER_ID RELEVANCE``, relevance >= 1 counts as relevant; papers a query does not list
are not relevant), plus the papers: a JSON-lines file of PaperRecord-like objects, a list of
:class:`~digest.models.Paper`, or a store.

The three systems, each deciding per (query, paper) "relevant or not":

* ``digest`` — the product: :func:`digest.match.score.compile_query` with the default threshold,
  the same call ``digest search`` and subscriptions use, with corpus statistics over these papers.
* ``substring`` — what a naive alert does: the query split on ``OR``; a paper matches an alternative
  when every remaining word (operators, ``-negated`` words, field prefixes and quotes dropped) occurs
  as a case-insensitive substring of title + abstract + tl;dr + keywords (authors for ``au:``).
* ``bm25`` — Okapi BM25 (k1 = 1.2, b = 0.75, Lucene's IDF ``ln(1 + (N - df + 0.5) / (df + 0.5))``)
  over lower-cased word tokens of the same text, query words as for ``substring``. BM25 ranks but
  does not decide, so it gets a generous cutoff: the top R papers with a score > 0, where R is the
  number of relevant papers for that query (R-precision). That cutoff knows R, which no deployed
  system does: it is an upper bound for a BM25 alert with one global threshold.

Groups: when the queries file has a ``needs.tsv`` beside it (``NEED<TAB>description<TAB>split``,
a query ``NEED-n`` belonging to need ``NEED``) and a ``variants.tsv`` (``QUERY_ID<TAB>variant``),
the report also sums each system per split (``split:tune``, the needs defaults were tuned on;
``split:test``, held out) and per variant (``variant:typo``, ``variant:british``...).

Public: :func:`evaluate`, :func:`load_queries`, :func:`load_qrels`, :func:`load_papers`,
:func:`load_labels`, :func:`bm25_scores`, :class:`EvalReport`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from digest.errors import DigestError, ParseError, QueryError
from digest.ids import canonical_id
from digest.models import Paper
from digest.text import fold

BM25_K1 = 1.2
BM25_B = 0.75
SYSTEMS = ("digest", "substring", "bm25")


@dataclass(frozen=True, slots=True)
class QueryResult:
    query_id: str
    query: str
    system: str
    retrieved: int
    relevant: int
    true_positives: int
    precision: float
    recall: float
    f1: float
    #: Papers wrongly retrieved / missed (canonical ids), for tuning.
    false_positives: tuple[str, ...] = ()
    false_negatives: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Summary:
    system: str
    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_precision: float
    macro_recall: float
    macro_f1: float


@dataclass(frozen=True, slots=True)
class EvalReport:
    papers: int
    queries: int
    summaries: dict[str, Summary]
    results: tuple[QueryResult, ...] = field(default=())
    #: "split:tune" / "variant:typo"... -> system -> summary over that group's queries
    groups: dict[str, dict[str, Summary]] = field(default_factory=dict)

    def to_dict(self, *, details: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "papers": self.papers, "queries": self.queries,
            "systems": {name: {k: v for k, v in vars_of(s).items() if k != "system"}
                        for name, s in self.summaries.items()},
            "groups": {g: {name: {k: v for k, v in vars_of(s).items() if k != "system"} for name, s in by.items()}
                       for g, by in self.groups.items()},
        }
        if details:
            out["per_query"] = [vars_of(r) for r in self.results]
        return out



def _lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file; DigestError naming the file when it is not UTF-8."""
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DigestError(f"{path}: not UTF-8 text (byte {exc.start})") from None

def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


# --- inputs -----------------------------------------------------------------------------------


def load_queries(path: str | Path) -> list[tuple[str, str]]:
    """``QUERY_ID<TAB>query`` lines; blank lines and ``#`` comments skipped.

    Every query must parse in digest's query language: ParseError names the first that does not (line,
    id, text and the parser's reason) and the ids of any others. A query the matcher cannot run would
    otherwise score as retrieving nothing, and the overall figures would look plausible but compare
    the product on fewer queries than the baselines (whose word lists read any text).
    """
    from digest.match.query import parse

    out = []
    invalid: list[str] = []
    for n, line in enumerate(_lines(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        qid, sep, text = line.partition("\t")
        if not sep or not text.strip():
            raise ParseError("queries TSV", f"line {n}: expected QUERY_ID<TAB>query", source=str(path))
        qid, text = qid.strip(), text.strip()
        try:
            parse(text)
        except QueryError as exc:
            invalid.append(f"line {n}: query {qid} {text!r} does not parse: {exc}" if not invalid
                           else f"{qid} (line {n})")
        out.append((qid, text))
    if invalid:
        also = f" (also invalid: {', '.join(invalid[1:])})" if len(invalid) > 1 else ""
        raise ParseError("queries TSV", invalid[0] + also, source=str(path))
    return out


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """TREC qrels ``QUERY_ID ITERATION PAPER_ID RELEVANCE`` -> {query: {paper: relevance}}."""
    out: dict[str, dict[str, int]] = {}
    for n, line in enumerate(_lines(path), 1):
        parts = line.split()
        if not parts or line.startswith("#"):
            continue
        if len(parts) != 4 or not parts[3].lstrip("-").isdigit():
            raise ParseError("TREC qrels", f"line {n}: expected QUERY_ID 0 PAPER_ID RELEVANCE", source=str(path))
        out.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return out


def load_labels(path: str | Path, column: int = 1) -> dict[str, str]:
    """``ID<TAB>...`` lines -> {ID: the given tab-separated column}; ``#`` comments skipped."""
    out = {}
    for line in _lines(path):
        parts = line.split("\t")
        if line.strip() and not line.startswith("#") and len(parts) > column:
            out[parts[0].strip()] = parts[column].strip()
    return out


def _groups_of(queries_file: str | Path, needs_file: str | Path | None,
               variants_file: str | Path | None) -> dict[str, str | None]:
    """{query id: group labels} from the needs' splits and the queries' variants, if present."""
    folder = Path(queries_file).parent
    needs = Path(needs_file) if needs_file else folder / "needs.tsv"
    variants = Path(variants_file) if variants_file else folder / "variants.tsv"
    return {"split": str(needs) if needs.is_file() else None,
            "variant": str(variants) if variants.is_file() else None}


def _paper_from_json(obj: dict[str, Any]) -> Paper:
    arxiv_id = obj.get("arxiv_id")
    pid = obj.get("id") or canonical_id(arxiv_id=arxiv_id, doi=obj.get("doi"),
                                        openreview_id=obj.get("openreview_id"), url=obj.get("url"))
    published = obj.get("published")
    return Paper(id=pid, title=obj["title"], authors=tuple(obj.get("authors") or ()),
                 abstract=obj.get("abstract") or "", tldr=obj.get("tldr"),
                 categories=tuple(obj.get("categories") or ()), keywords=tuple(obj.get("keywords") or ()),
                 arxiv_id=arxiv_id, version=obj.get("version"), doi=obj.get("doi"), url=obj.get("url"),
                 published=datetime.fromisoformat(published.replace("Z", "+00:00")) if published else None)


def load_papers(path: str | Path) -> list[Paper]:
    """JSON lines of PaperRecord-like objects (``tests/data/eval/papers.jsonl``) -> papers."""
    papers = []
    for n, line in enumerate(_lines(path), 1):
        if line.strip():
            try:
                papers.append(_paper_from_json(json.loads(line)))
            except (ValueError, KeyError) as exc:
                raise ParseError("papers JSONL", f"line {n}: {exc}", source=str(path)) from None
    return papers


# --- baselines --------------------------------------------------------------------------------

_OPERATORS = {"and", "or", "not"}
_FIELD = re.compile(r"^[a-z]+:", re.I)
_WORD = re.compile(r"\w+")


def _alternatives(query: str) -> list[tuple[list[str], bool]]:
    """The query as the baselines read it: OR-alternatives of plain words (and whether ``au:``)."""
    alts = []
    for alt in re.split(r"\s+OR\s+", query):
        words: list[str] = []
        authors = "au:" in alt.lower()
        skip_next = False
        for tok in re.findall(r'-?"[^"]*"|\S+', alt):
            if tok.upper() == "NOT":
                skip_next = True
                continue
            if skip_next or tok.startswith("-"):
                skip_next = False
                continue
            tok = _FIELD.sub("", tok).strip('()"*~').lower()
            for w in tok.split():
                w = w.strip('()"')
                if w and w not in _OPERATORS:
                    words.append(w)
        if words:
            alts.append((words, authors))
    return alts


def _text(p: Paper) -> str:
    return " ".join((p.title, p.tldr or "", p.abstract, " ".join(p.keywords))).lower()


def substring_match(query: str, paper: Paper) -> bool:
    hay, authors = _text(paper), fold(" ".join(paper.authors))
    return any(all(fold(w) in (authors if au else hay) for w in words) for words, au in _alternatives(query))


def bm25_scores(query: str, papers: Sequence[Paper]) -> list[float]:
    """BM25 score of every paper for the query's words (see module doc for the parameters)."""
    docs = [_WORD.findall(_text(p)) for p in papers]
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n if n else 0.0
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(d))
    qwords = [w for words, _ in _alternatives(query) for tok in words for w in _WORD.findall(tok)]
    scores = []
    for d in docs:
        tf = Counter(d)
        s = 0.0
        for w in set(qwords):
            if not tf[w]:
                continue
            idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
            s += idf * tf[w] * (BM25_K1 + 1) / (tf[w] + BM25_K1 * (1 - BM25_B + BM25_B * len(d) / avgdl))
        scores.append(s)
    return scores


# --- the product matcher ----------------------------------------------------------------------


def _digest_matcher(papers: Sequence[Paper]) -> Callable[[str], set[str]]:
    from digest.gcpause import gc_paused
    from digest.match.document import Document
    from digest.match.score import DEFAULT_THRESHOLD, compile_query
    from digest.match.stats import CorpusStats

    with gc_paused():  # documents are many small containers in no cycle (see digest.match.run)
        docs = [Document.from_paper(p) for p in papers]
    stats = CorpusStats.from_documents(docs)

    def run(query: str) -> set[str]:
        compiled = compile_query(query, stats)  # what subscriptions compile: vocabulary-aware typos
        hits = ((p, compiled.evaluate(d, stats)) for p, d in zip(papers, docs))
        return {p.id for p, r in hits if r is not None and r.score >= DEFAULT_THRESHOLD}

    return run


# --- the harness ------------------------------------------------------------------------------


def _score(qid: str, query: str, system: str, got: set[str], judged: dict[str, int]) -> QueryResult:
    relevant = {p for p, r in judged.items() if r > 0}
    tp = len(got & relevant)
    precision = tp / len(got) if got else (1.0 if not relevant else 0.0)
    recall = tp / len(relevant) if relevant else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return QueryResult(qid, query, system, len(got), len(relevant), tp, round(precision, 4), round(recall, 4),
                       round(f1, 4), tuple(sorted(got - relevant)), tuple(sorted(relevant - got)))


def _summary(system: str, results: list[QueryResult]) -> Summary:
    tp = sum(r.true_positives for r in results)
    retrieved = sum(r.retrieved for r in results)
    relevant = sum(r.relevant for r in results)
    p = tp / retrieved if retrieved else 0.0
    rc = tp / relevant if relevant else 0.0
    n = len(results) or 1
    return Summary(system, round(p, 4), round(rc, 4), round(2 * p * rc / (p + rc) if p + rc else 0.0, 4),
                   round(sum(r.precision for r in results) / n, 4), round(sum(r.recall for r in results) / n, 4),
                   round(sum(r.f1 for r in results) / n, 4))


def evaluate(queries_file: str | Path, qrels_file: str | Path, papers: Any, *,
             systems: Iterable[str] = SYSTEMS, needs_file: str | Path | None = None,
             variants_file: str | Path | None = None) -> EvalReport:
    """Run every query through every system and compare with the qrels.

    ``papers`` is a JSONL path, a sequence of :class:`Paper`, or a store (all its papers).
    ``needs_file`` and ``variants_file`` default to ``needs.tsv`` and ``variants.tsv`` beside the
    queries file (module doc, "Groups").
    """
    queries = load_queries(queries_file)
    qrels = load_qrels(qrels_file)
    corpus = _papers_of(papers)
    known = {p.id for p in corpus}
    wanted = list(systems)
    matcher = _digest_matcher(corpus) if "digest" in wanted else None
    per_system: dict[str, list[QueryResult]] = {s: [] for s in wanted}
    for qid, query in queries:
        judged = {pid: r for pid, r in qrels.get(qid, {}).items() if pid in known}
        for system in wanted:
            got: set[str] = set()
            if system == "digest" and matcher is not None:
                got = matcher(query)  # load_queries refused any query that does not parse
            elif system == "substring":
                got = {p.id for p in corpus if substring_match(query, p)}
            elif system == "bm25":
                r = sum(1 for v in judged.values() if v > 0)
                ranked = sorted(((s, p.id) for s, p in zip(bm25_scores(query, corpus), corpus) if s > 0),
                                key=lambda t: (-t[0], t[1]))
                got = {pid for _, pid in ranked[:r]}
            else:
                raise ValueError(f"unknown system {system!r} (one of {', '.join(SYSTEMS)})")
            per_system[system].append(_score(qid, query, system, got, judged))
    results = tuple(r for s in wanted for r in per_system[s])
    files = _groups_of(queries_file, needs_file, variants_file)
    labels: dict[str, dict[str, str]] = {}  # query id -> kind -> label
    if files["split"]:
        splits = load_labels(files["split"], column=2)
        for qid, _ in queries:
            if (split := splits.get(qid.rsplit("-", 1)[0])):
                labels.setdefault(qid, {})["split"] = split
    if files["variant"]:
        for qid, variant in load_labels(files["variant"]).items():
            labels.setdefault(qid, {})["variant"] = variant
    names = sorted({f"{kind}:{label}" for by in labels.values() for kind, label in by.items()})
    groups = {g: {s: _summary(s, [r for r in per_system[s]
                                  if labels.get(r.query_id, {}).get(g.split(":")[0]) == g.split(":", 1)[1]])
                  for s in wanted} for g in names}
    return EvalReport(papers=len(corpus), queries=len(queries),
                      summaries={s: _summary(s, per_system[s]) for s in wanted}, results=results, groups=groups)


def _papers_of(papers: Any) -> list[Paper]:
    if isinstance(papers, (str, Path)):
        return load_papers(papers)
    if hasattr(papers, "iter_papers"):
        return list(papers.iter_papers())
    return list(papers)
