"""Sample digests and papers for the render tests (email, message, browser, feeds)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from digest.config import Settings
from digest.models import Digest, DigestItem, DigestSection, Paper, Reason, Via

T = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SECRET = "test-signing-key-" + "0" * 32


def settings(**web: Any) -> Settings:
    return Settings(web={"base_url": "https://digest.example.org", **web}, secret_key=SECRET,
                    smtp={"from": "Paper digest <digest@example.org>"})


def paper(i: int, **kw: Any) -> Paper:
    arxiv = f"2411.{i:05d}"
    base: dict[str, Any] = dict(
        id=f"arxiv:{arxiv}", title=f"Diffusion models for protein design, part {i}",
        authors=("Yann LeCun", "Ada Lovelace", "Łukasz Kaiser"),
        abstract=("We study diffusion models for proteins. Our method beats baselines by a wide margin. "
                  "We release code and weights. ") * 2,
        arxiv_id=arxiv, version=2, pdf_url=f"https://arxiv.org/pdf/{arxiv}", categories=("cs.LG", "q-bio.BM"),
        code_url=f"https://github.com/example/p{i}", published=T, updated=T, first_seen=T, seq=100 + i,
        sources=(Via("arxiv-rss", "arxiv-cs", arxiv, T), Via("hf-daily", "hf", arxiv, T)),
    )
    base.update(kw)
    return Paper(**base)


def reason(name: str = "diffusion models", sub_id: int = 1, spans: Any = ((0, 9),)) -> Reason:
    return Reason(sub_id, name, 0.9, {"clauses": [{"field": "title", "clause": "diffusion", "spans": [list(s) for s in spans]},
                                                  {"field": "abstract", "clause": "diffusion models", "spans": [[9, 25]]}]})


def digest(n: int = 3, *, items: tuple[DigestItem, ...] | None = None, **kw: Any) -> Digest:
    if items is None:
        items = tuple(DigestItem(paper(i), (reason(),), score=1.0 - i / 10_000, trending=6.0 if i == 0 else None,
                                 seq=100 + i) for i in range(n))
    base: dict[str, Any] = dict(
        user_id=7, user_email="ada@example.org", user_name="Ada Lovelace", period="daily",
        period_key="2026-11-24", period_start=T, period_end=T, sections=(DigestSection("diffusion models", items),),
        source_status=("arXiv did not announce today",),
    )
    base.update(kw)
    return Digest(**base)
