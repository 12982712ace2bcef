"""The matching commands end to end over a temporary config and SQLite file (JSON field contract)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eval_papers import EVAL, eval_records

from digest.cli import cli
from digest.cli.match import sparkline
from digest.models import PaperRecord
from digest.store import Store

from scale_helpers import bulk_store, count_loaded_papers

CONFIG = """
data_dir = "data"

[[tags]]
name = "federated"
query = "federated learning"

[[users]]
email = "ada@example.org"
name = "Ada"
timezone = "Europe/London"
hour = 6

[[users.subscriptions]]
name = "kd"
query = "knowlege distilation"
every = "weekly"
channel = "email"
threshold = 1.5
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def _ingest(config: Path, ids: list[str] | None = None) -> None:
    store = Store.open(f"sqlite:///{config.parent / 'data' / 'digest.db'}")
    store.ingest_records("eval", eval_records(ids))
    store.close()


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_init_applies_users_subscriptions_and_tags(config: Path) -> None:
    assert run(config, "init").exit_code == 0
    users = _json(run(config, "users", "list", "--json"))
    assert [(u["email"], u["name"], u["timezone"], u["hour"], u["origin"]) for u in users] == [
        ("ada@example.org", "Ada", "Europe/London", 6, "config")]
    assert users[0]["subscriptions"][0] | {"id": 0} == {
        "id": 0, "name": "kd", "kind": "query", "query": "knowlege distilation", "every": "weekly",
        "channel": "email", "threshold": 1.5, "paused": False}
    assert {"tag": "federated", "papers": 0, "origin": "config"} in _json(run(config, "tags", "--json"))


def test_bad_config_query_names_the_key(config: Path) -> None:
    config.write_text(CONFIG.replace('query = "federated learning"', 'query = "the"'), encoding="utf-8")
    result = run(config, "init")
    assert result.exit_code == 1
    assert "tags.0.query" in result.stderr and "stop word" in result.stderr


def test_users_add_subscribe_unsubscribe(config: Path) -> None:
    out = run(config, "users", "add", "Bob@Example.org", "--name", "Bob", "--hour", "9", "--timezone", "Asia/Tokyo")
    assert out.exit_code == 0 and "bob@example.org" in out.stdout
    assert run(config, "users", "add", "x@example.org", "--timezone", "Mars/Base").exit_code == 2
    ok = run(config, "subscribe", "bob@example.org", "self supervised OR ti:contrastive", "--name", "ssl",
             "--every", "weekly", "--channel", "feed", "--threshold", "2")
    assert ok.exit_code == 0, ok.output
    bad = run(config, "subscribe", "bob@example.org", 'ti:"unclosed', "--name", "bad")
    assert bad.exit_code == 2
    assert "column" in bad.stderr and "^" in bad.stderr
    useless = run(config, "subscribe", "bob@example.org", "NOT gan", "--name", "useless")
    assert useless.exit_code == 2 and "exclude" in useless.stderr
    assert run(config, "subscribe", "bob@example.org", "--name", "none").exit_code == 2
    assert run(config, "subscribe", "bob@example.org", "--tag", "nosuchtag", "--name", "t").exit_code == 1
    assert run(config, "subscribe", "bob@example.org", "--trending", "--name", "hot").exit_code == 0
    subs = _json(run(config, "users", "list", "--json"))[0]["subscriptions"]
    assert [(s["name"], s["kind"], s["every"], s["channel"], s["threshold"]) for s in subs] == [
        ("hot", "trending", "daily", "both", None), ("ssl", "query", "weekly", "feed", 2.0)]
    assert run(config, "unsubscribe", "bob@example.org", "ssl").exit_code == 0
    assert run(config, "unsubscribe", "bob@example.org", "ssl").exit_code == 1


def test_query_check(config: Path) -> None:
    ok = run(config, "query", "check", "knowlege distilation -dataset")
    assert ok.exit_code == 0 and ok.stdout.startswith("ok: ")
    bad = run(config, "query", "check", "diffusion AND (image OR")
    assert bad.exit_code == 2
    assert "column" in bad.stderr
    assert bad.stderr.splitlines()[-2:] == ["diffusion AND (image OR", " " * (bad.stderr.splitlines()[-1].index("^")) + "^"]


