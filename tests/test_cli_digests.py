"""`digest send`, `digest preview` and the outbox in `digest status`, end to end: config file, SQLite,
a real SMTP server on loopback, time frozen with time-machine (time zones, DST, catch-up)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import lxml.html
import pytest
import time_machine
from click.testing import CliRunner, Result
from pydantic import SecretStr
from smtp_sink import SinkHandler, smtp_sink
from store_helpers import arxiv_papers, matched

from digest.cli import cli
from digest.config import load_settings
from digest.models import PaperRecord
from digest.store import Store
from digest.store.schema import UserRow
from digest.tokens import verify_token

UTC = timezone.utc
DAY1 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # before Ann's 07:00 Berlin (06:00 UTC)
HF_JUNE = Path(__file__).parent / "data" / "hf-daily" / "sotawhat_hf_daily_papers_2026-06-12.json"


@pytest.fixture
def env(tmp_path: Path) -> Any:
    with smtp_sink() as (server, port):
        cfg = tmp_path / "digest.toml"
        cfg.write_text(f"""
data_dir = "data"
[database]
url = "sqlite:///{tmp_path / 'digest.db'}"
[smtp]
host = "127.0.0.1"
port = {port}
from = "Paper Digest <digest@example.org>"
[web]
base_url = "https://papers.example.org"
""")
        yield cfg, server


def run(cfg: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
    return result


def papers(store: Store, first: int, n: int, now: datetime, *, version: int = 1) -> list[str]:
    return arxiv_papers(store, first, n, now, version=version)


def open_store(cfg: Path) -> Store:
    return Store.open(load_settings(cfg).database_url)


def new_user(store: Store, email: str, **kw: Any) -> Any:
    # Users made the day before: a user created after today's send hour gets tomorrow's digest first.
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        return store.upsert_user(email, **kw)


def old_subscription(store: Store, user_id: int, name: str, **kw: Any) -> Any:
    # Made the day before too: a period that ended before the first subscription of its cadence is not due.
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        return store.add_subscription(user_id, name, **kw)


def test_send_delivers_once_and_the_message_is_complete(env: Any) -> None:
    cfg, server = env
    server: SinkHandler
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = store.upsert_user("ann@example.org", name="Ann", timezone="Europe/Berlin", hour=7)
        sub = store.add_subscription(ann.id, "diffusion models", query="diffusion")
        matched(store, sub.id, papers(store, 1, 3, DAY1))
        assert run(cfg, "send", "--no-match").output.startswith("0 digest(s) queued")  # 07:00 Berlin not yet
    with time_machine.travel(DAY1 + timedelta(hours=1, minutes=5), tick=False):
        result = run(cfg, "send", "--no-match")
        assert "1 digest(s) queued" in result.output and "delivered 1" in result.output, result.output
        assert len(server.received) == 1
        again = run(cfg, "send", "--no-match")
        assert "0 digest(s) queued" in again.output and "delivered 0" in again.output
    assert len(server.received) == 1
    got = server.received[0]
    assert got.rcpt_tos == ["ann@example.org"] and got.mail_from == "digest@example.org"
    msg = got.message
    assert msg["From"] == "Paper Digest <digest@example.org>" and msg["To"] == "Ann <ann@example.org>"
    assert msg["Subject"] == "3 new papers: diffusion models — Tue 24 Nov"
    assert msg["Message-ID"] == f"<digest.daily.2026-11-24.u{ann.id}@example.org>"
    assert msg["Date"] == "Tue, 24 Nov 2026 06:05:00 +0000"
    assert msg["List-Id"] and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    for part in (text.get_content(), html.get_content()):
        assert part.count("Diffusion") >= 3
    assert "<b>models</b>" not in html.get_content()  # feed markup is escaped, never passed through
    # The one-click unsubscribe URL round-trips to this user.
    https = re.search(r"<(https://[^>]+)>", msg["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    mailto = re.search(r"<(mailto:[^>]+)>", msg["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    settings = load_settings(cfg)
    with time_machine.travel(DAY1 + timedelta(days=2), tick=False):
        assert verify_token("unsubscribe", https.rsplit("/", 1)[1], settings=settings).user_id == ann.id
        assert verify_token("unsubscribe", unquote(mailto).rsplit(" ", 1)[1], settings=settings).user_id == ann.id


def test_papers_are_never_repeated_and_new_ones_come_next_day(env: Any) -> None:
    cfg, server = env
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = store.upsert_user("ann@example.org", timezone="UTC", hour=6)
        sub = store.add_subscription(ann.id, "diffusion", query="diffusion")
        matched(store, sub.id, papers(store, 1, 2, DAY1))
    with time_machine.travel(DAY1 + timedelta(hours=2), tick=False):
        run(cfg, "send", "--no-match")
        # Arrives after today's digest: it belongs to tomorrow's.
        matched(store, sub.id, papers(store, 3, 1, DAY1 + timedelta(hours=2)))
        run(cfg, "send", "--no-match")
    with time_machine.travel(DAY1 + timedelta(days=1, hours=2), tick=False):
        run(cfg, "send", "--no-match")
    assert [r.message["Subject"] for r in server.received] == [
        "2 new papers: diffusion — Tue 24 Nov", "1 new paper: diffusion — Wed 25 Nov"]
    html = [r.message.get_body(("html",)).get_content() for r in server.received]  # type: ignore[union-attr]
    assert "2611.00001" in html[0] and "2611.00003" not in html[0]
    assert "2611.00003" in html[1] and "2611.00001" not in html[1]


def test_dry_run_changes_nothing(env: Any) -> None:
    cfg, server = env
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", timezone="UTC", hour=6)
        matched(store, old_subscription(store, ann.id, "d", query="d").id, papers(store, 1, 2, DAY1))
        out = run(cfg, "send", "--dry-run").output
        assert "dry-run" in out and "2 papers" in out and "nothing recorded or sent" in out
        assert store.outbox_rows() == [] and store.digest_watermark(ann.id, "daily") == 0
        assert server.received == []


def test_preview_writes_the_exact_html_that_is_sent(env: Any, tmp_path: Path) -> None:
    cfg, server = env
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", name="Ann", timezone="UTC", hour=6)
        matched(store, old_subscription(store, ann.id, "d", query="d").id, papers(store, 1, 2, DAY1))
        out = tmp_path / "preview.html"
        result = run(cfg, "preview", "ann@example.org", "--out", str(out))
        assert "2 shown" in result.output
        assert store.outbox_rows() == [] and store.digest_watermark(ann.id, "daily") == 0
        run(cfg, "send", "--no-match")
    sent = server.received[0].message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # The MIME part ends with a line break of its own (RFC 2046 §5.1.1: it belongs to the boundary).
    assert out.read_text(encoding="utf-8").replace("\r\n", "\n") == sent.replace("\r\n", "\n").removesuffix("\n")


def test_status_shows_the_outbox_with_failures(env: Any) -> None:
    cfg, server = env
    server.rcpt_replies["bob@example.org"] = "550 5.1.1 mailbox unavailable"
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        store = open_store(cfg)
        for who in ("ann", "bob"):
            u = new_user(store, f"{who}@example.org", timezone="UTC", hour=6)
            matched(store, old_subscription(store, u.id, "d", query="d").id, papers(store, 1, 1, DAY1))
        out = run(cfg, "send", "--no-match").output
        assert "delivered 1, retrying 0, failed 1" in out
        status = run(cfg, "status").output
    assert "outbox:" in status and "sent: 1" in status and "failed: 1" in status
    assert "bob@example.org daily 2026-11-24: SMTP 550 recipient refused: 5.1.1 mailbox unavailable" in status


def test_dst_fall_back_sends_once_and_catch_up_after_downtime(env: Any) -> None:
    cfg, server = env
    # New York falls back on 2026-11-01: 01:00 local happens at 05:00 UTC and again at 06:00 UTC.
    start = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        store = open_store(cfg)
        u = store.upsert_user("ny@example.org", timezone="America/New_York", hour=1)
        sub = store.add_subscription(u.id, "d", query="d")
    for n, hour in enumerate((4, 5, 6, 7)):
        with time_machine.travel(datetime(2026, 11, 1, hour, 30, tzinfo=UTC), tick=False):
            matched(store, sub.id, papers(store, 10 + n, 1, datetime(2026, 11, 1, tzinfo=UTC)))
            run(cfg, "send", "--no-match")
    # 04:30 UTC: the latest 01:00 (Oct 31) predates the user. 05:30: Sunday's is due. 06:30 is 01:30
    # again (EST): already sent. The papers matched at 06:30 and 07:30 wait for the next digest.
    assert [r.message["Subject"] for r in server.received] == ["2 new papers: d — Sun 1 Nov"]
    # Down through Monday's 01:00 and Tuesday's: Tuesday's digest carries everything since Sunday.
    with time_machine.travel(datetime(2026, 11, 2, 12, tzinfo=UTC), tick=False):
        matched(store, sub.id, papers(store, 20, 2, datetime(2026, 11, 2, tzinfo=UTC)))
    with time_machine.travel(datetime(2026, 11, 3, 20, tzinfo=UTC), tick=False):
        run(cfg, "send", "--no-match")
    subjects = [r.message["Subject"] for r in server.received]
    assert subjects == ["2 new papers: d — Sun 1 Nov", "4 new papers: d — Tue 3 Nov"]
    assert Counter(r.message["Message-ID"] for r in server.received).most_common(1)[0][1] == 1


def html_of(received: Any) -> str:
    return str(received.message.get_body(("html",)).get_content())


def text_of(received: Any) -> str:
    return str(received.message.get_body(("plain",)).get_content())


# --- each paper once, also across the periods of one run ---------------------------------------------


def test_a_paper_matched_by_a_daily_and_a_weekly_alert_goes_in_one_digest(env: Any) -> None:
    """Ann's daily alert and her weekly one (on Tuesdays, at the same hour) match the same paper, and
    both digests are due in one `digest send`: the daily one, built first, has it; the weekly one,
    built knowing that, does not (each paper once per user, across runs and subscriptions). The weekly
    one is named by the week it covers, from Tuesday 17 Nov."""
    cfg, server = env
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", name="Ann", timezone="UTC", hour=7, weekday=1)
        daily = store.add_subscription(ann.id, "diffusion", query="diffusion")
        weekly = store.add_subscription(ann.id, "Yann LeCun", query='author:"Yann LeCun"', every="weekly")
        both, weekly_only = papers(store, 1, 1, DAY1), papers(store, 2, 1, DAY1)
        matched(store, daily.id, both)
        matched(store, weekly.id, both + weekly_only)
    with time_machine.travel(DAY1 + timedelta(hours=2, minutes=5), tick=False):
        assert "2 digest(s) queued" in run(cfg, "send", "--no-match").output
    bodies = [html_of(r) for r in server.received]
    assert len(bodies) == 2 and sum("2611.00001" in b for b in bodies) == 1
    assert [r.message["Subject"] for r in server.received] == [
        "1 new paper: diffusion — Tue 24 Nov", "1 new paper: Yann LeCun — week of 17 Nov"]
    assert "2611.00002" in bodies[1]


def test_a_new_version_scoring_the_same_reaches_the_updated_section(env: Any) -> None:
    """Ann asked for updates. `digest send` (matching first) sends her paper 1 v1; arXiv then announces
    v2 with the same title and abstract, so it scores the same: its match moves to the v2 event, and
    the next day's digest shows it under "Updated"."""
    cfg, server = env
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", timezone="UTC", hour=7, show_updates=True)
        store.add_subscription(ann.id, "diffusion", query="diffusion")
        ids = papers(store, 1, 1, DAY1)
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        assert run(cfg, "send").exit_code == 0  # matches, then sends v1
    assert len(server.received) == 1 and "2611.00001" in html_of(server.received[0])
    later = DAY1 + timedelta(hours=20)
    with time_machine.travel(later, tick=False):
        papers(store, 1, 1, later, version=2)
        assert store.get_paper(ids[0]).version == 2
    with time_machine.travel(DAY1 + timedelta(days=1, hours=3), tick=False):
        assert run(cfg, "send").exit_code == 0
    assert len(server.received) == 2
    assert server.received[1].message["Subject"] == "1 updated: diffusion — Wed 25 Nov"
    assert "== Updated ==" in text_of(server.received[1]) and "[Updated v2]" in text_of(server.received[1])


