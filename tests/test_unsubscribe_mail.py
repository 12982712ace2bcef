"""`digest unsubscribe-mail`: the mailto URI of a digest's List-Unsubscribe, answered.

Round trips with real parts: a digest is sent through a real SMTP server on loopback, its
List-Unsubscribe mailto is taken apart, the message a mail client would send to it is built, and the
command reads it (stdin as from an MTA pipe alias, a file, an mbox, a Maildir); the store is SQLite
and PostgreSQL. Then everything a mail client or a stranger may do to that message.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import time_machine
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError
from click.testing import CliRunner, Result
from hypothesis import given, settings as hsettings, strategies as st
from smtp_sink import SinkHandler, smtp_sink
from store_helpers import arxiv_papers, matched

from digest.cli import cli
from digest.config import load_settings
from digest.deliver.inbound import MAX_MESSAGE_BYTES, tokens_in
from digest.errors import ConfigError
from digest.store import Store
from digest.tokens import make_token

UTC = timezone.utc
DAY1 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
SENT = DAY1 + timedelta(hours=1, minutes=5)  # after Ann's 07:00 in Berlin
LATER = DAY1 + timedelta(days=3)  # when she asks her mail client to unsubscribe
PG_KEY = "test-signing-key-for-postgres-" + "7" * 32


@pytest.fixture
def env(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, SinkHandler]]:
    """A config file on SQLite or PostgreSQL and a real SMTP server on loopback."""
    if db_url.startswith("postgresql"):  # several hosts: the key comes from the environment
        monkeypatch.setenv("DIGEST_SECRET_KEY", PG_KEY)
    with smtp_sink() as (server, port):
        yield _config(tmp_path, db_url, port), server


@pytest.fixture
def sqlite_env(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Path, SinkHandler]]:
    with smtp_sink() as (server, port):
        yield _config(tmp_path, sqlite_url, port), server


def _config(tmp_path: Path, db_url: str, port: int, extra_smtp: str = "") -> Path:
    cfg = tmp_path / "digest.toml"
    cfg.write_text(f"""
data_dir = "data"
[database]
url = "{db_url}"
[smtp]
host = "127.0.0.1"
port = {port}
from = "Paper Digest <digest@example.org>"
{extra_smtp}
[web]
base_url = "https://papers.example.org"
""", encoding="utf-8")
    return cfg


def run(cfg: Path, *args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), "unsubscribe-mail", *args], input=stdin)


def open_store(cfg: Path) -> Store:
    return Store.open(load_settings(cfg).database_url)


def reader(store: Store, email: str = "ann@example.org", alert: str = "diffusion models") -> tuple[Any, Any]:
    """A user made the day before with one daily alert, and three papers it matched."""
    with time_machine.travel(DAY1 - timedelta(days=1), tick=False):
        user = store.upsert_user(email, name="Ann", timezone="Europe/Berlin", hour=7)
        sub = store.add_subscription(user.id, alert, query="diffusion")
    with time_machine.travel(DAY1, tick=False):
        matched(store, sub.id, arxiv_papers(store, 1, 3, DAY1))
    return user, sub


def send_digest(cfg: Path, server: SinkHandler) -> EmailMessage:
    """`digest send` at Ann's hour; the message the SMTP server received."""
    with time_machine.travel(SENT, tick=False):
        result = CliRunner().invoke(cli, ["--config", str(cfg), "send", "--no-match"], catch_exceptions=False)
    assert "delivered 1" in result.output, result.output
    return server.received[-1].message


def list_unsubscribe_mailto(digest: EmailMessage) -> tuple[str, str]:
    """(address, subject) of the mailto URI in List-Unsubscribe (RFC 6068 percent-decoding)."""
    mailto = re.search(r"<(mailto:[^>]+)>", str(digest["List-Unsubscribe"]))
    assert mailto, digest["List-Unsubscribe"]
    parts = urlsplit(mailto.group(1))
    return unquote(parts.path), parse_qs(parts.query)["subject"][0]


def client_message(to: str, subject: str | None, body: str = "", *, html: str | None = None,
                   sender: str = "Ann <ann@example.org>") -> EmailMessage:
    """What a mail client sends when its "unsubscribe" uses the mailto URI."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    if subject is not None:
        msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content(body or "This message was sent by your mail client to unsubscribe.\n")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def token_of(subject: str) -> str:
    return subject.rsplit(" ", 1)[1]


def request_for(store: Store, cfg: Path, email: str = "ann@example.org", **data: Any) -> tuple[str, str]:
    """(token, subject) of the request a user's digest would make today (``data``: ``s=`` for an alert)."""
    user = store.get_user(email)
    token = make_token("unsubscribe", user.id, user.token_generation, settings=load_settings(cfg), **data)
    return token, f"unsubscribe {token}"


