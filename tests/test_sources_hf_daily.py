"""digest.sources.hf_daily against the real Hugging Face daily-papers captures."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import ParseError
from digest.sources import hf_daily

DATA = Path(__file__).parent / "data" / "hf-daily"
SOTAWHAT = DATA / "sotawhat_hf_daily_papers_2026-06-12.json"
NEWSASSISTANT = DATA / "newsassistant_hf_daily_papers_2026-08-03.json"


def test_every_entry_of_the_real_capture_becomes_an_arxiv_record() -> None:
    raw = json.loads(SOTAWHAT.read_bytes())
    parsed = hf_daily.parse(SOTAWHAT.read_bytes(), source="hf")
    assert parsed.kind == "hf-daily" and parsed.status == "ok" and not parsed.warnings
    assert [r.arxiv_id for r in parsed.records] == [e["paper"]["id"] for e in raw]
    assert all(r.source_kind == "hf-daily" and r.title and r.abstract and r.tldr for r in parsed.records)
    assert {r.signals["upvotes"] for r in parsed.records} >= {0, 118}


def test_first_record_fields() -> None:
    r = hf_daily.parse(SOTAWHAT.read_bytes()).records[0]
    assert r.arxiv_id == "2606.00467" and r.external_id == "2606.00467" and r.version is None
    assert r.title == ("On the Limits of LLM Adaptability: Impact of Model-Internalized Priors on Annotation "
                       "Task Performance")
    assert r.authors == ("Etienne Casanova", "Rafal Kocielnik", "R. Michael Alvarez")
    assert r.abstract.startswith("Large Language Models (LLMs) are increasingly used for zero-shot annotation")
    assert r.tldr is not None and r.tldr.startswith("Large language models exhibit limited ability")
    assert "decision stickiness" in r.keywords and len(r.keywords) == 14
    assert r.published == datetime(2026, 5, 30, tzinfo=timezone.utc)
    assert r.pdf_url == "https://arxiv.org/pdf/2606.00467" and r.url is None
    assert r.signals == {"upvotes": 0, "comments": 2, "organization": "California institute of technology",
                         "submitted_on_daily_at": "2026-06-12T00:00:00+00:00",
                         "hf_url": "https://huggingface.co/papers/2606.00467"}


def test_code_project_page_and_stars() -> None:
    r = hf_daily.parse(NEWSASSISTANT.read_bytes()).records[0]
    assert r.arxiv_id == "2607.26654"
    assert r.code_url == "https://github.com/desBugger/constitutional-mt"
    assert r.signals["github_stars"] == 2 and r.signals["comments"] == 1 and r.signals["upvotes"] == 3
    assert r.signals["project_page"] == "https://www.lesswrong.com/posts/n5htoDGvKKJFAjji2"
    assert r.signals["organization"] == "University of Oxford"
    # Authors with a claimed HF account and hidden ones are authors all the same.
    assert r.authors[0] == "Desiree Cho" and len(r.authors) == 7


def test_hidden_authors_are_kept() -> None:
    raw = json.loads(SOTAWHAT.read_bytes())
    hidden = {a["name"] for e in raw for a in e["paper"]["authors"] if a.get("hidden")}
    names = {a for r in hf_daily.parse(SOTAWHAT.read_bytes()).records for a in r.authors}
    assert hidden and hidden <= names


def test_broken_entries_are_skipped_with_warnings_and_hostile_values_cleaned() -> None:
    good = json.loads(NEWSASSISTANT.read_bytes())[0]
    hostile = json.loads(json.dumps(good))
    hostile["paper"].update(id="2401.01234", title="<b>Bold</b> <script>x()</script>title",
                            githubRepo="javascript:alert(1)", projectPage="data:text/html,x", upvotes="7")
    doc = [good, {"paper": {"title": "no id"}}, "junk", {"no": "paper"}, hostile, good]
    parsed = hf_daily.parse(json.dumps(doc).encode())
    assert [r.arxiv_id for r in parsed.records] == ["2607.26654", "2401.01234"]  # duplicate dropped
    assert len(parsed.warnings) == 3
    h = parsed.records[1]
    assert h.title == "Bold title" and h.code_url is None and "project_page" not in h.signals
    assert h.signals["upvotes"] == 7


def test_bare_paper_objects_read_like_daily_entries() -> None:
    # /api/papers/<arXiv id> answers with the paper object alone; a saved list may hold several.
    entry = json.loads(SOTAWHAT.read_bytes())[0]
    (wrapped,) = hf_daily.parse(json.dumps([{"paper": entry["paper"]}]).encode()).records
    (alone,) = hf_daily.parse(json.dumps(entry["paper"]).encode()).records
    assert alone == wrapped and alone.arxiv_id == entry["paper"]["id"]
    # Comments are counted on the daily entry only: a paper object alone does not say how many.
    assert alone.signals.get("comments") is None and hf_daily.parse(json.dumps([entry]).encode()).records[0].signals[
        "comments"] == entry["numComments"]
    assert len(hf_daily.parse(json.dumps([entry["paper"], entry]).encode()).records) == 1  # the same paper twice


def test_author_names_are_plain_text() -> None:
    entry = json.loads(SOTAWHAT.read_bytes())[0]
    paper = dict(entry["paper"], authors=[{"name": "Jos&eacute; García"}, {"name": "<b>Ada</b>  Lovelace "},
                                          {"name": " "}])
    (r,) = hf_daily.parse(json.dumps([{"paper": paper}]).encode()).records
    assert r.authors == ("José García", "Ada Lovelace")


def test_lone_surrogates_and_nul_escapes_become_storable_text(tmp_path: Path) -> None:
    # JSON may escape half an emoji pair ("\\ud83d" alone) or NUL; no database stores them.
    entry = json.loads(SOTAWHAT.read_bytes())[0]
    doc = json.dumps([{"paper": dict(entry["paper"], title="Half \ud83d an emoji\u0000", summary="ok \udc00")}])
    (r,) = hf_daily.parse(doc.encode()).records
    assert (r.title, r.abstract) == ("Half \ufffd an emoji", "ok \ufffd")
    from digest.store import Store
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert store.ingest_records("hf", [r]).new == 1
    finally:
        store.close()


def test_empty_day_and_not_a_list() -> None:
    assert hf_daily.parse(b"[]").status == "empty"
    assert hf_daily.parse(b'{"error": "Rate limited"}').status == "error"
    with pytest.raises(ParseError):
        hf_daily.parse(b'{"papers": []}')
    with pytest.raises(ParseError):
        hf_daily.parse(b"[{")


_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                                st.sampled_from(["paper", "id", "title", "authors", "name", "summary", "upvotes",
                                                 "githubRepo", "ai_keywords", "publishedAt", "organization"]),
                                inner, max_size=6), max_leaves=25)


@settings(max_examples=200, deadline=None)
@given(_json_values)
def test_any_json_gives_records_or_parse_error(doc: object) -> None:
    try:
        parsed = hf_daily.parse(json.dumps(doc).encode())
    except ParseError:
        return
    assert all(r.title and r.external_id for r in parsed.records)


def test_a_date_its_zone_moves_past_year_9999_is_no_date() -> None:
    """"9999-12-31T23:00:00-05:00" is 10000-01-01 in UTC: a damaged date, not a damaged answer."""
    answer = json.loads(SOTAWHAT.read_bytes())
    for key in ("publishedAt", "submittedOnDailyAt"):
        answer[0]["paper"][key] = answer[0][key] = "9999-12-31T23:00:00-05:00"
    records = hf_daily.parse(json.dumps(answer).encode()).records
    assert len(records) == len(answer) and records[0].published is None


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("upvotes", 10**9, "above the ceiling of 100,000"),
    ("upvotes", -3, "negative"),
    ("upvotes", 3.5, "not a whole number"),
    ("upvotes", "many", "not a whole number"),
    ("upvotes", True, "not a whole number"),
    ("upvotes", 10**30, "above the ceiling of 100,000"),  # past 32 bits: still named as too large
    ("upvotes", "5000000000", "above the ceiling of 100,000"),  # as text too: a number, too large
    ("upvotes", "-12", "negative"),
    ("upvotes", "\u00b2", "not a whole number"),  # a digit to str.isdigit, not to int()
    ("upvotes", "\u0663", "not a whole number"),  # Arabic-Indic three: no API sends that for a count
    ("numComments", 250_000, "above the ceiling of 100,000"),
    ("numComments", [4], "not a whole number"),
    ("githubStars", 10**9, "above the ceiling of 2,000,000"),
    ("githubStars", float("inf"), "not a whole number"),
])
def test_an_implausible_count_is_dropped_with_a_warning_and_the_entry_kept(key: str, value: object,
                                                                           reason: str) -> None:
    """One damaged count (10^9 upvotes would top the trending digest for a week) is no signal; the
    warning names the entry, the field and why, and the rest of the entry is still read."""
    good, *rest = json.loads(SOTAWHAT.read_bytes())
    target = good if key == "numComments" else good["paper"]
    target[key] = value
    parsed = hf_daily.parse(json.dumps([good, *rest]).encode())
    first = parsed.records[0]
    assert len(parsed.records) == len(rest) + 1 and first.arxiv_id == "2606.00467" and first.abstract
    signal = {"upvotes": "upvotes", "numComments": "comments", "githubStars": "github_stars"}[key]
    assert signal not in first.signals
    assert parsed.warnings == (f"entry 1 (2606.00467): {key} {value!r} ignored: {reason}",)


def test_counts_at_their_ceiling_and_large_real_star_counts_are_kept() -> None:
    good = json.loads(NEWSASSISTANT.read_bytes())[0]
    good["paper"].update(upvotes=hf_daily.MAX_UPVOTES, githubStars=412_000)  # freeCodeCamp has ~400k stars
    good["numComments"] = "12"  # a count sent as text reads as the count
    parsed = hf_daily.parse(json.dumps([good]).encode())
    assert not parsed.warnings
    assert {k: parsed.records[0].signals[k] for k in ("upvotes", "comments", "github_stars")} == {
        "upvotes": 100_000, "comments": 12, "github_stars": 412_000}


def test_a_long_rejected_value_is_quoted_short() -> None:
    good = json.loads(NEWSASSISTANT.read_bytes())[0]
    good["paper"]["upvotes"] = "x" * 10_000
    (warning,) = hf_daily.parse(json.dumps([good]).encode()).warnings
    assert warning.startswith("entry 1 (2607.26654): upvotes 'xxx") and len(warning) < 120
    assert warning.endswith("... ignored: not a whole number")


def test_2026_captures_of_two_other_projects() -> None:
    """YimingCao-Eric/AI-news (cut to 3 entries) and arku02/ai-daily (no ``paper.authors`` at all)."""
    cut = hf_daily.parse((DATA / "YimingCao-AI-news_hf_daily_papers_2026-09-14_first3.json").read_bytes())
    assert cut.status == "ok" and [r.arxiv_id for r in cut.records] == ["2609.07099", "2609.07154", "2609.10824"]
    first = cut.records[0]
    # Text, never markup: the model's output token stays as written, so does "<=2B".
    assert "either interrupt<utterance> or silent" in first.abstract
    assert any("<=2B" in r.abstract for r in cut.records)
    assert first.code_url == "https://github.com/ambient-intelligence-hq/egoproactive-verbalizer"
    assert first.signals["organization"] == "Ambient Intelligence" and first.authors == ("Logesh Kumar Umapathi",)
    bare = hf_daily.parse((DATA / "arku02-ai-daily_hf_daily_papers_2026-09-29.json").read_bytes())
    assert bare.status == "ok" and len(bare.records) == 2 and not bare.warnings
    assert all(r.authors == () and r.abstract for r in bare.records)
    assert bare.records[0].signals["upvotes"] == 112
    assert bare.records[1].signals["project_page"] == "https://zhishanq.github.io/TraceDance/"