def test_the_updated_card_highlights_the_matched_words_of_the_new_version(env: Any) -> None:
    """Ann was sent v1 of a paper matching "diffusion"; v2's abstract starts with a new sentence, so
    the word sits elsewhere. Its match takes v2's explanation (the newest event's, whatever it
    scores), and the "Updated" card highlights "diffusion" in the v2 abstract it shows."""
    cfg, server = env

    def record(version: int, abstract: str, when: datetime) -> PaperRecord:
        return PaperRecord("arxiv-rss", "2611.00001", title="Score-based diffusion models for protein backbone design",
                           authors=("Ada Lovelace",), abstract=abstract, arxiv_id="2611.00001", version=version,
                           published=when)

    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", timezone="UTC", hour=7, show_updates=True)
        store.add_subscription(ann.id, "diffusion", query="diffusion")
        store.ingest_records("arxiv-cs.LG", [record(1, "We train diffusion models on protein structures. They work "
                                                       "well.", DAY1)], now=DAY1)
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        assert "delivered 1" in run(cfg, "send").output
    later = DAY1 + timedelta(hours=20)
    with time_machine.travel(later, tick=False):
        store.ingest_records("arxiv-cs.LG", [record(2, "Accepted at NeurIPS 2026 as an oral. We train diffusion "
                                                       "models on protein structures. They work well.", later)],
                             now=later)
        assert run(cfg, "match").exit_code == 0
    with time_machine.travel(DAY1 + timedelta(days=1, hours=3), tick=False):
        html = run(cfg, "preview", "ann@example.org").output
        text = run(cfg, "preview", "ann@example.org", "--text").output
    assert "== Updated ==" in text and "Accepted at NeurIPS 2026" in text
    (card,) = lxml.html.fromstring(html).xpath("//td[contains(concat(' ', @class, ' '), ' card ')]")
    assert [m.text_content() for m in card.xpath(".//mark")] == ["diffusion", "diffusion"]  # title, abstract