def assert_one_line_error(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output


# --- the round trip --------------------------------------------------------------------------------


def test_the_mailto_of_a_sent_digest_unsubscribes_its_reader(env: tuple[Path, SinkHandler],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Ann's mail client offers "Unsubscribe" and uses the mailto of List-Unsubscribe: it mails the
    subject the URI gives to the address it names. Piped to the command by the MTA, that stops her
    digests, marked as her own choice; the same message again (delivered twice) is ignored as
    already honoured, and the next day's digest does not go out. The token never appears in what
    the command prints or logs."""
    cfg, server = env
    store = open_store(cfg)
    ann, _ = reader(store)
    address, subject = list_unsubscribe_mailto(send_digest(cfg, server))
    assert address == "digest@example.org" and subject.startswith("unsubscribe ")
    raw = client_message(address, subject).as_bytes()
    with time_machine.travel(LATER, tick=False):
        caplog.set_level("INFO")
        first = run(cfg, stdin=raw)
        again = run(cfg, stdin=raw)
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == ["-: unsubscribed ann@example.org from all digests",
                                         "1 message(s): 1 unsubscribed, 0 paused, 0 ignored"]
    assert again.exit_code == 0, again.output
    assert again.output.splitlines() == ["-: ignored: this request was already honoured",
                                         "1 message(s): 0 unsubscribed, 0 paused, 1 ignored"]
    user = store.get_user(ann.id)
    assert not user.active and user.unsubscribed
    token = token_of(subject)
    assert token not in first.output and token not in caplog.text
    assert "user=ann@example.org unsubscribed from all digests via=mail" in caplog.text
    with time_machine.travel(SENT + timedelta(days=1), tick=False):
        arxiv_papers(store, 10, 2, SENT + timedelta(hours=20))
        matched(store, store.list_subscriptions(ann.id)[0].id, ["arxiv:2611.00010", "arxiv:2611.00011"])
        CliRunner().invoke(cli, ["--config", str(cfg), "send", "--no-match"], catch_exceptions=False)
    assert len(server.received) == 1
    store.close()


def test_an_alert_token_pauses_only_that_alert(env: tuple[Path, SinkHandler]) -> None:
    """A token made for one alert (data ``s``) pauses that alert; the user and their other alerts
    go on (the web's unsubscribe link does the same with such a token)."""
    cfg, _ = env
    store = open_store(cfg)
    ann, sub = reader(store)
    other = store.add_subscription(ann.id, "graph networks", query="graph")
    with time_machine.travel(LATER, tick=False):
        token, subject = request_for(store, cfg, s=sub.id)
        result = run(cfg, "--json", stdin=client_message("digest@example.org", subject).as_bytes())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"message": "-", "outcome": "paused", "user": "ann@example.org",
                                          "alert": "diffusion models", "reason": None}]
    assert token not in result.output
    assert store.get_subscription(sub.id).paused and not store.get_subscription(other.id).paused
    assert store.get_user(ann.id).active
    store.close()


def test_unsubscribe_address_is_the_mailto_of_every_digest(tmp_path: Path, sqlite_url: str) -> None:
    """An operator routes ``[smtp] unsubscribe_address`` to a pipe alias: the mailto of each digest
    names it (the digests still come from ``from``), and a request sent there works."""
    with smtp_sink() as (server, port):
        cfg = _config(tmp_path, sqlite_url, port, 'unsubscribe_address = "unsubscribe@example.org"')
        store = open_store(cfg)
        ann, _ = reader(store)
        digest = send_digest(cfg, server)
    assert digest["From"] == "Paper Digest <digest@example.org>"
    address, subject = list_unsubscribe_mailto(digest)
    assert address == "unsubscribe@example.org"
    assert "<mailto:unsubscribe@example.org?subject=unsubscribe%20" in str(digest["List-Unsubscribe"])
    with time_machine.travel(LATER, tick=False):
        result = run(cfg, stdin=client_message(address, subject).as_bytes())
    assert result.exit_code == 0 and "unsubscribed ann@example.org" in result.output, result.output
    assert store.get_user(ann.id).unsubscribed
    store.close()


def test_unsubscribe_address_must_be_a_bare_address(tmp_path: Path) -> None:
    cfg = _config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", 25, 'unsubscribe_address = "not an address"')
    with pytest.raises(ConfigError, match="unsubscribe_address"):
        load_settings(cfg)
    empty = _config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", 25, 'unsubscribe_address = ""')
    assert load_settings(empty).smtp.unsubscribe_address is None  # as if left out: the from address


# --- what mail clients do to the subject -------------------------------------------------------------


def _encoded_words(text: str) -> str:
    return Header(text, "utf-8", maxlinelen=40).encode()  # B-encoded and split into several words


@pytest.mark.parametrize("make_subject", [
    lambda s: "Re: " + s,
    lambda s: "Fwd: " + s,
    lambda s: "AW: WG: " + s + " (sent from my phone)",
    lambda s: _encoded_words(s),
    lambda s: "=?utf-8?q?" + s.replace("_", "=5F").replace(" ", "_") + "?=",
    lambda s: s.replace(" ", "%20"),  # a client that did not percent-decode the mailto
], ids=["re", "fwd", "german-prefixes", "rfc2047-b-split", "rfc2047-q", "percent-encoded"])
def test_what_clients_do_to_the_subject(sqlite_env: tuple[Path, SinkHandler], make_subject: Any) -> None:
    cfg, _ = sqlite_env
    store = open_store(cfg)
    ann, _ = reader(store)
    with time_machine.travel(LATER, tick=False):
        token, subject = request_for(store, cfg)
        raw = (b"From: ann@example.org\r\nTo: digest@example.org\r\nSubject: " + make_subject(subject).encode()
               + b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nplease\r\n")
        result = run(cfg, stdin=raw)
    assert result.exit_code == 0 and "-: unsubscribed ann@example.org from all digests" in result.output, result.output
    assert token not in result.output
    assert store.get_user(ann.id).unsubscribed
    store.close()


def test_a_folded_subject_and_a_unix_from_line(sqlite_env: tuple[Path, SinkHandler]) -> None:
    """Exim's pipe transport puts a "From sender date" line before the message; a client folds the
    long subject onto a continuation line (RFC 5322 §2.2.3)."""
    cfg, _ = sqlite_env
    store = open_store(cfg)
    ann, _ = reader(store)
    with time_machine.travel(LATER, tick=False):
        token, _ = request_for(store, cfg)
        raw = (b"From ann@example.org Fri Nov 27 10:00:00 2026\n"
               b"From: ann@example.org\nSubject: Re: unsubscribe\n\t" + token.encode() + b"\n\nbye\n")
        result = run(cfg, stdin=raw)
    assert result.exit_code == 0 and "unsubscribed ann@example.org" in result.output, result.output
    store.close()


# --- the token only in the body ----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["plain", "html", "quoted-printable"])
def test_the_token_only_in_the_body(sqlite_env: tuple[Path, SinkHandler], where: str) -> None:
    """A client that drops the subject (or a user who typed the request) sends "unsubscribe TOKEN"
    in the body: as plain text, only in HTML, or quoted-printable with a soft line break."""
    cfg, _ = sqlite_env
    store = open_store(cfg)
    ann, _ = reader(store)
    with time_machine.travel(LATER, tick=False):
        token, request = request_for(store, cfg)
        if where == "plain":
            msg = client_message("digest@example.org", "", f"Hello,\n\n{request}\n\nThanks, Ann\n")
        elif where == "html":
            msg = EmailMessage(policy=policy.SMTP)
            msg["Subject"] = "(no subject)"
            msg.set_content(f"<html><body><p>Hi!</p><p>unsubscribe <b>{token}</b></p></body></html>",
                            subtype="html")
        else:
            msg = client_message("digest@example.org", None)
            msg.set_content("é " * 40 + f"\n{request}\n", cte="quoted-printable")
        result = run(cfg, stdin=msg.as_bytes())
    assert result.exit_code == 0 and "unsubscribed ann@example.org" in result.output, result.output
    assert store.get_user(ann.id).unsubscribed
    store.close()


def test_a_reply_to_a_digest_unsubscribes_no_one(sqlite_env: tuple[Path, SinkHandler]) -> None:
    """With the default address, replies to digests land where unsubscribe requests do. A reply
    quotes the digest, whose footer links /unsubscribe/TOKEN, and a client may attach the digest
    itself (message/rfc822); neither is a request. Nor is a bounce quoting the whole digest with its
    List-Unsubscribe header (the digests' envelope sender is the ``from`` address too)."""
    cfg, server = sqlite_env
    store = open_store(cfg)
    ann, _ = reader(store)
    digest = send_digest(cfg, server)
    text = digest.get_body(("plain",))
    assert text is not None
    quoted = "".join("> " + line + "\n" for line in text.get_content().splitlines())
    _, subject = list_unsubscribe_mailto(digest)
    assert "/unsubscribe/" + token_of(subject) in quoted
    reply = client_message("digest@example.org", "Re: " + str(digest["Subject"]),
                           "Thanks, the third paper is great!\n\n" + quoted)
    reply.add_attachment(digest)
    # qmail's bounce: the whole returned message, List-Unsubscribe header included, as plain text.
    bounce = client_message("digest@example.org", "failure notice",
                            "Hi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able to "
                            "deliver your message to the following addresses.\n\n--- Below this line is a copy "
                            "of the message.\n\n" + server.received[-1].data.decode(),
                            sender="MAILER-DAEMON@mx.example.net")
    assert token_of(subject) in bounce.get_content()
    with time_machine.travel(LATER, tick=False):
        results = [run(cfg, stdin=reply.as_bytes()), run(cfg, stdin=bounce.as_bytes())]
    for result in results:
        assert result.exit_code == 0, result.output
        assert "-: ignored: no unsubscribe token" in result.output
    assert store.get_user(ann.id).active
    store.close()


# --- tokens that must not work -------------------------------------------------------------------------


def _tampered(token: str) -> str:
    return token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")


@pytest.mark.parametrize(("forge", "reason"), [
    (lambda store, cfg, token: _tampered(token), "invalid"),
    (lambda store, cfg, token: make_token("unsubscribe", store.get_user("ann@example.org").id, 0,
                                          settings=load_settings(cfg).model_copy(
                                              update={"secret_key": SecretStr("a-stranger-key-" + "x" * 32)})), "invalid"),
    (lambda store, cfg, token: make_token("feedback", store.get_user("ann@example.org").id, 0,
                                          settings=load_settings(cfg)), "invalid"),
    (lambda store, cfg, token: make_token("unsubscribe", 987_654, 0, settings=load_settings(cfg)), "unknown-user"),
], ids=["tampered", "another-key", "another-purpose", "unknown-user"])
def test_forged_tokens_are_ignored_with_the_reason(env: tuple[Path, SinkHandler], forge: Any, reason: str) -> None:
    """Anyone can mail the unsubscribe address, with any From (here Ann's own): only a token
    signed by this installation for unsubscribing, naming a stored user, does anything. The rest
    is ignored with the reason, and the command succeeds (an MTA would bounce a failure to the
    sender, spam included)."""
    cfg, _ = env
    store = open_store(cfg)
    ann, _ = reader(store)
    with time_machine.travel(LATER, tick=False):
        token, _ = request_for(store, cfg)
        forged = forge(store, cfg, token)
        result = run(cfg, "--json", stdin=client_message("digest@example.org", f"unsubscribe {forged}").as_bytes())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"message": "-", "outcome": "ignored", "user": None, "alert": None,
                                          "reason": reason}]
    assert forged not in result.output
    assert store.get_user(ann.id).active and not store.get_user(ann.id).unsubscribed
    store.close()


