"""The matching command line end to end: `digest query check`, `digest subscribe`, `digest users add`,
`digest init` on a changed alert and `digest tag`. A mistake is refused with a reason (exit non-zero),
never a traceback, and nothing already saved is lost. Each test drives the real `digest` click app over a
temporary config and SQLite file (as tests/test_cli_match.py does) and reads the JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eval_papers import eval_records

from digest.cli import cli
from digest.models import PaperRecord
from digest.store import Store

CONFIG = """
data_dir = "data"

[[users]]
email = "ada@example.org"
name = "Ada"
timezone = "Europe/London"
hour = 6
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(CONFIG, encoding="utf-8")
    assert run(path, "init").exit_code == 0
    return path


def run(config: Path, *args: str) -> Result:
    # Exceptions are caught so that a traceback shows up as result.exception, not as a test error.
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _paper(arxiv_id: str, title: str, authors: list[str], abstract: str = "") -> PaperRecord:
    return PaperRecord(source_kind="arxiv", external_id=arxiv_id, arxiv_id=arxiv_id, title=title,
                       authors=tuple(authors), abstract=abstract, categories=("cs.LG",))


def _ingest(config: Path, records: list[PaperRecord]) -> None:
    store = Store.open(f"sqlite:///{config.parent / 'data' / 'digest.db'}")
    try:
        store.ingest_records("arxiv-cs", records)
    finally:
        store.close()


# --- query check / subscribe / users ---------------------------------------------------------------


@pytest.mark.parametrize("query", ["NOT gan", "the", "cat:foo.bar"])
def test_query_check_refuses_what_subscribe_refuses(config: Path, query: str) -> None:
    """`digest query check` refuses (exit 2, with the column) every query `digest subscribe` refuses:
    "NOT gan", a lone stop word, an unknown category. Both apply the save-time validation of
    docs/queries.md."""
    assert run(config, "subscribe", "ada@example.org", query, "--name", "x").exit_code == 2
    checked = run(config, "query", "check", query)
    assert checked.exit_code == 2, checked.output
    assert "column" in checked.stderr


def test_subscribe_with_an_existing_name_is_refused(config: Path) -> None:
    """`digest subscribe` with a name the user already has is refused with a reason naming it: Ada's
    alert "kd" (knowledge distillation) keeps its query, so its matched papers are not listed as if
    "federated learning" had found them."""
    assert run(config, "subscribe", "ada@example.org", "knowledge distillation", "--name", "kd").exit_code == 0
    _ingest(config, eval_records())
    assert run(config, "match").exit_code == 0
    again = run(config, "subscribe", "ada@example.org", "federated learning", "--name", "kd")
    _no_traceback(again)
    assert again.exit_code != 0
    assert "kd" in again.stderr
    subs = _json(run(config, "users", "list", "--json"))[0]["subscriptions"]
    assert [(s["name"], s["query"]) for s in subs] == [("kd", "knowledge distillation")]


def test_changing_a_config_query_drops_matches_of_the_old_query(config: Path) -> None:
    """When the operator changes a config alert's query ("kd": knowledge distillation -> federated
    learning) and runs `digest init`, `digest matches` no longer lists the papers of the old query under
    "kd", so Ada's next digest does not send them."""
    sub = '\n[[users.subscriptions]]\nname = "kd"\nquery = "{q}"\n'
    config.write_text(CONFIG + sub.format(q="knowledge distillation"), encoding="utf-8")
    assert run(config, "init").exit_code == 0
    _ingest(config, eval_records())
    assert run(config, "match").exit_code == 0
    assert _json(run(config, "matches", "--json", "--subscription", "ada@example.org/kd"))
    config.write_text(CONFIG + sub.format(q="federated learning"), encoding="utf-8")
    assert run(config, "init").exit_code == 0
    left = _json(run(config, "matches", "--json", "--subscription", "ada@example.org/kd"))
    clauses = {c["clause"].lower() for m in left for c in m["explanation"].get("clauses", [])}
    assert not clauses & {"knowledge", "distillation", "knowledge distillation"}, clauses


def test_users_add_to_change_the_name_keeps_the_schedule(config: Path) -> None:
    """`digest users add EMAIL` ("Add or update") changes only the options given: Bob fixes his name and
    keeps his 09:00 Asia/Tokyo schedule and weekday; a later `--hour 8` keeps the name."""
    assert run(config, "users", "add", "bob@example.org", "--timezone", "Asia/Tokyo", "--hour", "9",
               "--weekday", "4").exit_code == 0
    assert run(config, "users", "add", "bob@example.org", "--name", "Bob Smith").exit_code == 0
    assert run(config, "users", "add", "bob@example.org", "--hour", "8").exit_code == 0
    bob = next(u for u in _json(run(config, "users", "list", "--json")) if u["email"] == "bob@example.org")
    assert (bob["name"], bob["timezone"], bob["hour"], bob["weekday"]) == ("Bob Smith", "Asia/Tokyo", 8, 4)


def test_deeply_nested_query_is_an_error_not_a_traceback(config: Path) -> None:
    """A query with 300 nested parentheses (pasted from a generator or sent by a script) makes `digest
    query check` and `digest search` exit 2 with a one-line "error: ", not a traceback."""
    deep = "(" * 300 + "diffusion" + ")" * 300
    for args in (("query", "check", deep), ("search", deep)):
        result = run(config, *args)
        _no_traceback(result)
        assert result.exit_code == 2
        assert result.stderr.startswith("error: ")


# --- tags ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   "])
def test_tag_add_with_empty_tag_name_is_refused(config: Path, name: str) -> None:
    """`digest tag add` with an empty or blank tag name (an unset shell variable: `digest tag add ada ""
    2401.10002`) exits non-zero with a reason about the tag, not a traceback."""
    _ingest(config, [_paper("2401.10002", "A path towards autonomous machine intelligence", ["Yann LeCun"])])
    result = run(config, "tag", "add", "ada@example.org", name, "2401.10002")
    _no_traceback(result)
    assert result.exit_code != 0
    assert "tag" in result.stderr


def test_subscribe_to_a_blank_user_tag_is_refused(config: Path) -> None:
    """`digest subscribe --user-tag " "` is refused and saves no alert: a "papers like your ''" alert
    could never match."""
    result = run(config, "subscribe", "ada@example.org", "--user-tag", "   ", "--name", "more")
    _no_traceback(result)
    assert result.exit_code != 0
    assert _json(run(config, "users", "list", "--json"))[0]["subscriptions"] == []


def test_tag_apply_with_an_unknown_tag_name_is_an_error(config: Path) -> None:
    """`digest tag apply` with a name that is no configured tag (a typo: "federatd" for "federated")
    exits non-zero naming it, so the operator does not believe the tag was applied."""
    config.write_text(CONFIG + '\n[[tags]]\nname = "federated"\nquery = "federated learning"\n', encoding="utf-8")
    assert run(config, "init").exit_code == 0
    result = run(config, "tag", "apply", "federatd")
    _no_traceback(result)
    assert result.exit_code != 0
    assert "federatd" in result.stderr