# --- one recipient never stops the others -------------------------------------------------------------


def test_an_address_that_needs_smtputf8_is_refused_when_a_user_is_added(env: Any, tmp_path: Path) -> None:
    """digest does not speak SMTPUTF8 (RFC 6531): `digest users add` and the config's [[users]] refuse
    an address with non-ASCII letters before the @, saying why; an internationalised domain is fine."""
    cfg, _ = env
    assert run(cfg, "init").exit_code == 0
    added = run(cfg, "users", "add", "jürgen@example.de")
    assert added.exit_code == 2 and "SMTPUTF8" in added.output
    assert run(cfg, "users", "add", "ann@bücher.example").exit_code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(cfg.read_text() + '\n[[users]]\nemail = "jürgen@example.de"\n')
    result = CliRunner().invoke(cli, ["--config", str(bad), "init"])
    assert result.exit_code != 0 and "SMTPUTF8" in result.output and "users" in result.output


def test_a_digest_that_cannot_be_built_fails_alone_and_status_says_why(env: Any) -> None:
    """Jürgen's address was stored before addresses were checked: his message cannot be built. Ann
    still gets hers; his digest is recorded failed with the reason (`digest send`, `digest status`),
    and his watermark stays, so his papers are not lost."""
    cfg, server = env
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ids = papers(store, 1, 2, DAY1)
        for email in ("ann@example.org", "jurgen@example.de"):
            u = new_user(store, email, timezone="UTC", hour=6)
            matched(store, store.add_subscription(u.id, "diffusion", query="diffusion").id, ids)
        with store.write() as conn:
            conn.execute(UserRow.__table__.update().where(UserRow.email == "jurgen@example.de")
                         .values(email="jürgen@example.de"))
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        out = run(cfg, "send", "--no-match").output
        status = run(cfg, "status").output
    assert [r.rcpt_tos for r in server.received] == [["ann@example.org"]]
    assert "1 digest(s) queued" in out and "1 could not be built" in out
    assert re.search(r"failed +daily +2026-11-24 jürgen@example.de .*SMTPUTF8", out), out
    assert "jürgen@example.de daily 2026-11-24: not built: To: address" in status and "failed: 1" in status
    assert store.digest_watermark(store.get_user("jürgen@example.de").id, "daily") == 0


