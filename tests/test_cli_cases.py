"""The command line as scripts, cron jobs and people use it: the real `digest` console script in
subprocesses, a temporary config and SQLite file, real fixture files from tests/data.

Covered: the answers to bad input (one `error:` line naming what to fix, or a usage error with
exit 2), exit codes a cron job, systemd or a shell script acts on, passwords kept out of error
lines, and the shape of `status --json` that monitoring scripts read."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli

DATA = Path(__file__).parent / "data"
IACR = DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml"
ARXIV_ALL = DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml"
EVAL = DATA / "eval"
DIGEST = Path(sys.executable).parent / "digest"  # the real console script of the venv


def digest(config: Path | None, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`digest [--config CONFIG] ARGS...` as a shell script runs it: stdout and stderr are pipes."""
    cmd = [str(DIGEST)]
    if config is not None:
        cmd += ["--config", str(config)]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    full_env.update(env or {})
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=cwd or Path(__file__).parent.parent)


def write_config(tmp_path: Path, sqlite_url: str, extra: str = "") -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{sqlite_url}"\n{extra}\n',
                    encoding="utf-8")
    return path


def one_line_error(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr[-1500:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# =====================================================================================================
# secrets
# =====================================================================================================


@pytest.mark.parametrize("url", [
    "postgresql://127.0.0.1:1/digest?user=digest&password=hunter2",
    "postgresql://digest@127.0.0.1:1/digest?password=hunter2",
])
def test_database_password_given_as_url_parameter_is_not_printed(tmp_path: Path, url: str) -> None:
    """With DIGEST_DATABASE__URL carrying the password as a query parameter (`?password=...`, as
    PaaS and connection-string generators write it) and the database down, `digest status` exits 1
    with an `error:` line that leaves the password out, so it never reaches cron mail or journald."""
    proc = digest(None, "status", cwd=tmp_path, env={"DIGEST_DATABASE__URL": url})
    assert proc.returncode == 1 and proc.stderr.startswith("error: "), proc.stderr[-800:]
    assert "hunter2" not in proc.stdout + proc.stderr, proc.stderr


# =====================================================================================================
# numbers: a huge --limit / --batch
# =====================================================================================================


@pytest.mark.parametrize("args", [
    ("papers", "list", "--limit", "99999999999999999999"),
    ("papers", "list", "--json", "--limit", str(2**63)),
    ("matches", "--limit", "99999999999999999999"),
    ("match", "--batch", "99999999999999999999"),
], ids=["papers-list", "papers-list-2**63", "matches", "match-batch"])
def test_huge_limit_is_not_a_traceback(tmp_path: Path, sqlite_url: str, args: tuple[str, ...]) -> None:
    """A script's "no limit" sentinel such as `--limit 99999999999999999999` (or 2**63) on
    `papers list`, `matches` or `match --batch` either lists everything (exit 0) or is refused as a
    usage error (exit 2); it never ends in a traceback."""
    config = write_config(tmp_path, sqlite_url)
    proc = digest(config, *args)
    assert "Traceback" not in proc.stderr, proc.stderr[-600:]
    assert proc.returncode in (0, 2), proc.stderr[-600:]


# =====================================================================================================
# exit codes scripts and cron rely on
# =====================================================================================================


def _due_digest_config(tmp_path: Path, sqlite_url: str) -> tuple[Path, str]:
    """A user with one matched paper and an SMTP server that is down (nothing listens on the port);
    returns the config and a --now at which the user's daily digest is due."""
    config = write_config(tmp_path, sqlite_url, f"""
[smtp]
host = "127.0.0.1"
port = {free_port()}
from = "Paper Digest <digest@example.org>"
[web]
base_url = "https://papers.example.org"
[[users]]
email = "ada@example.org"
name = "Ada Lovelace"
timezone = "UTC"
hour = 7
[[users.subscriptions]]
name = "kd"
query = "knowledge distillation"
channel = "email"
""")
    assert digest(config, "init").returncode == 0
    ingested = digest(config, "ingest", "--file", str(ARXIV_ALL))
    assert ingested.returncode == 0, ingested.stderr
    matched = digest(config, "match")
    assert matched.returncode == 0, matched.stderr
    assert json.loads(digest(config, "matches", "--json").stdout), "the fixture should match the alert"
    now = (datetime.now(timezone.utc) + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
    return config, now.isoformat()


def test_send_exits_nonzero_when_no_digest_could_be_delivered(tmp_path: Path, sqlite_url: str) -> None:
    """`digest send` from cron while the SMTP server is down reports "delivered 0" and exits
    non-zero, so cron or systemd flag that mail is broken -- just as `digest ingest` does when every
    feed it tried failed."""
    config, now = _due_digest_config(tmp_path, sqlite_url)
    proc = digest(config, "send", "--now", now, "--no-match")
    assert "delivered 0" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode != 0, proc.stdout + proc.stderr


def test_status_json_outbox_problems_have_stable_field_names(tmp_path: Path, sqlite_url: str) -> None:
    """In `digest status --json` (a contract for scripts, per the README) the outbox section counts a
    digest awaiting retry under `pending` and uses fixed field names only -- no keys named after
    outbox rows -- so a monitoring script reads it without parsing prose."""
    config, now = _due_digest_config(tmp_path, sqlite_url)
    digest(config, "send", "--now", now, "--no-match")
    outbox = json.loads(digest(config, "status", "--json").stdout)["outbox"]
    assert outbox["pending"] == 1, outbox
    dynamic = [key for key in outbox if key.startswith("#")]
    assert not dynamic, f"row-named keys in status --json: {dynamic}"


def test_papers_fetch_with_a_malformed_id_is_a_usage_error(tmp_path: Path, sqlite_url: str) -> None:
    """`digest papers fetch 2411.177OO` (letter O typed for zero) is a usage error (exit 2) that names
    the argument, not a message about an unreadable arXiv answer, since nothing is fetched."""
    config = write_config(tmp_path, sqlite_url)
    proc = digest(config, "papers", "fetch", "2411.177OO")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "2411.177OO" in proc.stderr and "cannot read as" not in proc.stderr, proc.stderr


def test_papers_list_with_an_unknown_source_says_so(tmp_path: Path, sqlite_url: str) -> None:
    """`digest papers list --source iacr-eprnt` (a typo of the feed name) exits non-zero and names the
    unknown source, rather than printing an empty listing as if the feed had no papers -- as with
    unknown names in `matches --user`, `tag apply` or `backfill`."""
    config = write_config(tmp_path, sqlite_url)
    assert digest(config, "ingest", "--file", str(IACR), "--feed-name", "iacr-eprint").returncode == 0
    assert len(json.loads(digest(config, "papers", "list", "--json", "--source", "iacr-eprint").stdout)) == 3
    proc = digest(config, "papers", "list", "--source", "iacr-eprnt")
    assert proc.returncode != 0 and "iacr-eprnt" in proc.stderr, (proc.returncode, proc.stdout, proc.stderr)


def test_empty_config_path_is_refused_not_replaced_by_defaults(tmp_path: Path) -> None:
    """A deploy script running `digest --config "$DIGEST_TOML" init` with the variable unset gets a
    non-zero exit: an explicitly given but empty --config is refused, and no database appears under
    ./data in the directory the script runs in."""
    proc = digest(None, "--config", "", "init", cwd=tmp_path)
    assert proc.returncode != 0, proc.stdout
    assert not (tmp_path / "data").exists()


# =====================================================================================================
# the service commands
# =====================================================================================================


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400", "0", "-1", "0.5", "121"])
def test_bench_web_refuses_a_length_that_is_not_a_number_of_seconds(value: str) -> None:
    """`digest bench web --seconds nan` (or inf, or outside 1-120 s) is a usage error before any
    server starts: "nan" passed every range comparison and ran phases of no length."""
    result = CliRunner().invoke(cli, ["bench", "web", "--seconds", value])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--seconds'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("command", "option", "values"), [
    ("web", "--concurrency", ["nan", "0", "65", "1.5"]),
    ("match", "--queries", ["nan", "0", "-1", "1e3"]), ("match", "--papers", ["inf", "0"]),
    ("match", "--sample", ["0", "2.5"]), ("match", "--seed", ["nan", "1.5"]),
    ("search", "--papers", ["nan", "99"]), ("search", "--queries", ["0", "inf"]),
    ("search", "--brute", ["-1", "nan"]), ("search", "--seed", ["1e3"]),
    ("digests", "--users", ["nan", "0"]), ("digests", "--papers", ["0", "401"]), ("digests", "--workers", ["0", "9"]),
    ("ingest", "--records", ["inf", "999"]), ("ingest", "--repeat", ["0", "nan"]),
])
def test_bench_numeric_options_refuse_values_out_of_their_range(command: str, option: str, values: list[str]) -> None:
    """Every number a bench command takes is checked by click before anything runs: a usage error
    (exit 2) naming the option, never a run on a nonsense size."""
    for value in values:
        result = CliRunner().invoke(cli, ["bench", command, option, value])
        assert result.exit_code == 2, (value, result.output)
        assert f"Invalid value for '{option}'" in result.output


@pytest.mark.parametrize("command", ["web", "run"])
def test_out_of_range_port_is_a_usage_error(tmp_path: Path, sqlite_url: str, command: str) -> None:
    """`digest web --port 80800` or `digest run --port 80800` (a typo of 8080) is refused up front as
    a usage error (exit 2): --port accepts 1-65535, and neither command keeps running."""
    config = write_config(tmp_path, sqlite_url)
    try:
        proc = digest(config, command, "--host", "127.0.0.1", "--port", "80800", timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"digest {command} --port 80800 was still running after 20 s")
    assert "Traceback" not in proc.stderr, proc.stderr[-800:]
    assert proc.returncode == 2, proc.stderr[-800:]


def test_run_exits_when_the_web_port_is_taken(tmp_path: Path, sqlite_url: str) -> None:
    """`digest run` (scheduler + web app, the single-host default) started while another process holds
    the port says "address already in use" and exits non-zero within seconds, as `digest web` does,
    so systemd sees the failure instead of a service running without its web app."""
    config = write_config(tmp_path, sqlite_url)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        try:
            proc = digest(config, "run", "--host", "127.0.0.1", "--port", str(port), timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("digest run kept running for 20 s without its web app (port taken)")
    assert proc.returncode != 0 and time.monotonic() - started < 20
    assert "address already in use" in proc.stderr


# =====================================================================================================
# files: non-UTF-8, full disks, files of the wrong kind
# =====================================================================================================


def test_import_of_a_latin1_file_is_one_line(tmp_path: Path, sqlite_url: str) -> None:
    """`digest import` of an export saved by a Latin-1 editor (`name = "Jürgen"` as ISO-8859-1)
    answers with one `error:` line naming the file and exits 1, as `--config` does for such a file."""
    config = write_config(tmp_path, sqlite_url)
    path = tmp_path / "team.toml"
    path.write_bytes('digest_export = 1\n\n[[users]]\nemail = "juergen@example.org"\nname = "Jürgen Schmidhuber"\n'
                     .encode("latin-1"))
    proc = digest(config, "import", str(path))
    one_line_error(proc)
    assert proc.returncode == 1 and "team.toml" in proc.stderr


def test_eval_with_a_latin1_queries_file_is_one_line(tmp_path: Path, sqlite_url: str) -> None:
    """`digest eval queries.tsv qrels.txt` with a queries file saved as Latin-1 ("régularisation")
    answers with one `error:` line naming queries.tsv, as it does for a qrels file with a bad line."""
    config = write_config(tmp_path, sqlite_url)
    queries = tmp_path / "queries.tsv"
    queries.write_bytes("reg-1\trégularisation\n".encode("latin-1"))
    proc = digest(config, "eval", str(queries), str(EVAL / "qrels.txt"), "--papers", str(EVAL / "papers.jsonl"))
    one_line_error(proc)
    assert "queries.tsv" in proc.stderr


@pytest.mark.parametrize("args", [("export", "--out", "/dev/full"), ("preview", "ada@example.org", "--out", "/dev/full")],
                         ids=["export", "preview"])
def test_write_error_names_the_file(tmp_path: Path, sqlite_url: str, args: tuple[str, ...]) -> None:
    """When `digest export --out` or `digest preview --out` cannot write because the disk is full, the
    one `error:` line names the file that could not be written, since the path is what the user
    acts on."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    config = write_config(tmp_path, sqlite_url)
    assert digest(config, "users", "add", "ada@example.org").returncode == 0
    proc = digest(config, *args)
    one_line_error(proc)
    assert "/dev/full" in proc.stderr, proc.stderr


def test_importing_a_config_file_gives_a_sensible_hint(tmp_path: Path, sqlite_url: str) -> None:
    """`digest import digest.toml` (the config file instead of an export, an easy mix-up since both
    hold [[users]]) answers with one `error:` line whose "did you mean" hints come from the export
    format, never suggesting config keys such as 'database' or 'data_dir'."""
    config = write_config(tmp_path, sqlite_url, '[[users]]\nemail = "ada@example.org"\n')
    proc = digest(config, "import", str(config))
    one_line_error(proc)
    assert "did you mean 'database'" not in proc.stderr and "did you mean 'data_dir'" not in proc.stderr, proc.stderr


def test_import_refuses_an_export_of_a_newer_format(tmp_path: Path, sqlite_url: str) -> None:
    """`digest import` of a file written by a newer digest (`digest_export = 2`) exits non-zero with
    an error naming `digest_export`, rather than reading a newer format as if it were format 1."""
    config = write_config(tmp_path, sqlite_url)
    path = tmp_path / "newer.toml"
    path.write_text('digest_export = 2\n\n[[users]]\nemail = "ada@example.org"\n', encoding="utf-8")
    proc = digest(config, "import", str(path))
    assert proc.returncode != 0 and "digest_export" in proc.stderr, (proc.returncode, proc.stdout, proc.stderr)


# =====================================================================================================
# database trouble
# =====================================================================================================


def test_locked_database_is_one_line_not_a_traceback(tmp_path: Path, sqlite_url: str) -> None:
    """When another process (a long backfill, a `sqlite3` shell left in a transaction) holds the write
    lock past SQLite's busy timeout (here the URL's `?timeout=1`, 1 s instead of the default 30),
    `digest users add` prints one `error:` line saying the database is locked and exits 1, after
    waiting that long and not much longer."""
    config = write_config(tmp_path, sqlite_url + "?timeout=1")
    assert digest(config, "users", "add", "ada@example.org").returncode == 0
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE users SET name = 'Ada' WHERE email = 'ada@example.org'")
        started = time.monotonic()
        proc = digest(config, "users", "add", "grace@example.org", "--name", "Grace Hopper", timeout=120)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_error(proc)
    assert proc.returncode == 1 and "locked" in proc.stderr
    assert waited < 25, f"waited {waited:.0f} s: the URL's timeout=1 was not the busy timeout"


@pytest.mark.parametrize("value", ["-1", "nan", "soon", "99999"])
def test_a_sqlite_timeout_that_is_not_seconds_is_a_config_error(tmp_path: Path, sqlite_url: str, value: str) -> None:
    """`[database] url = "sqlite:///digest.db?timeout=soon"` is refused in one line naming the setting,
    not passed on to the driver."""
    config = write_config(tmp_path, f"{sqlite_url}?timeout={value}")
    proc = digest(config, "init")
    one_line_error(proc)
    assert proc.returncode != 0 and "timeout" in proc.stderr and "database" in proc.stderr


# =====================================================================================================
# benchmarks
# =====================================================================================================


def test_bench_match_with_an_empty_corpus_folder_is_one_line(tmp_path: Path) -> None:
    """`digest bench match --corpus DIR` with a folder holding no rss_cache_*.json files answers with
    one `error:` line saying the corpus folder has no corpus files."""
    empty = tmp_path / "corpus"
    empty.mkdir()
    proc = digest(None, "bench", "match", "--corpus", str(empty), "--queries", "10", "--papers", "10", cwd=tmp_path)
    one_line_error(proc)
    assert "corpus" in proc.stderr


def test_bench_match_sample_zero_is_a_usage_error(tmp_path: Path) -> None:
    """`digest bench match --sample 0` is refused up front as a usage error (exit 2), before any
    benchmark work runs, like the out-of-range options of the other bench commands."""
    proc = digest(None, "bench", "match", "--sample", "0", "--queries", "10", "--papers", "10", cwd=tmp_path,
                  timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr[-600:]
    assert proc.returncode == 2
