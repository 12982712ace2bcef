"""SMTP delivery from the outbox to a real SMTP server (aiosmtpd) on loopback.

The assertions are on the bytes the server received: the stored message goes out unchanged, once;
4yz is retried with backoff, 5yz fails with its code; a process killed between the server's 250 and
marking the row produces exactly one duplicate, with the same Message-ID.
"""

from __future__ import annotations

import collections
import smtplib
import ssl
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from smtp_sink import smtp_sink

from digest.config import Settings, SmtpSettings
from digest.deliver.outbox import LEASE_SECONDS, MAX_ATTEMPTS, deliver_pending, retry_delay
from digest.deliver import smtp
from digest.deliver.smtp import SmtpTransport
from digest.store import Store
from digest.store.schema import UserRow

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)


def settings_for(port: int, **smtp: object) -> Settings:
    return Settings(smtp=SmtpSettings.model_validate({"host": "127.0.0.1", "port": port, "timeout": 10,
                                                      "from": "Digest <digest@example.org>", **smtp}))


def message(user_id: int, key: str) -> bytes:
    # Test data: a multipart/alternative message as the outbox stores it (built here with the stdlib).
    msg = EmailMessage()
    msg["From"] = "Digest <digest@example.org>"
    msg["To"] = f"user{user_id}@example.org"
    msg["Subject"] = f"2 new papers — {key}"
    msg["Date"] = format_datetime(T0)
    msg["Message-ID"] = f"<digest.{user_id}.daily.{key}@example.org>"
    msg.set_content("plain text part\n")
    msg.add_alternative("<p>html part</p>\n", subtype="html")
    return msg.as_bytes()


def enqueue(store: Store, n: int, key: str = "2026-11-24") -> list[int]:
    ids = []
    for i in range(n):
        u = store.upsert_user(f"user{i}@example.org")
        oid = store.enqueue_digest(u.id, "daily", key, f"<digest.{u.id}.daily.{key}@example.org>", "s",
                                   u.email, message(u.id, key), [], 0, 1, now=T0)
        assert oid is not None
        ids.append(oid)
    return ids


def test_stored_bytes_arrive_unchanged_over_one_connection(store: Store) -> None:
    enqueue(store, 5)
    stored = {r.id: r.message for r in store.outbox_rows(with_message=True)}
    with smtp_sink() as (server, port):
        transport = SmtpTransport(settings_for(port))
        run = deliver_pending(store, settings_for(port), now=T0, transport=transport)
        assert (run.sent, run.retried, run.failed) == (5, 0, 0)
        assert transport.connections == 1
        assert len(server.received) == 5
        by_id = {r.message["Message-ID"]: r for r in server.received}
        for row in store.outbox_rows():
            got = by_id[row.message_id]
            assert got.rcpt_tos == [row.recipient]
            assert got.mail_from == "digest@example.org"  # RFC 5321: bare address in MAIL FROM
            # smtplib only re-terminates lines with CRLF and ends the data with one (RFC 5321 §2.3.8,
            # §4.1.1.4); the content is the very same.
            def lines(b: bytes | None) -> list[bytes]:
                assert b is not None
                return b.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
            assert lines(got.data) == lines(stored[row.id])
            msg = got.message
            assert msg.get_content_type() == "multipart/alternative"
            assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        # A second run sends nothing again.
        again = deliver_pending(store, settings_for(port), now=T0 + timedelta(hours=1))
        assert again.attempted == 0 and len(server.received) == 5
    assert store.outbox_summary().counts["sent"] == 5


def test_4xx_is_retried_with_backoff_then_sent(store: Store) -> None:
    [oid] = enqueue(store, 1)
    with smtp_sink() as (server, port):
        server.data_replies = ["451 4.3.0 mailbox busy, try later"]
        run = deliver_pending(store, settings_for(port), now=T0)
        assert (run.sent, run.retried) == (0, 1)
        row = store.get_outbox(oid)
        assert row is not None and row.status == "pending" and row.smtp_code == 451
        assert row.last_error is not None and "try later" in row.last_error
        assert row.next_attempt is not None and row.next_attempt >= T0 + retry_delay(1)
        # Not yet due: nothing happens.
        assert deliver_pending(store, settings_for(port), now=T0 + timedelta(seconds=30)).attempted == 0
        run = deliver_pending(store, settings_for(port), now=T0 + retry_delay(1) + timedelta(seconds=5))
        assert run.sent == 1 and len(server.received) == 1
    sent = store.get_outbox(oid)
    assert sent is not None and sent.status == "sent" and sent.attempts == 2