def test_an_internationalised_domain_is_delivered(env: Any) -> None:
    """Ann's address is at an IDNA domain: her digest goes to ``ann@xn--bcher-kva.example`` in the
    envelope as in the To header, and Bob's digest of the same run goes too."""
    cfg, server = env
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ids = papers(store, 1, 1, DAY1)
        for email in ("ann@bücher.example", "bob@example.org"):
            u = new_user(store, email, timezone="UTC", hour=6)
            matched(store, store.add_subscription(u.id, "diffusion", query="diffusion").id, ids)
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        result = run(cfg, "send", "--no-match")
    assert result.exit_code == 0 and "delivered 2" in result.output
    got = sorted(r.rcpt_tos[0] for r in server.received)
    assert got == ["ann@xn--bcher-kva.example", "bob@example.org"]
    ann = next(r for r in server.received if r.rcpt_tos == ["ann@xn--bcher-kva.example"])
    assert ann.message["To"] == "ann@xn--bcher-kva.example"


# --- what the digest says about sources -----------------------------------------------------------------


def test_a_failed_feed_is_named_in_the_digest_without_its_url(tmp_path: Path, httpserver: Any) -> None:
    """A private lab feed whose URL carries an access key answers HTTP 500. The digest tells every
    user that "lab-papers" failed, with a short reason, but never where the feed lives."""
    httpserver.expect_request("/papers.rss").respond_with_data("oops", status=500)
    with smtp_sink() as (server, port):
        cfg = tmp_path / "digest.toml"
        cfg.write_text(f"""
data_dir = "data"
[database]
url = "sqlite:///{tmp_path / 'digest.db'}"
[fetch]
allow_hosts = ["127.0.0.1"]
retries = 0
host_spacing = 0
[smtp]
host = "127.0.0.1"
port = {port}
from = "Paper Digest <digest@example.org>"
[web]
base_url = "https://papers.example.org"
[[feeds]]
name = "lab-papers"
kind = "rss"
url = "{httpserver.url_for('/papers.rss')}?key=s3cr3t-feed-key"
""")
        with time_machine.travel(DAY1, tick=False):
            assert run(cfg, "init").exit_code == 0
            store = open_store(cfg)
            ann = new_user(store, "ann@example.org", timezone="UTC", hour=6)
            sub = store.add_subscription(ann.id, "diffusion", query="diffusion")
            matched(store, sub.id, papers(store, 1, 1, DAY1))
            assert run(cfg, "ingest").exit_code == 1  # a feed failed
            error = store.get_feed_state("lab-papers").last_error or ""  # for the operator: the feed's
            assert "papers.rss?key=***" in error and "s3cr3t-feed-key" not in error  # address, its key redacted
        with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
            assert run(cfg, "send", "--no-match").exit_code == 0
        assert len(server.received) == 1
        html, text = html_of(server.received[0]), text_of(server.received[0])
    assert "! lab-papers failed: HTTP 500" in text
    assert "s3cr3t-feed-key" not in html and "s3cr3t-feed-key" not in text and "papers.rss" not in text


