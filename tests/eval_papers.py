"""Real papers of the relevance set (tests/data/eval/papers.jsonl) as PaperRecords, for the
matching tests that need a stored corpus."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from digest.models import PaperRecord

EVAL = Path(__file__).parent / "data" / "eval"


@lru_cache(maxsize=1)
def _raw() -> tuple[dict, ...]:  # type: ignore[type-arg]
    lines = (EVAL / "papers.jsonl").read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


def eval_records(ids: list[str] | None = None) -> list[PaperRecord]:
    """Records for the given arXiv ids (in that order), or all of them."""
    by_id = {r["arxiv_id"]: r for r in _raw()}
    chosen = [by_id[i] for i in ids] if ids is not None else list(by_id.values())
    return [PaperRecord(source_kind=r["source_kind"], external_id=r["external_id"], title=r["title"],
                        authors=tuple(r["authors"]), abstract=r["abstract"], tldr=r.get("tldr"),
                        categories=tuple(r["categories"]), keywords=tuple(r["keywords"]),
                        arxiv_id=r["arxiv_id"], version=r.get("version"), url=r.get("url"))
            for r in chosen]
