"""digest.sources.openreview against synthetic API v2 answers (no real capture exists; see
tests/data/openreview/README.md)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from digest.errors import ParseError
from digest.sources import openreview

pytestmark = pytest.mark.synthetic

DATA = Path(__file__).parent / "data" / "openreview"
PAGE1 = (DATA / "venue_notes_page1_synthetic.json").read_bytes()
PAGE2 = (DATA / "venue_notes_page2_synthetic.json").read_bytes()


def test_notes_become_records() -> None:
    parsed = openreview.parse(PAGE1, source="iclr")
    assert parsed.kind == "openreview" and parsed.status == "ok" and parsed.total_results == 3
    r = parsed.records[0]
    assert r.openreview_id == r.external_id == "aB3xYz9QrSt"
    assert r.title == "Sparse Attention Routing for Long-Context Language Models"
    assert r.authors == ("Ada Example", "Bruno Placeholder", "Chen Sample")
    assert r.abstract == ("We study sparse attention routing. Our method learns which key blocks each query needs "
                          "& skips the rest. Experiments on synthetic benchmarks show a 4x speed-up.")
    assert r.tldr == "Route each query to a few key blocks; same quality at a fraction of the cost."
    assert r.keywords == ("long context", "sparse attention", "language models")
    assert r.categories == ("foundation or frontier models",)
    assert r.venue == "ICLR 2024 poster"
    assert r.url == "https://openreview.net/forum?id=aB3xYz9QrSt"
    assert r.pdf_url == "https://openreview.net/pdf?id=aB3xYz9QrSt"
    assert r.code_url == "https://github.com/example/sparse-routing"
    assert r.published == datetime.fromtimestamp(1705500000, tz=timezone.utc)
    assert r.updated == datetime.fromtimestamp(1710000000, tz=timezone.utc)
    assert r.signals == {"venueid": "ICLR.cc/2024/Conference", "number": 101}
    assert r.arxiv_id is None


def test_an_arxiv_link_in_the_note_merges_it_with_the_preprint() -> None:
    r = openreview.parse(PAGE2).records[0]
    assert r.arxiv_id == "2310.01234" and r.openreview_id == "Kp2Vb8nRt1M"
    assert r.tldr is None and r.title == "Graph Rewiring with k-hop Curvature"


def test_api_v1_shape_is_read_too() -> None:
    note = {"id": "v1note", "forum": "v1note", "cdate": 1500000000000,
            "content": {"title": "Old style", "authors": ["A B"], "abstract": "x", "TL;DR": "short",
                        "keywords": "one, two", "pdf": "/pdf/abc.pdf"}}
    r = openreview.parse(json.dumps({"notes": [note], "count": 1}).encode()).records[0]
    assert (r.title, r.tldr, r.keywords) == ("Old style", "short", ("one", "two"))
    assert r.published == datetime.fromtimestamp(1500000000, tz=timezone.utc)


def test_replies_and_broken_notes_are_warnings() -> None:
    notes = json.loads(PAGE1)["notes"]
    review = {"id": "rev1", "forum": "aB3xYz9QrSt", "content": {"title": {"value": "Official review"}}}
    doc = {"notes": [notes[0], review, {"id": "x", "content": {}}, 5, notes[0]], "count": 5}
    parsed = openreview.parse(json.dumps(doc).encode())
    assert [r.external_id for r in parsed.records] == ["aB3xYz9QrSt"]
    assert len(parsed.warnings) == 3


def test_error_answer_and_garbage() -> None:
    parsed = openreview.parse((DATA / "error_synthetic.json").read_bytes())
    assert parsed.status == "error" and "Group Not Found" in (parsed.message or "")
    assert openreview.parse(b'{"notes": [], "count": 0}').status == "empty"
    for bad in (b"[]", b'{"x": 1}', b"<html></html>", b""):
        with pytest.raises(ParseError):
            openreview.parse(bad)


def test_paging_by_offset_until_count() -> None:
    url = openreview.notes_url("ICLR.cc/2024/Conference", limit=2)
    assert url == "https://api2.openreview.net/notes?content.venueid=ICLR.cc%2F2024%2FConference&offset=0&limit=2"
    nxt = openreview.next_page_url(url, PAGE1)
    assert nxt == "https://api2.openreview.net/notes?content.venueid=ICLR.cc%2F2024%2FConference&offset=2&limit=2"
    assert nxt is not None and openreview.next_page_url(nxt, PAGE2) is None
    assert openreview.next_page_url(url, b'{"notes": [], "count": 10}') is None
    assert openreview.next_page_url(url, b"not json") is None


def _one(content: dict[str, object], **note: object) -> openreview.PaperRecord:
    doc = {"notes": [{"id": "n1", "forum": "n1", "content": content, **note}], "count": 1}
    (r,) = openreview.parse(json.dumps(doc).encode()).records
    return r


def test_api_v1_iclr_2021_note() -> None:
    # ICLR 2021 (API v1): no cdate, only tcdate/tmdate; the TL;DR field was "one-sentence_summary".
    r = _one({"title": "Old venue", "authors": ["Ann Smith"], "one-sentence_summary": "We learn alpha.",
              "abstract": "x", "pdf": "/pdf/abc.pdf", "venue": "ICLR 2021 Poster", "venueid": "ICLR.cc/2021/Conference"},
             cdate=None, tcdate=1600900000000, tmdate=1610000000000, ddate=None)
    assert r.tldr == "We learn alpha."
    assert r.published == datetime.fromtimestamp(1600900000, tz=timezone.utc)
    assert r.updated == datetime.fromtimestamp(1610000000, tz=timezone.utc)


@pytest.mark.parametrize(("keywords", "expected"), [
    ({"value": ["deep learning, variational inference", "divergences"]},
     ("deep learning", "variational inference", "divergences")),
    ({"value": "graph neural networks; over-smoothing; rewiring"}, ("graph neural networks", "over-smoothing", "rewiring")),
    ("one, two", ("one", "two")),
    (["Transformers", "transformers", " "], ("Transformers",)),
])
def test_keywords_typed_as_one_list(keywords: object, expected: tuple[str, ...]) -> None:
    assert _one({"title": "T", "keywords": keywords}).keywords == expected


def test_authors_written_as_one_string_are_split() -> None:
    assert _one({"title": "T", "authors": {"value": "Ann Smith, Bob Jones and Chen Li"}}).authors == (
        "Ann Smith", "Bob Jones", "Chen Li")


def test_hostile_markup_never_reaches_records() -> None:
    r = _one({"title": {"value": "T"}, "authors": {"value": ["Ann <b>Bold</b><script>alert(1)</script>", "Bob  Two"]},
              "venueid": {"value": "ICLR.cc/2024/Conference<script>alert(2)</script>"},
              "keywords": {"value": ["<img src=x onerror=alert(3)>kw"]}})
    assert r.authors == ("Ann Bold", "Bob Two") and r.keywords == ("kw",)
    assert r.signals["venueid"] == "ICLR.cc/2024/Conference"