# --- what the user can ask for ---------------------------------------------------------------------------


def test_updates_and_empty_digests_can_be_turned_on_from_the_cli_the_config_and_the_web(env: Any) -> None:
    """The "Updated" section and empty digests are off by default; `digest users add
    --show-updates/--send-empty` (unchanged when not given), the config's [[users]] keys
    ``show_updates``/``send_empty`` and two checkboxes of the web delivery settings turn them on."""
    from starlette.testclient import TestClient

    from digest.web import create_app
    from digest.web.signin import signin_url

    cfg, server = env
    assert run(cfg, "users", "add", "ann@example.org").exit_code == 0
    store = open_store(cfg)
    ann = store.get_user("ann@example.org")
    assert (ann.show_updates, ann.send_empty) == (False, False)
    assert run(cfg, "users", "add", "ann@example.org", "--show-updates", "--send-empty").exit_code == 0
    assert run(cfg, "users", "add", "ann@example.org", "--hour", "9").exit_code == 0
    ann = store.get_user("ann@example.org")
    assert (ann.show_updates, ann.send_empty, ann.hour) == (True, True, 9)
    assert run(cfg, "users", "add", "ann@example.org", "--no-send-empty").exit_code == 0
    assert store.get_user("ann@example.org").send_empty is False

    configured = cfg.parent / "users.toml"
    configured.write_text(cfg.read_text() + '\n[[users]]\nemail = "cy@example.org"\nshow_updates = true\n'
                          'send_empty = true\n[[users.subscriptions]]\nname = "d"\nquery = "diffusion"\n')
    assert run(configured, "init").exit_code == 0
    cy = store.get_user("cy@example.org")
    assert (cy.show_updates, cy.send_empty) == (True, True)

    settings = load_settings(cfg).model_copy(update={"secret_key": SecretStr("k" * 40)})
    with TestClient(create_app(settings, store), base_url="https://testserver") as client:  # secure cookies
        path = signin_url(settings, store.get_user("ann@example.org")).removeprefix(settings.web.base_url)
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)  # type: ignore[union-attr]
        assert client.post(path, data={"csrf": csrf}, follow_redirects=False).status_code == 303
        form = client.get("/settings").text
        assert re.search(r'<input type="checkbox" name="show_updates" value="on" checked>', form)
        assert re.search(r'<input type="checkbox" name="send_empty" value="on" >', form)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        saved = client.post("/settings", data={"csrf": csrf, "timezone": "UTC", "hour": "9", "weekday": "0",
                                               "send_empty": "on"}, follow_redirects=False)
        assert saved.status_code == 303
    ann = store.get_user("ann@example.org")
    assert (ann.show_updates, ann.send_empty) == (False, True)

    # An empty digest now goes out ("No new papers"), as Ann asked.
    store.add_subscription(ann.id, "diffusion", query="diffusion")
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1), tick=False):
        assert run(cfg, "send", "--no-match").exit_code == 0
    got = sorted((r.rcpt_tos[0], r.message["Subject"].split(" — ")[0]) for r in server.received)
    assert got == [("ann@example.org", "No new papers"), ("cy@example.org", "No new papers")]


