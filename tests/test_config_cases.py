"""Configuration and command-line edge cases a user or a script meets: every mistake is one clear
line that names the file (or environment variable), the key and the feed/user/tag concerned, and
never a traceback or a secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import load_settings, parse_interval, redact_url
from digest.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DIGEST_* variable of the developer's shell leaks into these cases."""
    for name in list(os.environ):
        if name.upper().startswith("DIGEST_"):
            monkeypatch.delenv(name)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text('data_dir = "data"\n' + body, encoding="utf-8")
    return path


def _error(tmp_path: Path, body: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, body))
    return info.value


def _no_traceback(result: Result) -> None:
    """CliRunner catches what would be a traceback: only a clean exit (SystemExit) is allowed."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def _feed(body: str, name: str = "f") -> str:
    return f'[[feeds]]\nname = "{name}"\n{body}\n'


# --- unknown keys and types ----------------------------------------------------------------------


def test_unknown_key_is_reported_with_a_suggestion_and_the_feed(tmp_path: Path) -> None:
    err = _error(tmp_path, _feed('kind = "arxiv-rss"\ncategories = ["cs.LG"]\nintervall = "1h"', "arxiv-cs"))
    assert err.key == "feeds.0.intervall" and err.path == str(tmp_path / "digest.toml")
    assert "unknown key 'intervall'" in str(err) and "did you mean 'interval'" in str(err)
    assert "feed 'arxiv-cs'" in str(err)


def test_unknown_section_is_reported(tmp_path: Path) -> None:
    err = _error(tmp_path, '[databse]\nurl = ""\n')
    assert "unknown key 'databse'" in str(err) and "did you mean 'database'" in str(err)


def test_user_error_names_the_user(tmp_path: Path) -> None:
    err = _error(tmp_path, '[[users]]\nemail = "ada@example.org"\nhour = 25\n')
    assert err.key == "users.0.hour" and "user 'ada@example.org'" in str(err)


def test_more_problems_are_counted(tmp_path: Path) -> None:
    err = _error(tmp_path, '[web]\nport = "x"\nhots = "a"\n')
    assert "1 more problem" in str(err)


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    err = _error(tmp_path, "[database\n")
    assert str(tmp_path / "digest.toml") in str(err) and "line 2" in str(err)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "status"])
    _no_traceback(result)
    assert result.exit_code == 1
    assert result.output.strip() == f"error: config {tmp_path / 'nope.toml'}: file not found"


# --- feeds ---------------------------------------------------------------------------------------


def test_duplicate_feed_names_name_the_file(tmp_path: Path) -> None:
    err = _error(tmp_path, _feed('kind = "hf-daily"', "a") + _feed('kind = "hf-daily"', "a"))
    assert err.path == str(tmp_path / "digest.toml") and "'a'" in str(err)


@pytest.mark.parametrize("body", ['kind = "rss"', 'kind = "rss"\ncategories = ["cs.LG"]', 'kind = "arxiv-rss"',
                                  'kind = "arxiv-rss"\ncategories = []', 'kind = "openreview"',
                                  'kind = "arxiv-rss"\nvenue = "ICLR.cc/2025/Conference"'])
def test_feed_without_a_source_is_refused(tmp_path: Path, body: str) -> None:
    err = _error(tmp_path, _feed(body))
    assert "feed 'f'" in str(err) and err.key is not None and err.key.startswith("feeds.0")


@pytest.mark.parametrize("cats", ['["foo bar"]', '["cs LG"]', '["astroph"]', '["cs.LG", ""]'])
def test_bad_arxiv_categories_are_refused_when_loading(tmp_path: Path, cats: str) -> None:
    err = _error(tmp_path, _feed(f'kind = "arxiv-rss"\ncategories = {cats}'))
    assert err.key == "feeds.0.categories" and "arXiv" in str(err)


def test_good_arxiv_categories_load(tmp_path: Path) -> None:
    cats = '["cs.LG", "stat.ML", "astro-ph.CO", "q-bio.NC", "math-ph", "cond-mat.mes-hall", "hep-th"]'
    settings = load_settings(_write(tmp_path, _feed(f'kind = "arxiv-atom"\ncategories = {cats}')))
    assert settings.feeds[0].categories[2] == "astro-ph.CO"


@pytest.mark.parametrize("body", ['kind = "rss"\nurl = "https://x.example/rss"\ncategories = ["cs.LG"]',
                                  'kind = "hf-daily"\nvenue = "ICLR.cc/2025/Conference"',
                                  'kind = "rss"\nurl = "https://x.example/rss"\nserver = "biorxiv"',
                                  'kind = "biorxiv"\nserver = "arxiv"'])
def test_options_of_another_kind_are_not_silently_ignored(tmp_path: Path, body: str) -> None:
    err = _error(tmp_path, _feed(body))
    assert "feed 'f'" in str(err)


def test_feed_name_must_not_be_empty(tmp_path: Path) -> None:
    err = _error(tmp_path, _feed('kind = "hf-daily"', "  "))
    assert err.key == "feeds.0.name"


# --- intervals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [(3600, 3600), ("1h", 3600), ("30m", 1800), ("90", 90),
                                                ("1.5h", 5400), ("1d", 86400), (" 2w ", 1209600)])
def test_intervals_keep_working(value: str | int, seconds: int) -> None:
    assert parse_interval(value) == seconds


@pytest.mark.parametrize(("value", "says"), [("0", "at least 60"), (0, "at least 60"), (-5, "at least 60"),
                                             ("-1h", "at least 60"), (True, "not a duration"),
                                             ("1 hour", "like 30m")])
def test_bad_intervals_are_explained(tmp_path: Path, value: object, says: str) -> None:
    toml = str(value).lower() if isinstance(value, bool) else repr(value).replace("'", '"')
    err = _error(tmp_path, _feed(f'kind = "hf-daily"\ninterval = {toml}'))
    assert err.key == "feeds.0.interval" and says in str(err) and "feed 'f'" in str(err)


# --- users, subscriptions, tags ------------------------------------------------------------------


def test_invalid_email_is_a_config_error(tmp_path: Path) -> None:
    err = _error(tmp_path, '[[users]]\nemail = "not-an-email"\n')
    assert err.key == "users.0.email" and "not-an-email" in str(err)


def test_duplicate_users_differing_in_case_are_refused(tmp_path: Path) -> None:
    err = _error(tmp_path, '[[users]]\nemail = "Ada@example.org"\n[[users]]\nemail = "ada@example.org"\n')
    assert err.key == "users.1.email" and "ada@example.org" in str(err)


def test_duplicate_subscription_names_are_refused(tmp_path: Path) -> None:
    err = _error(tmp_path, '[[users]]\nemail = "ada@example.org"\n'
                           '[[users.subscriptions]]\nname = "x"\nquery = "diffusion"\n'
                           '[[users.subscriptions]]\nname = "x"\nquery = "gan"\n')
    assert err.key == "users.0.subscriptions.1.name" and "ada@example.org" in str(err) and "'x'" in str(err)


def test_empty_subscription_name_is_refused(tmp_path: Path) -> None:
    err = _error(tmp_path, '[[users]]\nemail = "ada@example.org"\n[[users.subscriptions]]\nname = ""\nquery = "gan"\n')
    assert err.key == "users.0.subscriptions.0.name"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_threshold_that_is_no_finite_number_is_a_config_error(tmp_path: Path, value: str) -> None:
    """`threshold = nan` (valid TOML) is one config error naming the key, not a traceback from the
    middle of `digest init`."""
    body = f'[[users]]\nemail = "ada@example.org"\n[[users.subscriptions]]\nname = "d"\nquery = "diffusion"\nthreshold = {value}\n'
    err = _error(tmp_path, body)
    assert err.key == "users.0.subscriptions.0.threshold" and "finite" in str(err) and "ada@example.org/d" in str(err)
    result = CliRunner().invoke(cli, ["--config", str(_write(tmp_path, body)), "init"])
    _no_traceback(result)
    assert result.exit_code != 0 and "users.0.subscriptions.0.threshold" in result.output


def test_duplicate_and_empty_tag_names_are_refused(tmp_path: Path) -> None:
    err = _error(tmp_path, '[[tags]]\nname = "x"\nquery = "a"\n[[tags]]\nname = "x"\nquery = "b"\n')
    assert err.key == "tags.1.name" and "'x'" in str(err)
    assert _error(tmp_path, '[[tags]]\nname = ""\nquery = "a"\n').key == "tags.0.name"


# --- numbers and URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "key"), [("[smtp]\nport = 99999", "smtp.port"), ("[web]\nport = -1", "web.port"),
                                           ("[web]\nport = 0", "web.port"),
                                           ("[fetch]\nretries = -1", "fetch.retries"),
                                           ("[fetch]\nconnect_timeout = 0", "fetch.connect_timeout"),
                                           ("[fetch]\nmax_bytes = 0", "fetch.max_bytes"),
                                           ("[smtp]\ntimeout = -1", "smtp.timeout"),
                                           ('[web]\nbase_url = "localhost:8000"', "web.base_url")])
def test_out_of_range_values_are_refused(tmp_path: Path, body: str, key: str) -> None:
    assert _error(tmp_path, body + "\n").key == key


# --- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ['[smtp]\npassword = "hunter2"', 'secret_key = "hunter2"',
                                  '[web]\nsecret_key = "hunter2"', 'smtp_password = "hunter2"'])
def test_secret_in_the_file_is_refused_and_not_echoed(tmp_path: Path, body: str) -> None:
    config = _write(tmp_path, body + "\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "status"])
    _no_traceback(result)
    assert result.exit_code == 1 and "hunter2" not in result.output
    assert "in the environment" in result.output 


def test_secret_in_a_nested_environment_variable_points_at_the_right_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SMTP__PASSWORD", "hunter2")
    err = _error(tmp_path, "")
    assert "DIGEST_SMTP_PASSWORD" in str(err) and "hunter2" not in str(err)


# --- environment ---------------------------------------------------------------------------------


def test_environment_error_names_the_variable_not_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_WEB__PORT", "abc")
    err = _error(tmp_path, "")
    assert "DIGEST_WEB__PORT" in str(err) and str(tmp_path) not in str(err)


def test_environment_value_that_is_not_json_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_FETCH__ALLOW_HOSTS", "10.0.0.0/8")
    result = CliRunner().invoke(cli, ["--config", str(_write(tmp_path, "")), "status"])
    _no_traceback(result)
    assert result.exit_code == 1
    assert result.output.startswith("error: config") and "DIGEST_FETCH__ALLOW_HOSTS" in result.output
    assert "JSON" in result.output


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_WEB__PORT", "9000")
    monkeypatch.setenv("DIGEST_FETCH__ALLOW_HOSTS", '["10.0.0.0/8"]')
    settings = load_settings(_write(tmp_path, "[web]\nport = 8001\n"))
    assert settings.web.port == 9000 and settings.fetch.allow_hosts == ["10.0.0.0/8"]


# --- database ------------------------------------------------------------------------------------


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(_write(tmp_path, '[database]\nurl = "sqlite:///db/digest.db"\n'))
    assert settings.database_url == f"sqlite:///{(tmp_path.resolve() / 'db' / 'digest.db').as_posix()}"
    for url in ("sqlite:////abs/digest.db", "sqlite://", "sqlite:///:memory:", "postgresql://u@h/db"):
        assert load_settings(_write(tmp_path, f'[database]\nurl = "{url}"\n')).database_url == url


def test_relative_sqlite_path_from_the_environment_stays_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_DATABASE__URL", "sqlite:///rel.db")
    assert load_settings(_write(tmp_path, "")).database_url == "sqlite:///rel.db"


def test_redact_url_hides_the_userinfo() -> None:
    assert redact_url("postgresql://digest:hunter2@db.example/digest") == "postgresql://***@db.example/digest"
    assert redact_url("postgresql+psycopg://u:p%40ss@h:5432/d?sslmode=require") == \
        "postgresql+psycopg://***@h:5432/d?sslmode=require"
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert redact_url("not a url") == "not a url"
    assert redact_url("https://TOKEN@example.org/feed") == "https://***@example.org/feed"  # a token as user name
    assert redact_url("http://a:b@[::1/x") == "http://***@[::1/x"  # invalid URLs too: errors show them


def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    config = _write(tmp_path, '[database]\nurl = "postgresql://digest:hunter2@127.0.0.1:1/digest"\n')
    for command in (["status"], ["status", "--json"], ["papers", "list"]):
        result = CliRunner().invoke(cli, ["--config", str(config), *command])
        _no_traceback(result)
        assert result.exit_code == 1, result.output
        assert "hunter2" not in result.output
        assert result.output.startswith("error: database postgresql://***@127.0.0.1:1/digest")
        assert len(result.output.strip().splitlines()) == 1


def test_unwritable_database_directory_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    config = _write(tmp_path, f'[database]\nurl = "sqlite:///{blocker.as_posix()}/sub/digest.db"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "status"])
    _no_traceback(result)
    assert result.exit_code == 1
    assert result.output.startswith("error: database sqlite:///") and "not-a-dir" in result.output


def test_unsupported_database_is_one_line(tmp_path: Path) -> None:
    config = _write(tmp_path, '[database]\nurl = "mysql://u:hunter2@h/db"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "status"])
    _no_traceback(result)
    assert result.exit_code == 1 and "hunter2" not in result.output


# --- output for scripts and terminals ------------------------------------------------------------


def test_papers_list_json_on_an_empty_store_is_an_empty_array(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(_write(tmp_path, "")), "papers", "list", "--json"])
    _no_traceback(result)
    assert result.exit_code == 0 and result.stdout.strip() == "[]"


def test_papers_show_unknown_id_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(_write(tmp_path, "")), "papers", "show", "2401.99999"])
    _no_traceback(result)
    assert result.exit_code == 1 and result.output == "error: no paper '2401.99999'\n"


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_papers_list_refuses_a_limit_below_one(tmp_path: Path, limit: str) -> None:
    result = CliRunner().invoke(cli, ["--config", str(_write(tmp_path, "")), "papers", "list", "--limit", limit])
    _no_traceback(result)
    assert result.exit_code == 2 and "--limit" in result.output


def test_tables_on_a_terminal_honour_no_color(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from digest.cli import tables

    monkeypatch.setattr(tables, "_stdout_is_terminal", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    tables.print_table("papers", ["id", "title"], [["arxiv:1", "A title"]])
    out = capsys.readouterr().out
    assert "arxiv:1" in out and "\x1b[" not in out


def test_status_text_prints_missing_values_as_dashes(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(_write(tmp_path, "")), "status"])
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "None" not in result.output and "{}" not in result.output


def test_the_example_config_loads() -> None:
    example = Path(__file__).parent.parent / "config" / "digest.example.toml"
    settings = load_settings(example)
    assert [f.name for f in settings.feeds][:2] == ["arxiv-cs-lg", "hf-daily"]
    assert settings.database_url.endswith("/data/digest.db")


@pytest.mark.parametrize("command", [["export", "--out", "{blocker}/x.toml"], ["feeds", "export", "{blocker}/out"]])
def test_an_unwritable_output_path_is_one_line(tmp_path: Path, command: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    args = [part.format(blocker=blocker) for part in command]
    result = CliRunner().invoke(cli, ["--config", str(_write(tmp_path, "")), *args])
    _no_traceback(result)
    assert result.exit_code == 1 and result.output.startswith("error: ") and str(blocker) in result.output
    assert len(result.output.strip().splitlines()) == 1