def test_5xx_fails_with_code_and_reason_while_others_go_through(store: Store) -> None:
    ids = enqueue(store, 3)
    with smtp_sink() as (server, port):
        server.rcpt_replies["user1@example.org"] = "550 5.1.1 no such user here"
        run = deliver_pending(store, settings_for(port), now=T0)
        assert (run.sent, run.failed) == (2, 1)
        assert len(server.received) == 2
    failed = store.get_outbox(ids[1])
    assert failed is not None and failed.status == "failed" and failed.smtp_code == 550
    assert "no such user" in (failed.last_error or "")
    assert [p.id for p in store.outbox_summary().problems] == [ids[1]]
    assert any("SMTP 550" in e for e in run.errors)


def test_gives_up_after_max_attempts(store: Store) -> None:
    [oid] = enqueue(store, 1)
    now = T0
    with smtp_sink() as (server, port):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            server.data_replies = ["452 4.3.1 insufficient system storage"]
            deliver_pending(store, settings_for(port), now=now)
            now += retry_delay(attempt) + timedelta(seconds=1)
    row = store.get_outbox(oid)
    assert row is not None and row.status == "failed" and row.attempts == MAX_ATTEMPTS
    assert "gave up" in (row.last_error or "")


def test_unreachable_server_is_retried_without_burning_every_row(store: Store) -> None:
    from smtp_sink import free_port

    enqueue(store, 4)
    run = deliver_pending(store, settings_for(free_port()), now=T0)
    assert (run.sent, run.retried) == (0, 1)
    # The three rows never tried are pending again, with no attempt counted.
    assert sorted(r.attempts for r in store.outbox_rows()) == [0, 0, 0, 1]
    with smtp_sink() as (server, port):
        deliver_pending(store, settings_for(port), now=T0 + timedelta(hours=1))
        assert len(server.received) == 4


def test_login_uses_the_password_from_the_environment_only(store: Store) -> None:
    enqueue(store, 1)
    with smtp_sink(auth={"mailer": "s3cret-pw"}) as (server, port):
        s = settings_for(port, username="mailer")
        s = s.model_copy(update={"smtp_password": __import__("pydantic").SecretStr("s3cret-pw")})
        assert deliver_pending(store, s, now=T0).sent == 1
        assert server.logins == [("mailer", "s3cret-pw")]


def test_wrong_password_is_not_shown_in_errors(store: Store) -> None:
    from pydantic import SecretStr

    [oid] = enqueue(store, 1)
    with smtp_sink(auth={"mailer": "right"}) as (server, port):
        s = settings_for(port, username="mailer").model_copy(update={"smtp_password": SecretStr("wrong-pw")})
        run = deliver_pending(store, s, now=T0)
    assert run.sent == 0 and server.received == []
    row = store.get_outbox(oid)
    assert row is not None and row.smtp_code == 535
    assert "wrong-pw" not in (row.last_error or "") and not any("wrong-pw" in e for e in run.errors)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(sqlite_store: Store, tls_files: tuple[Path, Path], security: str) -> None:
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    enqueue(sqlite_store, 2)
    with smtp_sink(auth={"mailer": "pw"}, tls_context=server_ctx, implicit_tls=security == "ssl") as (server, port):
        from pydantic import SecretStr

        s = settings_for(port, username="mailer", security=security).model_copy(
            update={"smtp_password": SecretStr("pw")})
        transport = SmtpTransport(s, ssl_context=client_ctx)
        run = deliver_pending(sqlite_store, s, now=T0, transport=transport)
        assert run.sent == 2 and transport.connections == 1
        assert server.logins == [("mailer", "pw")]
        assert len(server.received) == 2


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from datetime import datetime
    from digest.config import Settings, SmtpSettings
    from digest.deliver.outbox import deliver_pending
    from digest.store import Store

    url, port, now = sys.argv[1], int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
    store = Store.open(url, migrate=False)
    real_mark_sent, marked = store.mark_sent, []

    def mark_sent(outbox_id, *, now=None):
        # The server said 250 for this message; the process dies before the outbox row says "sent".
        if len(marked) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        real_mark_sent(outbox_id, now=now)
        marked.append(outbox_id)

    store.mark_sent = mark_sent
    deliver_pending(store, Settings(smtp=SmtpSettings(host="127.0.0.1", port=port)), now=now)