# --- "N more" ------------------------------------------------------------------------------------------


def test_n_more_links_to_the_digest_page_that_lists_those_papers(env: Any) -> None:
    """Ann's alert matched 60 papers; the email shows 50 and says "10 more papers did not fit in this
    email: see the whole digest". The link is the digest's own page, which lists every paper, the
    ones the email left out after "#more"."""
    from starlette.testclient import TestClient

    from digest.web import create_app

    cfg, server = env
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", timezone="UTC", hour=6)
        sub = store.add_subscription(ann.id, "diffusion", query="diffusion")
        ids = papers(store, 1, 60, DAY1)
        matched(store, sub.id, ids)
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        assert run(cfg, "send", "--no-match").exit_code == 0
    html = html_of(server.received[0])
    doc = lxml.html.fromstring(html)
    assert "10 more papers did not fit in this email: see the whole digest" in doc.text_content()
    [more] = [a for a in doc.iter("a") if a.text_content() == "see the whole digest"]
    settings = load_settings(cfg)
    href = more.get("href") or ""
    assert href.startswith("https://papers.example.org/digest/") and href.endswith("#more")
    assert href in text_of(server.received[0])
    left_out = [p for p in ids if p.removeprefix("arxiv:") not in html]
    assert len(left_out) == 10
    with time_machine.travel(DAY1 + timedelta(hours=4), tick=True), TestClient(create_app(settings, store)) as client:
        page = client.get(href.removeprefix(settings.web.base_url))
    assert page.status_code == 200
    rest = page.text.split('id="more"', 1)[1]
    assert all(p.removeprefix("arxiv:") in rest for p in left_out)
    assert not any(p.removeprefix("arxiv:") in rest for p in ids if p not in left_out)


# --- what the digest is called, and which one a preview shows --------------------------------------------


def test_a_weekly_digest_is_named_by_the_week_it_covers(env: Any) -> None:
    """The weekly digest Ann gets on Monday 30 Nov holds the papers of 23-29 Nov: it is called "week
    of 23 Nov", the first day it covers, not the week that has just begun."""
    cfg, _ = env
    with time_machine.travel(datetime(2026, 11, 20, tzinfo=UTC), tick=False):
        store = open_store(cfg)
        ann = store.upsert_user("ann@example.org", timezone="UTC", hour=7)
        sub = store.add_subscription(ann.id, "diffusion", query="diffusion", every="weekly")
    tuesday = datetime(2026, 11, 24, 12, tzinfo=UTC)
    with time_machine.travel(tuesday, tick=False):
        matched(store, sub.id, papers(store, 1, 1, tuesday))
    with time_machine.travel(datetime(2026, 11, 30, 7, 30, tzinfo=UTC), tick=False):
        out = run(cfg, "preview", "ann@example.org", "--period", "weekly", "--text").output
    assert out.splitlines()[0] == "1 new paper: diffusion — week of 23 Nov"