def test_a_token_revoked_by_a_newer_generation_is_ignored(env: tuple[Path, SinkHandler]) -> None:
    cfg, server = env
    store = open_store(cfg)
    ann, _ = reader(store)
    address, subject = list_unsubscribe_mailto(send_digest(cfg, server))
    store.bump_token_generation(ann.id)  # "sign out everywhere", a leaked link: every link sent is void
    with time_machine.travel(LATER, tick=False):
        result = run(cfg, stdin=client_message(address, subject).as_bytes())
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == ("-: ignored: the unsubscribe token was revoked "
                                             "(the user's links were renewed since)")
    assert store.get_user(ann.id).active
    store.close()


def test_an_expired_token_and_a_deleted_alert_are_ignored(sqlite_env: tuple[Path, SinkHandler]) -> None:
    cfg, _ = sqlite_env
    store = open_store(cfg)
    ann, sub = reader(store)
    with time_machine.travel(LATER, tick=False):
        _, old = request_for(store, cfg)
        _, alert = request_for(store, cfg, s=sub.id)
    store.delete_subscription(sub.id)
    with time_machine.travel(LATER + timedelta(days=401), tick=False):
        expired = run(cfg, stdin=client_message("digest@example.org", old).as_bytes())
    with time_machine.travel(LATER, tick=False):
        deleted = run(cfg, stdin=client_message("digest@example.org", alert).as_bytes())
    assert expired.exit_code == 0 and "ignored: the unsubscribe token has expired" in expired.output
    assert deleted.exit_code == 0 and "ignored: the unsubscribe token names an alert that is no longer stored" \
        in deleted.output
    assert store.get_user(ann.id).active
    store.close()


