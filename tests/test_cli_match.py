"""The matching commands end to end over a temporary config and SQLite file (JSON field contract)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eval_papers import EVAL, eval_records

from digest.cli import cli
from digest.cli.match import sparkline
from digest.store import Store

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
    assert text.stdout.rstrip().endswith("3 results")

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


def test_eval_table_marks_an_invalid_query_instead_of_scoring_it(config: Path, tmp_path: Path) -> None:
    """A query the language refuses (an unclosed quote) is shown as "invalid" in the per-query table,
    with its error, not as an F1 of 0.00 that reads like a bad match."""
    queries = tmp_path / "q.tsv"
    queries.write_text('kd-1\tknowledge distillation\nkd-2\t"knowledge distillation\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "eval", str(queries), str(EVAL / "qrels.txt"),
                                      "--papers", str(EVAL / "papers.jsonl")])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("kd-2"))
    assert row.split("\t")[2] == "invalid"
    assert "query kd-2 (digest): query error at column 1: unclosed quote" in result.stderr