def test_preview_after_todays_digest_went_out_shows_the_next_one(env: Any) -> None:
    """Ann's digest of Tue 24 Nov went out at 07:00 with paper 1; paper 2 arrives at 08:00. `digest
    preview` shows what she gets next: paper 2, under Wed 25 Nov, the date it is then sent under."""
    cfg, server = env
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", timezone="UTC", hour=7)
        sub = store.add_subscription(ann.id, "diffusion", query="diffusion")
        matched(store, sub.id, papers(store, 1, 1, DAY1))
    with time_machine.travel(DAY1 + timedelta(hours=3), tick=False):
        assert "delivered 1" in run(cfg, "send", "--no-match").output
        matched(store, sub.id, papers(store, 2, 1, DAY1 + timedelta(hours=3)))
        preview = run(cfg, "preview", "ann@example.org", "--text").output
    with time_machine.travel(DAY1 + timedelta(days=1, hours=3), tick=False):
        assert "delivered 1" in run(cfg, "send", "--no-match").output
    sent = [r.message["Subject"] for r in server.received]
    assert sent == ["1 new paper: diffusion — Tue 24 Nov", "1 new paper: diffusion — Wed 25 Nov"]
    assert preview.splitlines()[0] == sent[1]
    assert "2611.00002" in preview and "2611.00001" not in preview


# --- the trending badge ------------------------------------------------------------------------------------


def _agents_preview(cfg: Path, fetched: datetime, shown: datetime, timezone: str) -> tuple[str, str]:
    """Ann's "agent OR agents" digest over Hugging Face's list of 12 June 2026, fetched at ``fetched``
    and previewed at ``shown``: (text, HTML)."""
    with time_machine.travel(fetched - timedelta(days=1), tick=False):
        assert run(cfg, "init").exit_code == 0
        assert run(cfg, "users", "add", "ann@example.org", "--timezone", timezone, "--hour", "7").exit_code == 0
        assert run(cfg, "subscribe", "ann@example.org", "agent OR agents", "--name", "agents").exit_code == 0
    with time_machine.travel(fetched, tick=False):
        assert run(cfg, "ingest", "--file", str(HF_JUNE)).exit_code == 0
        assert run(cfg, "match").exit_code == 0
    with time_machine.travel(shown, tick=False):
        return (run(cfg, "preview", "ann@example.org", "--text").output,
                run(cfg, "preview", "ann@example.org").output)


def _badged(html: str) -> list[str]:
    cards = lxml.html.fromstring(html).xpath("//td[contains(concat(' ', @class, ' '), ' card ')]")
    return [c.text_content().split()[0] for c in cards if c.text_content().split()[0] == "Trending"]


def test_a_months_old_hugging_face_paper_gets_no_trending_badge(env: Any) -> None:
    """Hugging Face papers of 12 June in a digest of 24 Nov: their trending score has decayed to
    nothing, so none is badged "Trending" (a badge on every Hugging Face paper would mean nothing)."""
    cfg, _ = env
    text, html = _agents_preview(cfg, DAY1, DAY1 + timedelta(hours=3), "UTC")
    assert text.count("via Hugging Face") >= 5
    assert "[Trending]" not in text and _badged(html) == []


def test_a_paper_below_the_trending_bar_gets_no_badge(env: Any) -> None:
    """The morning after Hugging Face's 12 June list, none of its papers trends enough for "Trending
    in your topics", and none is badged "Trending" either: one bar for both ("The Cold-Start Safety
    Gap in LLM Agents", a week old with 2 upvotes)."""
    cfg, _ = env
    fetched = datetime(2026, 6, 12, 20, tzinfo=UTC)
    text, html = _agents_preview(cfg, fetched, fetched + timedelta(hours=12), "Europe/Berlin")
    assert "Trending in your topics" not in text
    assert "The Cold-Start Safety Gap in LLM Agents" in text
    assert "[Trending]" not in text and _badged(html) == []


# --- command line ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("now", ["0001-01-01T07:00:00", "9999-12-31T23:00:00-05:00"])
@pytest.mark.parametrize("command", [("send", "--dry-run"), ("preview", "ann@example.org")])
def test_now_outside_the_years_periods_are_worked_out_for_is_a_usage_error(env: Any, command: tuple[str, ...],
                                                                            now: str) -> None:
    """``--now`` at the ends of the calendar (year 1, year 9999), where the period arithmetic would
    step out of it, is a one-line usage error naming the option, like any other bad ``--now``."""
    cfg, _ = env
    with time_machine.travel(DAY1, tick=False):
        store = open_store(cfg)
        ann = new_user(store, "ann@example.org", timezone="UTC", hour=7)
        store.add_subscription(ann.id, "diffusion", query="diffusion")
    result = run(cfg, *command, "--now", now)
    assert result.exit_code == 2 and "--now" in result.output and "years 2 to 9998" in result.output
