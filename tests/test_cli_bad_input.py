"""The command line and the "bad input" promises of issue #2, end to end through `digest`: devices
and pipes, numbers no source gives, libxml2's messages, terminal escapes in error texts, servers that
repeat pages, cut-off and minified documents, hostile feeds in a run, loopback in any spelling.
Most came from an adversarial review; a real local HTTP server stands in for the feeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest import fetch as fetch_mod
from digest.cli import cli
from digest.fetch import HostLimiter

DATA = Path(__file__).parent / "data"
IACR = DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml"
ARXIV_ALL = DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml"
BIORXIV_JSON = DATA / "biorxiv" / "research_bot_biorxiv_details_2026-07-15_trimmed.json"


@pytest.fixture(autouse=True)
def no_waiting() -> Iterator[None]:
    fetch_mod.set_limiter(HostLimiter(sleep=lambda s: None))
    yield
    fetch_mod.reset_limiter()


def write_config(tmp_path: Path, sqlite_url: str, feeds: dict[str, tuple[str, str]] | None = None,
                 *, allow: tuple[str, ...] = ("127.0.0.1",), extra_fetch: str = "") -> Path:
    lines = ["[database]", f'url = "{sqlite_url}"', "[fetch]",
             f"allow_hosts = {json.dumps(list(allow))}", "retries = 0", "host_spacing = 0", "read_timeout = 1.0",
             extra_fetch]
    for name, (kind, url) in (feeds or {}).items():
        lines += ["[[feeds]]", f'name = "{name}"', f'kind = "{kind}"', f'url = "{url}"']
    path = tmp_path / "digest.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def terminal(config: Path | None, *args: str, timeout: float = 20, env: dict[str, str] | None = None,
             memory: int | None = None) -> subprocess.CompletedProcess[str]:
    """`digest ...` in a real process: what a terminal shows (logging, tracebacks)."""
    def limit() -> None:
        if memory:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cmd = [sys.executable, "-c", "from digest.cli import main; main()"]
    if config is not None:
        cmd += ["--config", str(config)]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    full_env.update(env or {})
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=Path(__file__).parent.parent, preexec_fn=limit)


def feeds_json(config: Path) -> dict[str, dict[str, Any]]:
    result = invoke(config, "status", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)["feeds"]}


# =====================================================================================================
# each once broke
# =====================================================================================================


def test_ingest_file_on_a_device_is_refused_not_read_forever(tmp_path: Path, sqlite_url: str) -> None:
    """`digest ingest --file` on a device (a symlink to /dev/zero) or a pipe is refused in one line:
    such a file has no end to read to (it used to read until a MemoryError traceback, or hang)."""
    link = tmp_path / "feed.xml"
    link.symlink_to("/dev/zero")
    config = write_config(tmp_path, sqlite_url)
    try:
        proc = terminal(config, "ingest", "--file", str(link), timeout=20, memory=1_500_000_000)
    except subprocess.TimeoutExpired:
        pytest.fail("digest ingest --file /dev/zero did not finish within 20 s")
    assert "Traceback" not in proc.stderr, proc.stderr[-800:]
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1


def test_huge_cursor_in_a_biorxiv_page_keeps_the_entries_and_shows_no_traceback(
        httpserver: HTTPServer, tmp_path: Path, sqlite_url: str) -> None:
    """A bioRxiv page whose cursor is a 5,000-digit number keeps its good papers and shows no
    traceback: a number no source gives is read as none (int() refuses such strings)."""
    answer = json.loads(BIORXIV_JSON.read_bytes())
    answer["messages"][0]["cursor"] = "9" * 5000
    path = "/details/biorxiv/2026-07-13/2026-07-15/0"
    httpserver.expect_request(path).respond_with_data(json.dumps(answer), content_type="application/json")
    config = write_config(tmp_path, sqlite_url, {"bx": ("biorxiv", httpserver.url_for(path))})
    proc = terminal(config, "ingest")
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]
    row = feeds_json(config)["bx"]
    assert row["health"] == "ok" and row["papers"] == 3, row


def test_out_of_range_integer_in_one_hf_entry_does_not_crash_the_ingest(tmp_path: Path, sqlite_url: str) -> None:
    """One Hugging Face entry with `upvotes: 10**20` loses nothing: the value is dropped and the 30
    papers are stored (the insert used to fail with OverflowError and store none)."""
    doc = json.loads((DATA / "hf-daily" / "sotawhat_hf_daily_papers_2026-06-12.json").read_bytes())
    doc[0]["paper"]["upvotes"] = 10**20
    path = tmp_path / "hf.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    config = write_config(tmp_path, sqlite_url)
    proc = terminal(config, "ingest", "--file", str(path))
    assert "Traceback" not in proc.stderr, proc.stderr[-800:]
    assert proc.returncode == 0 and "entries" in proc.stdout, proc.stderr[-300:]
    listed = json.loads(invoke(config, "papers", "list", "--json").stdout)
    assert len(listed) >= 29


def test_ingest_file_error_is_one_line_when_libxml2_message_has_a_newline(tmp_path: Path, sqlite_url: str) -> None:
    """An unreadable file's error is one line even when libxml2's message holds a newline."""
    pad = "x" * 9000
    path = tmp_path / "f.xml"
    path.write_bytes(('<?xml version="1.0"?>\n<rss version="2.0"><channel><title>t</title><description>' + pad
                      + "</description>\n<item><title>a").encode() + b"\x00"
                     + b"b</title><link>https://a.org/1</link></item>\n</channel></rss>\n")
    config = write_config(tmp_path, sqlite_url)
    result = invoke(config, "ingest", "--file", str(path), "--kind", "arxiv-rss")
    assert result.exit_code == 1 and result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr


def test_feed_error_text_cannot_write_terminal_escape_sequences(httpserver: HTTPServer, tmp_path: Path,
                                                              sqlite_url: str) -> None:
    """An API's error text carrying terminal escape sequences reaches last_error and stderr without
    its control characters: a document must not drive the terminal it is reported on."""
    answer = {"messages": [{"status": "\x1b]0;owned\x07 evil \x1b[2J message"}], "collection": []}
    httpserver.expect_request("/bx").respond_with_data(json.dumps(answer), content_type="application/json")
    config = write_config(tmp_path, sqlite_url, {"bx": ("biorxiv", httpserver.url_for("/bx"))})
    result = CliRunner().invoke(cli, ["--config", str(config), "ingest"], color=True)  # as on a terminal
    assert result.exit_code == 1 and "bx: error:" in result.stderr
    error_line = next(line for line in result.stderr.splitlines() if line.startswith("bx: error:"))
    assert not any(ord(c) < 32 for c in error_line), repr(error_line)
    last_error = feeds_json(config)["bx"]["last_error"]
    assert not any(ord(c) < 32 for c in last_error), repr(last_error)


def test_backfill_stops_when_the_api_repeats_the_same_page(httpserver: HTTPServer, tmp_path: Path,
                                                           sqlite_url: str) -> None:
    """A server that ignores "start" and answers the same page again stops the backfill at once (with
    an error), not after thousands of requests."""
    api = (DATA / "arxiv-atom" / "sotawhat_arxiv_transformer_cs.LG_2026-06-14.xml").read_bytes()
    asked: list[str] = []

    def same_page(request: Request) -> Response:
        asked.append(request.args.get("start", ""))
        if len(asked) > 30:
            return Response("enough", status=500)
        return Response(api, content_type="application/atom+xml")

    httpserver.expect_request("/api/query").respond_with_handler(same_page)
    config = write_config(tmp_path, sqlite_url, extra_fetch=f'arxiv_api_url = "{httpserver.url_for("/api/query")}"')
    config.write_text(config.read_text() + '[[feeds]]\nname = "lg"\nkind = "arxiv-atom"\ncategories = ["cs.LG"]\n')
    result = invoke(config, "backfill", "lg", "--from", "2024-11-01", "--to", "2024-11-02")
    assert "Traceback" not in result.output
    assert len(asked) <= 5, f"asked {len(asked)} times for the same page (start={asked[:8]}...)"


def test_papers_fetch_damaged_answer_is_not_reported_as_an_unknown_paper(httpserver: HTTPServer, tmp_path: Path,
                                                                        sqlite_url: str) -> None:
    """An API answer cut off mid-entry is reported as an unreadable answer, not as "arXiv has no paper
    ...", which would be false."""
    api = (DATA / "arxiv-atom" / "arxiv.py-2016" / "id_list_1111.2011v2.xml").read_bytes()
    httpserver.expect_request("/api/query").respond_with_data(api[: len(api) // 2], content_type="application/atom+xml")
    config = write_config(tmp_path, sqlite_url, extra_fetch=f'arxiv_api_url = "{httpserver.url_for("/api/query")}"')
    result = invoke(config, "papers", "fetch", "1111.2011")
    assert result.exit_code == 1
    assert "has no paper" not in result.stderr, result.stderr


def test_papers_fetch_with_no_id_is_a_usage_error(tmp_path: Path, sqlite_url: str) -> None:
    """`digest papers fetch ""` or `digest papers fetch ,` names no id: a usage error, not an empty table."""
    config = write_config(tmp_path, sqlite_url)
    assert invoke(config, "papers", "fetch").exit_code == 2
    for empty in ("", ","):
        result = invoke(config, "papers", "fetch", empty)
        assert result.exit_code != 0, (empty, result.output)


def test_truncated_single_line_feed_keeps_its_good_entries(tmp_path: Path, sqlite_url: str) -> None:
    """The real arXiv RSS capture minified onto one line (as many generators serve feeds) and cut off at
    2/3 of its length keeps its ~1,000 intact items: line numbers cannot tell entries of one line
    apart, but a document cut short can only have damaged its last entry."""
    import re

    one_line = re.sub(rb">\s*\n\s*<", b"><", ARXIV_ALL.read_bytes()).replace(b"\n", b" ")
    assert one_line.count(b"\n") == 0
    path = tmp_path / "minified.xml"
    path.write_bytes(one_line[: len(one_line) * 2 // 3])
    config = write_config(tmp_path, sqlite_url)
    result = invoke(config, "ingest", "--file", str(path))
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(invoke(config, "papers", "list", "--json").stdout)) > 900


# =====================================================================================================
# verified from the start
# =====================================================================================================


def test_a_run_of_hostile_feeds_records_each_and_goes_on(httpserver: HTTPServer, tmp_path: Path,
                                                         sqlite_url: str) -> None:
    """HTML served as application/rss+xml, a redirect loop, redirects to file: and to 10.0.0.1 and to
    [::ffff:127.0.0.1], oversize bodies with and without Content-Length, a 500, a 429 with Retry-After
    and a timeout: each feed's error is one stderr line naming it, `status --json` has the reason,
    a failure count and a next attempt, the good feed is stored, and the run exits 0."""
    import threading

    port = httpserver.port
    srv = httpserver
    srv.expect_request("/good").respond_with_data(IACR.read_bytes(), content_type="application/rss+xml")
    srv.expect_request("/html").respond_with_data(b"<!DOCTYPE html><html><body>Sign in</body></html>",
                                                  content_type="application/rss+xml")
    srv.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    srv.expect_request("/file").respond_with_data("", status=302, headers={"Location": "file:///etc/passwd"})
    srv.expect_request("/private").respond_with_data("", status=302, headers={"Location": "http://10.0.0.1/x"})
    srv.expect_request("/mapped").respond_with_data(
        "", status=302, headers={"Location": f"http://[::ffff:127.0.0.1]:{port}/good"})
    srv.expect_request("/big").respond_with_data(b"<" * 300_000)

    def endless(_: Request) -> Response:
        return Response((b"<" * 4096 for _ in range(10_000)), direct_passthrough=True)

    srv.expect_request("/chunked").respond_with_handler(endless)
    srv.expect_request("/500").respond_with_data("oops", status=500)
    srv.expect_request("/429").respond_with_data("later", status=429, headers={"Retry-After": "7200"})
    release = threading.Event()
    slow_server = HTTPServer(host="127.0.0.1")
    slow_server.expect_request("/slow").respond_with_handler(lambda _: (release.wait(3), Response(b"<rss/>"))[1])
    slow_server.start()
    names = ["html", "loop", "file", "private", "mapped", "big", "chunked", "500", "429"]
    feeds = {n: ("rss", srv.url_for("/" + n)) for n in names}
    feeds["good"] = ("rss", srv.url_for("/good"))
    feeds["slow"] = ("rss", slow_server.url_for("/slow"))
    config = write_config(tmp_path, sqlite_url, feeds, extra_fetch="max_bytes = 100000\nread_timeout = 0.5")
    config.write_text(config.read_text().replace("read_timeout = 1.0\n", ""))
    try:
        proc = invoke(config, "ingest")
    finally:
        release.set()
        slow_server.clear()
        slow_server.stop()
    assert proc.exit_code == 0 and "good: 3 entries" in proc.stdout
    errors = {line.split(": error: ")[0]: line for line in proc.stderr.splitlines() if ": error: " in line}
    assert set(errors) == set(names) | {"slow"}
    rows = feeds_json(config)
    assert rows["good"]["health"] == "ok" and rows["good"]["papers"] == 3
    expect = {"html": "HTML page", "loop": "redirects", "file": "only http and https", "private": "10.0.0.1",
              "mapped": "non-public", "big": "limit", "chunked": "limit", "500": "HTTP 500", "429": "HTTP 429",
              "slow": "timed out"}
    for name, fragment in expect.items():
        row = rows[name]
        assert row["health"] == "error" and fragment in row["last_error"], row
        assert row["consecutive_failures"] == 1 and row["next_attempt"] and row["last_success"] is None
    from datetime import datetime, timedelta
    wait = (datetime.fromisoformat(rows["429"]["next_attempt"]) - datetime.fromisoformat(rows["429"]["last_attempt"]))
    assert wait >= timedelta(seconds=7200)


def test_every_feed_failing_exits_1_and_nothing_due_exits_0(httpserver: HTTPServer, tmp_path: Path,
                                                            sqlite_url: str) -> None:
    httpserver.expect_request("/500").respond_with_data("oops", status=500)
    config = write_config(tmp_path, sqlite_url, {"down": ("rss", httpserver.url_for("/500"))})
    first = invoke(config, "ingest")
    assert first.exit_code == 1 and first.stderr.startswith("down: error: ")
    again = invoke(config, "ingest")  # backed off: not due yet
    assert again.exit_code == 0 and "no feeds due" in again.stdout


@pytest.mark.parametrize("host", ["localhost", "2130706433", "0177.0.0.1", "[::ffff:127.0.0.1]", "0.0.0.0", "[::1]"])
def test_loopback_in_any_spelling_is_refused_without_allow_list(httpserver: HTTPServer, tmp_path: Path,
                                                                 sqlite_url: str, host: str) -> None:
    httpserver.expect_request("/feed").respond_with_data(IACR.read_bytes())
    url = f"http://{host}:{httpserver.port}/feed"
    config = write_config(tmp_path, sqlite_url, {"f": ("rss", url)}, allow=())
    result = invoke(config, "ingest")
    assert result.exit_code == 1 and "non-public address" in result.stderr
    assert len(httpserver.log) == 0


@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("svg.xml", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', "root element <svg>"),
    ("sitemap.xml", b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>x</loc></url></urlset>',
     "root element <urlset>"),
    ("opml.xml", b'<opml version="2.0"><head/><body><outline xmlUrl="https://x/rss"/></body></opml>', "<opml>"),
    ("numbers.json", b"[1, 2, 3]", "JSON, but not a feed"),
    ("null.json", b"null", "not a feed"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ("nul.xml", b"<rss>\x00</rss>", "binary"),
    ("bom-only.xml", b"\xef\xbb\xbf", "not a feed"),
])
def test_files_that_are_not_feeds_exit_1_with_one_line(tmp_path: Path, sqlite_url: str, name: str, content: bytes,
                                                       fragment: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = invoke(write_config(tmp_path, sqlite_url), "ingest", "--file", str(path))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr


def test_directory_and_compressed_non_snapshot_are_one_line(tmp_path: Path, sqlite_url: str) -> None:
    import gzip

    config = write_config(tmp_path, sqlite_url)
    result = invoke(config, "ingest", "--file", str(tmp_path))
    assert result.exit_code == 1 and "is a directory" in result.stderr and result.stderr.count("\n") == 1
    packed = tmp_path / "hf.json.gz"
    packed.write_bytes(gzip.compress((DATA / "hf-daily" / "sotawhat_hf_daily_papers_2026-06-12.json").read_bytes()))
    result = invoke(config, "ingest", "--file", str(packed))
    assert result.exit_code == 1 and "decompress this file first" in result.stderr


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_and_utf32_feeds_are_read_and_reingest_adds_nothing(tmp_path: Path, sqlite_url: str, codec: str) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(IACR.read_text(encoding="utf-8").encode(codec))
    config = write_config(tmp_path, sqlite_url)
    first = invoke(config, "ingest", "--file", str(path))
    assert first.exit_code == 0 and "3 entries: 3 new" in first.stdout
    again = invoke(config, "ingest", "--file", str(path))
    assert again.exit_code == 0 and "nothing new (3 entries already stored)" in again.stdout


def test_config_problems_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\nurl = 1\n")
    secret = tmp_path / "secret.toml"
    secret.write_text('[smtp]\npassword = "hunter2"\n')
    for path, fragment in ((tmp_path / "missing.toml", "file not found"), (bad, "not valid TOML"),
                           (secret, "DIGEST_SMTP_PASSWORD")):
        result = CliRunner().invoke(cli, ["--config", str(path), "status"])
        assert result.exit_code == 1 and result.stderr.count("\n") == 1 and fragment in result.stderr
        assert "hunter2" not in result.output


def test_papers_show_unknown_and_limit_zero(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, sqlite_url)
    for ref in ("arxiv:9999.99999", "", "doi:", "x" * 5000):
        result = invoke(config, "papers", "show", ref, "--json")
        assert result.exit_code == 1 and result.stderr.startswith("error: no paper") and result.stderr.count("\n") == 1
    assert invoke(config, "papers", "list", "--limit", "0").exit_code == 2
    listed = invoke(config, "papers", "list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