def test_garbage_on_stdin_is_ignored_not_a_traceback(sqlite_env: tuple[Path, SinkHandler]) -> None:
    cfg, _ = sqlite_env
    garbage = bytes(range(256)) * 40 + b"\r\n\r\n\x00\xff Subject: =?x-unknown?q?=ZZ?=\r\n"
    for raw in (garbage, b"Subject: unsubscribe\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
                b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nunsubscribe x.y.z\r\n"):
        result = run(cfg, stdin=raw)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code == 0, result.output
        assert "-: ignored: no unsubscribe token" in result.output


@hsettings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_parsed_without_an_error(raw: bytes) -> None:
    from email import message_from_bytes

    assert isinstance(tokens_in(message_from_bytes(raw, policy=policy.default)), list)


def test_a_huge_message_is_read_only_in_part(sqlite_env: tuple[Path, SinkHandler]) -> None:
    """A message of several megabytes (an attachment) is read up to the cap; the request in its
    subject still counts."""
    cfg, _ = sqlite_env
    store = open_store(cfg)
    ann, _ = reader(store)
    with time_machine.travel(LATER, tick=False):
        _, subject = request_for(store, cfg)
        msg = client_message("digest@example.org", subject)
        msg.add_attachment(os.urandom(3 * MAX_MESSAGE_BYTES), maintype="application", subtype="octet-stream")
        result = run(cfg, stdin=msg.as_bytes())
    assert result.exit_code == 0 and "unsubscribed ann@example.org" in result.output, result.output
    store.close()


# --- files, mboxes, Maildirs ------------------------------------------------------------------------


def _users(store: Store, cfg: Path) -> dict[str, str]:
    """Ann, Bob and Cy with an alert each; the subject of each one's request."""
    subjects = {}
    for email in ("ann@example.org", "bob@example.org", "cy@example.org"):
        reader(store, email)
    with time_machine.travel(LATER, tick=False):
        for email in ("ann@example.org", "bob@example.org", "cy@example.org"):
            subjects[email] = request_for(store, cfg, email)[1]
    return subjects


def test_an_mbox_and_a_message_file(sqlite_env: tuple[Path, SinkHandler], tmp_path: Path) -> None:
    cfg, _ = sqlite_env
    store = open_store(cfg)
    subjects = _users(store, cfg)
    box = mailbox.mbox(tmp_path / "requests.mbox")
    box.add(client_message("digest@example.org", subjects["ann@example.org"]))
    box.add(client_message("digest@example.org", "Buy cheap watches", "From the best shop\n"))
    box.add(client_message("digest@example.org", "Re: " + subjects["bob@example.org"]))
    box.close()
    eml = tmp_path / "cy.eml"
    eml.write_bytes(client_message("digest@example.org", subjects["cy@example.org"]).as_bytes())
    with time_machine.travel(LATER, tick=False):
        result = run(cfg, str(tmp_path / "requests.mbox"), str(eml))
        as_json = run(cfg, "--json", str(tmp_path / "requests.mbox"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{tmp_path / 'requests.mbox'}#1: unsubscribed ann@example.org from all digests",
        f"{tmp_path / 'requests.mbox'}#2: ignored: no unsubscribe token",
        f"{tmp_path / 'requests.mbox'}#3: unsubscribed bob@example.org from all digests",
        f"{eml}: unsubscribed cy@example.org from all digests",
        "4 message(s): 3 unsubscribed, 0 paused, 1 ignored",
    ]
    assert [(o["outcome"], o["reason"]) for o in json.loads(as_json.stdout)] == [
        ("ignored", "already-handled"), ("ignored", "no-token"), ("ignored", "already-handled")]
    assert all(not u.active for u in store.list_users())
    assert not any(token_of(s) in result.output + as_json.output for s in subjects.values())
    store.close()


def test_a_maildir_is_handled_once(sqlite_env: tuple[Path, SinkHandler], tmp_path: Path) -> None:
    """getmail or mbsync fills a Maildir and a timer runs the command over it: each run handles the
    messages not yet seen and marks them seen (moved to cur/ with the S flag), so the next run
    skips them; what a user read in their client and left unseen-flagged is handled too."""
    cfg, _ = sqlite_env
    store = open_store(cfg)
    subjects = _users(store, cfg)
    md = mailbox.Maildir(tmp_path / "unsubscribe")
    md.add(client_message("digest@example.org", subjects["ann@example.org"]))
    md.add(client_message("digest@example.org", "Hello", "no request here\n"))
    flagged = mailbox.MaildirMessage(client_message("digest@example.org", subjects["bob@example.org"]))
    flagged.set_subdir("cur")
    flagged.set_flags("F")  # read elsewhere and flagged, not seen
    md.add(flagged)
    done = mailbox.MaildirMessage(client_message("digest@example.org", subjects["cy@example.org"]))
    done.set_subdir("cur")
    done.set_flags("S")  # already seen: an earlier run (or a person) handled it
    md.add(done)
    with time_machine.travel(LATER, tick=False):
        first = run(cfg, str(tmp_path / "unsubscribe"))
        second = run(cfg, "--json", str(tmp_path / "unsubscribe"))
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert sorted(line.split(": ", 1)[1] for line in lines[:-1]) == [
        "ignored: no unsubscribe token", "unsubscribed ann@example.org from all digests",
        "unsubscribed bob@example.org from all digests"]
    assert lines[-1] == "3 message(s): 2 unsubscribed, 0 paused, 1 ignored"
    assert second.exit_code == 0 and json.loads(second.stdout) == []
    assert store.get_user("cy@example.org").active  # seen before the first run: never read
    assert os.listdir(tmp_path / "unsubscribe" / "new") == []
    assert sorted(n.split(":2,")[1] for n in os.listdir(tmp_path / "unsubscribe" / "cur")) == ["FS", "S", "S", "S"]
    md = mailbox.Maildir(tmp_path / "unsubscribe")  # what mail readers see: the same messages, now seen
    assert len(md) == 4 and all("S" in m.get_flags() for m in md)
    md.add(client_message("digest@example.org", subjects["cy@example.org"]))
    with time_machine.travel(LATER, tick=False):
        third = run(cfg, str(tmp_path / "unsubscribe"))
    assert third.output.splitlines()[-1] == "1 message(s): 1 unsubscribed, 0 paused, 0 ignored"
    assert not store.get_user("cy@example.org").active
    store.close()


# --- a request is honoured once ----------------------------------------------------------------------


def test_an_mbox_read_again_does_not_unsubscribe_a_reader_who_resumed(env: tuple[Path, SinkHandler],
                                                                     tmp_path: Path) -> None:
    """fetchmail appends the requests to an mbox and a timer runs the command over it every ten
    minutes, reading it whole each time (docs/running.md). Ann's client mails the List-Unsubscribe
    request: she is unsubscribed. The next day she resumes her digests on the web; the timer reads
    the same mbox again, and her old request, whose token is still valid, is ignored as already
    honoured: she stays subscribed, run after run."""
    cfg, server = env
    store = open_store(cfg)
    ann, _ = reader(store)
    address, subject = list_unsubscribe_mailto(send_digest(cfg, server))
    box = mailbox.mbox(tmp_path / "unsubscribe.mbox")
    box.add(client_message(address, subject))
    box.close()
    with time_machine.travel(LATER, tick=False):
        first = run(cfg, str(tmp_path / "unsubscribe.mbox"))
    assert first.exit_code == 0 and "unsubscribed ann@example.org" in first.output, first.output
    assert store.get_user(ann.id).unsubscribed
    store.set_user_active(ann.id, True)  # what POST /resume does
    for minutes in (0, 10, 20):
        with time_machine.travel(LATER + timedelta(days=1, minutes=minutes), tick=False):
            again = run(cfg, "--json", str(tmp_path / "unsubscribe.mbox"))
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout) == [{"message": f"{tmp_path / 'unsubscribe.mbox'}#1", "outcome": "ignored",
                                             "user": None, "alert": None, "reason": "already-handled"}]
    user = store.get_user(ann.id)
    assert user.active and not user.unsubscribed
    store.close()


def test_a_new_request_after_a_resume_is_honoured(env: tuple[Path, SinkHandler], tmp_path: Path) -> None:
    """Having resumed, Ann changes her mind again and asks her client to unsubscribe from a newer
    digest: a new message (its own Message-ID), honoured, next to the old one still in the mbox.
    A message is what is honoured once, not a token: a new message with the old digest's token
    works too, and an alert-level request is remembered as such."""
    cfg, server = env
    store = open_store(cfg)
    ann, sub = reader(store)
    address, subject = list_unsubscribe_mailto(send_digest(cfg, server))
    mbox = tmp_path / "unsubscribe.mbox"
    box = mailbox.mbox(mbox)
    box.add(client_message(address, subject))
    box.close()
    with time_machine.travel(LATER, tick=False):
        assert "1 unsubscribed" in run(cfg, str(mbox)).output
    store.set_user_active(ann.id, True)
    with time_machine.travel(LATER + timedelta(days=7), tick=False):
        _, newer = request_for(store, cfg)
        box = mailbox.mbox(mbox)
        box.add(client_message(address, newer))
        box.close()
        result = run(cfg, str(mbox))
    assert result.output.splitlines() == [f"{mbox}#1: ignored: this request was already honoured",
                                          f"{mbox}#2: unsubscribed ann@example.org from all digests",
                                          "2 message(s): 1 unsubscribed, 0 paused, 1 ignored"], result.output
    assert store.get_user(ann.id).unsubscribed
    store.set_user_active(ann.id, True)
    with time_machine.travel(LATER + timedelta(days=8), tick=False):
        old_token_anew = run(cfg, stdin=client_message(address, subject).as_bytes())
        _, pause = request_for(store, cfg, s=sub.id)
        alert_request = client_message(address, pause).as_bytes()
        paused = [run(cfg, stdin=alert_request) for _ in range(2)]
    assert "-: unsubscribed ann@example.org from all digests" in old_token_anew.output
    assert paused[0].output.startswith("-: paused alert \u201cdiffusion models\u201d for ann@example.org")
    assert paused[1].output.startswith("-: ignored: this request was already honoured")
    store.close()


def test_a_message_is_honoured_once_whatever_it_is_read_from(sqlite_env: tuple[Path, SinkHandler],
                                                             tmp_path: Path) -> None:
    """The same message piped in, saved as a file, in an mbox and delivered to a Maildir (an
    operator who moved from one way to another, or fetched it twice) is one request: honoured the
    first time, ignored as already handled everywhere else."""
    cfg, _ = sqlite_env
    store = open_store(cfg)
    ann, _ = reader(store)
    with time_machine.travel(LATER, tick=False):
        _, subject = request_for(store, cfg)
    request = client_message("digest@example.org", subject)
    eml = tmp_path / "ann.eml"
    eml.write_bytes(request.as_bytes())
    box = mailbox.mbox(tmp_path / "requests.mbox")
    box.add(request)
    box.close()
    mailbox.Maildir(tmp_path / "maildir").add(request)
    with time_machine.travel(LATER, tick=False):
        first = run(cfg, stdin=request.as_bytes())
        store.set_user_active(ann.id, True)
        again = run(cfg, "--json", str(eml), str(tmp_path / "requests.mbox"), str(tmp_path / "maildir"))
    assert first.output.startswith("-: unsubscribed ann@example.org"), first.output
    assert again.exit_code == 0, again.output
    assert [o["reason"] for o in json.loads(again.stdout)] == ["already-handled"] * 3
    assert store.get_user(ann.id).active
    store.close()


def test_a_message_without_message_id_is_known_by_its_bytes(sqlite_env: tuple[Path, SinkHandler]) -> None:
    """A hand-written request without a Message-ID header (RFC 5322 only says SHOULD) is known by
    its bytes: the same bytes again are the same request, ignored; the request written again (here
    another Date) is a new one, honoured."""
    cfg, _ = sqlite_env
    store = open_store(cfg)
    ann, _ = reader(store)
    with time_machine.travel(LATER, tick=False):
        _, subject = request_for(store, cfg)

    def request(date: str) -> bytes:
        return (f"From: ann@example.org\r\nTo: digest@example.org\r\nDate: {date}\r\nSubject: {subject}\r\n"
                "\r\nplease stop\r\n").encode()

    with time_machine.travel(LATER, tick=False):
        first = run(cfg, stdin=request("Fri, 27 Nov 2026 10:00:00 +0000"))
        store.set_user_active(ann.id, True)
        same = run(cfg, stdin=request("Fri, 27 Nov 2026 10:00:00 +0000"))
        assert store.get_user(ann.id).active
        rewritten = run(cfg, stdin=request("Fri, 27 Nov 2026 10:05:00 +0000"))
    assert first.output.startswith("-: unsubscribed ann@example.org"), first.output
    assert same.output.startswith("-: ignored: this request was already honoured"), same.output
    assert rewritten.output.startswith("-: unsubscribed ann@example.org"), rewritten.output
    assert store.get_user(ann.id).unsubscribed
    store.close()


def test_a_copied_message_id_does_not_block_another_users_request(sqlite_env: tuple[Path, SinkHandler]) -> None:
    """What was honoured is remembered per user: a stranger who sends his own request with the
    Message-ID Ann's client will use (or a client that reuses ids) does not make hers look handled."""
    cfg, _ = sqlite_env
    store = open_store(cfg)
    ann, _ = reader(store)
    reader(store, "bob@example.org")
    with time_machine.travel(LATER, tick=False):
        bob = client_message("digest@example.org", request_for(store, cfg, "bob@example.org")[1])
        hers = client_message("digest@example.org", request_for(store, cfg)[1])
        del bob["Message-ID"]
        bob["Message-ID"] = hers["Message-ID"]
        results = [run(cfg, stdin=bob.as_bytes()), run(cfg, stdin=hers.as_bytes())]
    assert results[0].output.startswith("-: unsubscribed bob@example.org"), results[0].output
    assert results[1].output.startswith("-: unsubscribed ann@example.org"), results[1].output
    assert store.get_user(ann.id).unsubscribed
    store.close()


def test_a_crash_before_the_request_is_recorded_loses_nothing(sqlite_env: tuple[Path, SinkHandler],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The request is recorded after it was applied: a run that dies in between (the database gone
    at that moment) exits 75, the MTA delivers the message again, and that delivery is honoured
    (applying it again changes nothing)."""
    cfg, _ = sqlite_env
    store = open_store(cfg)
    ann, _ = reader(store)
    with time_machine.travel(LATER, tick=False):
        raw = client_message("digest@example.org", request_for(store, cfg)[1]).as_bytes()

    def database_gone(*args: Any, **kwargs: Any) -> bool:
        raise OperationalError("INSERT INTO used_tokens", {}, Exception("disk I/O error"))

    with time_machine.travel(LATER, tick=False):
        monkeypatch.setattr(Store, "use_token", database_gone)
        crashed = run(cfg, stdin=raw)
        monkeypatch.undo()
        retried = run(cfg, stdin=raw)
        again = run(cfg, stdin=raw)
    assert crashed.exit_code == 75, crashed.output
    assert store.get_user(ann.id).unsubscribed
    assert retried.exit_code == 0 and retried.output.startswith("-: unsubscribed ann@example.org"), retried.output
    assert again.output.startswith("-: ignored: this request was already honoured"), again.output
    store.close()


# --- inputs that cannot be read ---------------------------------------------------------------------


def test_empty_stdin_is_a_one_line_error(sqlite_env: tuple[Path, SinkHandler]) -> None:
    cfg, _ = sqlite_env
    for raw in (b"", b"\r\n \n"):
        result = run(cfg, stdin=raw)
        assert_one_line_error(result)
        assert "stdin" in result.output and "empty" in result.output


def test_a_missing_or_wrong_path_is_a_one_line_error_and_nothing_is_done(sqlite_env: tuple[Path, SinkHandler],
                                                                       tmp_path: Path) -> None:
    """Every PATH is checked first: a request in a good file next to a missing one is not acted on."""
    cfg, _ = sqlite_env
    store = open_store(cfg)
    reader(store)
    with time_machine.travel(LATER, tick=False):
        _, subject = request_for(store, cfg)
        good = tmp_path / "ann.eml"
        good.write_bytes(client_message("digest@example.org", subject).as_bytes())
        (tmp_path / "folder").mkdir()
        for wrong, says in ((tmp_path / "nope.mbox", "no such file"), (tmp_path / "folder", "not a Maildir")):
            result = run(cfg, str(good), str(wrong))
            assert_one_line_error(result)
            assert str(wrong) in result.output and says in result.output
    assert store.get_user("ann@example.org").active
    store.close()


def test_a_database_that_cannot_be_used_exits_75_for_the_mta_to_retry(tmp_path: Path) -> None:
    """Postfix and Exim keep a message whose pipe command exits 75 (EX_TEMPFAIL) and try again;
    any other failure bounces the user's request back to them."""
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    cfg = _config(tmp_path, f"sqlite:///{blocker}/digest.db", 25)
    result = run(cfg, stdin=client_message("digest@example.org", "unsubscribe a.b.c").as_bytes())
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 75, result.output
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: database")