def test_match_matches_search_and_tags(config: Path) -> None:
    assert run(config, "init").exit_code == 0
    _ingest(config)
    out = run(config, "match")
    assert out.exit_code == 0 and "new paper events matched" in out.stdout
    found = _json(run(config, "matches", "--json"))
    assert found and {"user", "subscription", "paper_id", "score", "explanation"} <= set(found[0])
    assert {m["user"] for m in found} == {"ada@example.org"} and {m["subscription"] for m in found} == {"kd"}
    assert all(m["paper_id"].startswith("arxiv:") and m["score"] >= 1.5 for m in found)
    assert "arxiv:2505.11897" in {m["paper_id"] for m in found}
    assert len(_json(run(config, "matches", "--json", "--limit", "2"))) == 2
    assert _json(run(config, "matches", "--json", "--user", "ada@example.org", "--subscription", "kd")) == found
    assert "matches" in run(config, "matches").stdout
    # A second run has nothing to do.
    assert "0 new paper events" in run(config, "match").stdout

    hits = _json(run(config, "search", "federated learning", "--json"))
    assert hits and hits == sorted(hits, key=lambda h: -h["score"])
    assert {"paper_id", "score", "explanation", "title"} <= set(hits[0])
    text = run(config, "search", "federated learning", "--limit", "3")
    assert len(hits) > 3 and text.stdout.rstrip().endswith(f"{len(hits)} results, 3 shown")

    tags = {t["tag"]: t["papers"] for t in _json(run(config, "tags", "--json"))}
    assert tags["federated"] >= 10 and tags["math.CO"] >= 1


def test_query_test_json_and_sparkline(config: Path) -> None:
    _ingest(config)
    report = _json(run(config, "query", "test", "federated learning", "--days", "7", "--json"))
    assert len(report["per_day"]) == 7 and report["total"] == sum(d["count"] for d in report["per_day"])
    assert report["top"] and report["top"][0]["explanation"]["clauses"]
    none = _json(run(config, "query", "test", "ti:zyxwvutsrqp", "--json"))
    assert none["total"] == 0 and none["warnings"]
    text = run(config, "query", "test", "federated learning")
    assert "/day" in text.stdout


def test_sparkline() -> None:
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([0, 4, 8]) == "▁▅█"


def test_user_tag_labels_and_subscription(config: Path) -> None:
    assert run(config, "users", "add", "ada@example.org").exit_code == 0
    _ingest(config, ["2211.04742", "2411.07483", "2504.05615"])
    assert run(config, "tag", "add", "ada@example.org", "kd", "2211.04742").exit_code == 0
    out = run(config, "tag", "add", "ada@example.org", "kd", "arXiv:2504.05615", "--not-relevant")
    assert out.exit_code == 0 and "not relevant" in out.stdout
    assert run(config, "tag", "add", "ada@example.org", "kd", "9999.99999").exit_code == 1
    assert run(config, "subscribe", "ada@example.org", "--user-tag", "kd", "--name", "more-kd").exit_code == 0


def test_eval_command(config: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.tsv"
    queries.write_text("kd-1\tknowledge distillation\ngan-1\tGAN\n", encoding="utf-8")
    report = _json(run(config, "eval", str(queries), str(EVAL / "qrels.txt"), "--papers", str(EVAL / "papers.jsonl"),
                       "--json"))
    assert set(report["systems"]) == {"digest", "substring", "bm25"}
    assert report["queries"] == 2 and report["papers"] == 440
    assert {r["query_id"] for r in report["per_query"]} == {"kd-1", "gan-1"}
    table = run(config, "eval", str(queries), str(EVAL / "qrels.txt"), "--papers", str(EVAL / "papers.jsonl"))
    assert "micro F1" in table.stdout


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_eval_refuses_a_queries_file_with_a_query_that_does_not_parse(config: Path, tmp_path: Path,
                                                                     as_json: bool) -> None:
    """A query the language refuses (an unclosed quote) stops the evaluation: one error line naming the
    file, the line, the query's id and text and the parser's reason, exit 1 and no figures. Scored as
    retrieving nothing, it gave an overall F1 that looked plausible but was not the file's."""
    queries = tmp_path / "q.tsv"
    queries.write_text('kd-1\tknowledge distillation\nkd-2\t"knowledge distillation\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "eval", str(queries), str(EVAL / "qrels.txt"),
                                      "--papers", str(EVAL / "papers.jsonl"), *(["--json"] if as_json else [])])
    assert result.exit_code == 1 and result.stdout == "", result.output
    assert result.stderr == (f"error: {queries}: cannot read as queries TSV: line 2: query kd-2 "
                             "'\"knowledge distillation' does not parse: query error at column 1: unclosed quote\n")