""")


def test_kill_between_send_and_mark_duplicates_only_the_message_in_flight(store: Store, db_url: str) -> None:
    enqueue(store, 6)
    with smtp_sink() as (server, port):
        proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, db_url, str(port), T0.isoformat()],
                              capture_output=True, timeout=60)
        assert proc.returncode == -9, proc.stderr.decode()
        assert len(server.received) == 3
        in_flight = server.message_ids()[2]
        # Its lease has to run out before another run may take the row again.
        assert deliver_pending(store, settings_for(port), now=T0 + timedelta(seconds=60)).attempted == 0
        run = deliver_pending(store, settings_for(port), now=T0 + timedelta(seconds=LEASE_SECONDS + 1))
        assert run.sent == 4
        counts = collections.Counter(server.message_ids())
    assert len(counts) == 6
    assert [mid for mid, n in counts.items() if n > 1] == [in_flight]
    assert counts[in_flight] == 2
    dupes = [r.data for r in server.received if r.message["Message-ID"] == in_flight]
    assert dupes[0] == dupes[1]
    assert store.outbox_summary().counts["sent"] == 6


@pytest.mark.parametrize("eight_bit_mime", [True, False])
def test_8bit_messages_go_as_8bitmime_or_are_converted_for_an_older_server(store: Store, eight_bit_mime: bool) -> None:
    from render_samples import digest, settings as render_settings

    from digest.render.email import render_email
    from digest.render.message import build_message, seven_bit

    r = render_email(digest(), settings=render_settings(), user_feed_token="ft", generation=0)
    u = store.upsert_user("ada@example.org")
    data = build_message(rendered=r, sender="Digest <digest@example.org>", recipient=("Ada", u.email),
                         message_id="<d.1@example.org>", date=T0, list_id="digest daily <daily.digest.example.org>",
                         unsubscribe_https=r.unsubscribe_https, unsubscribe_mailto=r.unsubscribe_mailto, eight_bit=True)
    assert not data.isascii()  # "Łukasz", "·": the parts really are 8bit
    store.enqueue_digest(u.id, "daily", "2026-11-24", "<d.1@example.org>", r.subject, u.email, data, [], 0, 1, now=T0)
    with smtp_sink(eight_bit_mime=eight_bit_mime) as (server, port):
        assert deliver_pending(store, settings_for(port), now=T0).sent == 1
    (got,) = server.received
    if eight_bit_mime:  # RFC 6152 §2: declared in MAIL FROM, the stored bytes unchanged
        assert "BODY=8BITMIME" in got.mail_options and got.data == data
    else:  # RFC 6152 §3: never 8-bit data to a server that did not offer it
        assert "BODY=8BITMIME" not in got.mail_options and got.data == seven_bit(data) and got.data.isascii()
    parts = list(got.message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().replace("\r\n", "\n") == r.text
    assert parts[1].get_content().replace("\r\n", "\n").rstrip("\n") == r.html.rstrip("\n")


def test_lines_starting_with_a_dot_are_stuffed_and_arrive_unchanged(store: Store) -> None:
    u = store.upsert_user("dot@example.org")
    data = b"Subject: dots\r\nMessage-ID: <dot@example.org>\r\n\r\n.leading dot\r\n.\r\n..two\r\nend\r\n"
    store.enqueue_digest(u.id, "daily", "2026-11-24", "<dot@example.org>", "dots", u.email, data, [], 0, 1, now=T0)
    with smtp_sink() as (server, port):
        assert deliver_pending(store, settings_for(port), now=T0).sent == 1
    assert server.received[0].data == data  # RFC 5321 §4.5.2: the server removes what we added


def test_background_delivery_drains_what_is_enqueued_while_it_runs(sqlite_store: Store, sqlite_url: str) -> None:
    from digest.deliver.outbox import BackgroundDelivery

    with smtp_sink() as (server, port):
        with BackgroundDelivery(sqlite_url, settings_for(port), now=T0) as background:
            enqueue(sqlite_store, 3)
            for i in range(3):  # after the worker may have found the outbox empty
                u = sqlite_store.upsert_user(f"late{i}@example.org")
                sqlite_store.enqueue_digest(u.id, "daily", "2026-11-24", f"<digest.{u.id}.daily.2026-11-24@example.org>", "s", u.email,
                                            message(u.id, "2026-11-24"), [], 0, 1, now=T0)
            run = background.finish()
        assert (run.sent, run.failed, run.errors) == (6, 0, [])
        assert sorted(server.message_ids()) == sorted(r.message_id for r in sqlite_store.outbox_rows())
    assert sqlite_store.outbox_summary().counts["sent"] == 6


def test_two_connections_deliver_each_message_once(sqlite_store: Store, sqlite_url: str) -> None:
    # `[delivery] connections = 2` (the default): two workers claim with leases, so none is sent twice
    from digest.config import DeliverySettings
    from digest.deliver.outbox import BackgroundDelivery

    assert DeliverySettings().connections == 2
    with smtp_sink() as (server, port):
        with BackgroundDelivery(sqlite_url, settings_for(port), now=T0, workers=2) as background:
            enqueue(sqlite_store, 40)
            run = background.finish()
        assert (run.sent, run.failed, run.errors) == (40, 0, [])
        assert sorted(server.message_ids()) == sorted(r.message_id for r in sqlite_store.outbox_rows())
    assert sqlite_store.outbox_summary().counts["sent"] == 40


@pytest.mark.parametrize("value", [0, 9, "two"])
def test_delivery_connections_out_of_range_are_refused(value: object) -> None:
    from pydantic import ValidationError

    from digest.config import DeliverySettings

    with pytest.raises(ValidationError, match="connections"):
        DeliverySettings.model_validate({"connections": value})


def test_each_row_is_marked_before_the_next_message_is_accepted(store: Store) -> None:
    # The next message is handed over while the previous row is marked, but the server may accept it
    # (the end of DATA) only after that mark: at most one accepted message is ever unmarked.
    ids = enqueue(store, 5)
    with smtp_sink() as (server, port):
        real_mark_sent, seen = store.mark_sent, []

        def mark_sent(outbox_id: int, *, now: datetime | None = None) -> None:
            seen.append((outbox_id, len(server.received)))
            real_mark_sent(outbox_id, now=now)

        store.mark_sent = mark_sent  # type: ignore[method-assign]
        run = deliver_pending(store, settings_for(port), now=T0)
    assert run.sent == 5
    assert seen == [(oid, n) for n, oid in enumerate(ids, 1)]


def test_a_failed_mark_stops_before_the_next_message_is_accepted(store: Store) -> None:
    ids = enqueue(store, 4)
    with smtp_sink() as (server, port):
        real_mark_sent = store.mark_sent

        def mark_sent(outbox_id: int, *, now: datetime | None = None) -> None:
            if outbox_id == ids[1]:
                raise RuntimeError("disk full")
            real_mark_sent(outbox_id, now=now)

        store.mark_sent = mark_sent  # type: ignore[method-assign]
        with pytest.raises(RuntimeError, match="disk full"):
            deliver_pending(store, settings_for(port), now=T0)
        # The third message was with the server but never ended: not delivered.
        assert server.message_ids() == [r.message_id for r in store.outbox_rows()][::-1][:2]
    statuses = {r.id: r.status for r in store.outbox_rows()}
    assert [statuses[i] for i in ids] == ["sent", "sending", "sending", "pending"]


@given(st.from_regex(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~ \"<>(),;:@\[\]\\-]{0,40}", fullmatch=True))
@hsettings(max_examples=500, deadline=None)
def test_quoted_addresses_are_what_smtplib_would_send(address: str) -> None:
    assert smtp._quoted(address) == smtplib.quoteaddr(address)


# --- failures of the transport, not of a message ---------------------------------------------------


def test_a_wrong_password_keeps_every_digest_for_a_retry_and_logs_in_once(store: Store) -> None:
    """AUTH 535 says nothing about the messages: no row fails, the run stops after one login, and the
    row tried waits for its retry (backing off) with the reason `digest status` shows."""
    from pydantic import SecretStr

    ids = enqueue(store, 3)
    with smtp_sink(auth={"mailer": "right"}) as (server, port):
        s = settings_for(port, username="mailer").model_copy(update={"smtp_password": SecretStr("wrnog")})
        run = deliver_pending(store, s, now=T0)
        # One session: smtplib tries each mechanism the server offers (PLAIN, then LOGIN) once.
        assert len(server.logins) == 2
    assert (run.sent, run.retried, run.failed) == (0, 1, 0)
    rows = {r.id: r for r in store.outbox_rows()}
    assert collections.Counter(r.status for r in rows.values()) == {"pending": 3}
    tried = rows[ids[0]]
    assert tried.smtp_code == 535 and "authentication failed" in (tried.last_error or "")
    assert tried.next_attempt is not None and tried.next_attempt >= T0 + retry_delay(1)
    assert [p.id for p in store.outbox_summary().problems] == [ids[0]]
    # Once the password is fixed, every digest goes out.
    with smtp_sink(auth={"mailer": "right"}) as (server, port):
        s = settings_for(port, username="mailer").model_copy(update={"smtp_password": SecretStr("right")})
        assert deliver_pending(store, s, now=T0 + retry_delay(1) + timedelta(seconds=5)).sent == 3


def test_a_refused_sender_stops_the_run_without_failing_the_rows(store: Store) -> None:
    """MAIL FROM is the same for every message: its refusal (here 553) keeps the rows pending."""
    enqueue(store, 3)
    with smtp_sink() as (server, port):
        tries: list[str] = []

        async def refuse_mail(srv: object, session: object, envelope: object, address: str,
                              options: list[str]) -> str:
            tries.append(address)
            return "553 5.7.1 sender not allowed to relay"

        server.handle_MAIL = refuse_mail  # type: ignore[attr-defined]
        run = deliver_pending(store, settings_for(port), now=T0)
    assert tries == ["digest@example.org"] and (run.failed, run.retried) == (0, 1)
    assert collections.Counter(r.status for r in store.outbox_rows()) == {"pending": 3}
    assert any("sender refused" in (r.last_error or "") and r.smtp_code == 553 for r in store.outbox_rows())


def test_a_server_greeting_with_554_is_tried_once_per_run(store: Store) -> None:
    """A server that answers the connection with 554 (RFC 5321 §3.1: no SMTP service here) refuses the
    session, not a message: one connection, and every row waits for a later run."""
    import socket
    import threading

    enqueue(store, 3)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    connections: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(1)
            with conn:
                conn.sendall(b"554 5.3.2 no service for you\r\n")
                conn.recv(1024)

    threading.Thread(target=serve, daemon=True).start()
    try:
        run = deliver_pending(store, settings_for(listener.getsockname()[1]), now=T0)
    finally:
        listener.close()
    assert len(connections) == 1 and (run.failed, run.retried) == (0, 1)
    assert collections.Counter(r.status for r in store.outbox_rows()) == {"pending": 3}
    assert any(r.smtp_code == 554 and "refused the session" in (r.last_error or "") for r in store.outbox_rows())


def test_an_internationalised_domain_goes_in_the_envelope_in_idna_form(store: Store) -> None:
    """RCPT TO carries ``ann@xn--bcher-kva.example`` for ``ann@bücher.example`` (smtplib cannot send the
    Unicode form); an address that needs SMTPUTF8 fails its own row only."""
    store.upsert_user("ann@bücher.example")
    bob = store.upsert_user("bob@example.org")
    with store.write() as conn:  # stored before addresses were checked when users are added
        conn.execute(UserRow.__table__.update().where(UserRow.id == bob.id).values(email="jürgen@example.de"))
    for u in store.list_users():
        store.enqueue_digest(u.id, "daily", "2026-11-24", f"<d.{u.id}@example.org>", "s", u.email,
                             message(u.id, "2026-11-24"), [], 0, 1, now=T0)
    with smtp_sink() as (server, port):
        run = deliver_pending(store, settings_for(port), now=T0)
        assert [r.rcpt_tos for r in server.received] == [["ann@xn--bcher-kva.example"]]
    assert (run.sent, run.failed) == (1, 1)
    failed = next(r for r in store.outbox_rows() if r.status == "failed")
    assert failed.recipient == "jürgen@example.de" and "SMTPUTF8" in (failed.last_error or "")