# --- a bulk-imported installation ----------------------------------------------------------------

BULK_CONFIG = """
data_dir = "{data}"

[database]
url = "sqlite:///{db}"

[web]
base_url = "http://localhost:8000"

[[tags]]
name = "nanotubes"
query = "nanotube"

[[users]]
email = "ada@example.org"
name = "Ada"
timezone = "Europe/London"
hour = 6

[[users.subscriptions]]
name = "carbon nanotubes"
query = '"carbon nanotubes"'
every = "daily"
channel = "both"
"""


@pytest.fixture
def bulk_config(tmp_path: Path) -> Path:
    """The config of a freshly bulk-imported installation: snapshot papers stored, nothing matched yet."""
    path = tmp_path / "digest.toml"
    path.write_text(BULK_CONFIG.format(data=tmp_path, db=bulk_store(tmp_path)), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [("query", "check", '"carbon nanotubes"'), ("init",)],
                         ids=["query-check", "init"])
def test_without_saved_statistics_a_sample_of_the_newest_papers_is_read(
        bulk_config: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]) -> None:
    """Before the first `digest match` no corpus statistics are saved; `digest query check`, `digest
    init` (checking the config's queries), `digest subscribe` and the web's alert checks build them
    from a bounded sample of the newest papers (digest.match.run.STATS_SAMPLE), not from every
    stored paper: that took ~550 s per call on a 400,000-paper store."""
    monkeypatch.setattr("digest.match.run.STATS_SAMPLE", 40)
    loaded = count_loaded_papers(monkeypatch)
    result = run(bulk_config, *command)
    assert result.exit_code == 0, result.output
    assert 0 < loaded.rows <= 40, f"`digest {' '.join(command)}` loaded {loaded.rows} stored papers"


def _recent_listing(store: Store, n: int = 5) -> None:
    """Today's arXiv listing arrives after the snapshot import: ``n`` new papers published this week."""
    day = datetime(2026, 11, 23, tzinfo=timezone.utc)
    store.ingest_records("arxiv-cond-mat", [
        PaperRecord(source_kind="arxiv-rss", external_id=f"2611.{i:05d}", arxiv_id=f"2611.{i:05d}", version=1,
                    title=f"Carbon nanotubes junctions study {i}", authors=("Ada Lovelace",),
                    abstract="We study single walled carbon nanotubes.", categories=("cond-mat.mtrl-sci",),
                    published=day - timedelta(days=i))
        for i in range(1, n + 1)])


def test_query_test_reads_only_the_papers_of_its_window(bulk_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`digest query test QUERY --days 30` and the alert editor's preview read and score only the
    papers dated within the window, not the whole back catalogue of a snapshot import (~1,100 s per
    preview on a 400,000-paper store), and count what scoring every stored paper would."""
    from digest.match.search import paper_day, search

    assert run(bulk_config, "match").exit_code == 0  # statistics saved: only the preview is counted
    store = Store.open(f"sqlite:///{bulk_config.parent / 'digest.db'}", migrate=False)
    try:
        _recent_listing(store)
        every = search(store, '"carbon nanotubes"')
    finally:
        store.close()
    loaded = count_loaded_papers(monkeypatch)
    report = _json(run(bulk_config, "query", "test", '"carbon nanotubes"', "--days", "30", "--json"))
    assert loaded.rows <= 50, f"a 30-day preview loaded {loaded.rows} papers; 5 are in the window"
    start, end = (datetime.fromisoformat(report["per_day"][i]["date"]).date() for i in (0, -1))
    in_window = [h.paper.id for h in every if start <= paper_day(h.paper) <= end]  # type: ignore[operator]
    assert report["total"] == len(in_window) == 5
    assert [h["paper_id"] for h in report["top"]] == in_window[:10]


def test_search_with_limit_counts_every_match(bulk_config: Path) -> None:
    """`digest search TEXT --limit N` prints N papers and says how many matched in all, as the web's
    search page counts them all whichever page it shows."""
    assert run(bulk_config, "match").exit_code == 0
    every = _json(run(bulk_config, "search", "ti:magnetic", "--json"))
    assert len(every) > 2
    assert len(_json(run(bulk_config, "search", "ti:magnetic", "--limit", "2", "--json"))) == 2
    result = run(bulk_config, "search", "ti:magnetic", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == f"{len(every)} results, 2 shown", result.output
