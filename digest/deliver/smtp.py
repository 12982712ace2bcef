"""SMTP delivery of stored messages over one reused connection.

The outbox stores each digest as a complete RFC 5322 message; this module hands those bytes to the
server unchanged (same Message-ID on a resend) and classifies the outcome by RFC 5321 §4.2.1 reply
codes: 2yz delivered, 4yz transient (retry later), 5yz permanent (mark failed). A dropped connection
or a network error is transient, and the next message opens a fresh connection.

One connection serves many messages: a TLS handshake and AUTH per message would cost more than the
message itself (the delivery benchmark sends 10,000 in one session). A message's end mark (the final
"." of DATA) goes in a write of its own, after ``before_commit`` (:meth:`SmtpTransport.send`): the
outbox marks the previous message sent while the server reads this one. ``security`` is "none",
"starttls" (RFC 3207: EHLO, STARTTLS, EHLO again) or "ssl" (implicit TLS, RFC 8314). The password
comes only from ``settings.smtp_password`` (environment) and never appears in errors or logs.

Stored messages may carry 8bit bodies (:func:`digest.render.message.build_message`); they go with
``MAIL FROM:<...> BODY=8BITMIME`` when the server advertises 8BITMIME (RFC 6152 §2), and are re-encoded
as quoted-printable (:func:`digest.render.message.seven_bit`) for a server that does not (RFC 6152 §3:
8-bit data must not be sent to it). The decoded content, headers and Message-ID are the same.

Public: :class:`SmtpTransport`, :func:`envelope_sender`.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from email.utils import parseaddr
from collections.abc import Callable
from types import TracebackType

from digest.config import Settings
from digest.errors import DeliveryError
from digest.render.message import seven_bit
from digest.store.outbox import OutboxItem


# Lines that start with "." (RFC 5321 §4.5.2). A regex finds the first one ~2x faster than
# ``bytes.find`` does (it scans for the LF with memchr), and most digests have none.
_DOT_LINE = re.compile(rb"\n\.")
# A dot-atom address (RFC 5322 §3.4.1) with a plain domain: smtplib.quoteaddr's answer for it is
# always "<address>", and working that out costs it an email.utils.parseaddr (~40 µs).
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9.-]+")


def _quoted(address: str) -> str:
    """``smtplib.quoteaddr(address)``, without its parser for a plain address."""
    return f"<{address}>" if _PLAIN_ADDRESS.fullmatch(address) else smtplib.quoteaddr(address)


def _stuffed(message: bytes) -> bytes:
    """The DATA payload before its end mark: dot-stuffed (RFC 5321 §4.5.2) and ending in CRLF.

    smtplib does the stuffing with a multi-line regex substitution that costs ~0.6 ms for a 66 KB
    message, a third of the client's work per message; here it is a search and, rarely, a replace.
    """
    stuffed = message.replace(b"\n.", b"\n..") if _DOT_LINE.search(message) else message
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed


def _reset(conn: smtplib.SMTP, code: int) -> None:
    """After a refusal: 421 means the server is closing (RFC 5321 §3.8), anything else leaves the
    session usable once the transaction is reset, as smtplib's ``sendmail`` does."""
    if code == 421:
        conn.close()
        return
    try:
        conn.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def _open_transaction(conn: smtplib.SMTP, sender: str, recipient: str, message: bytes,
                      options: list[str]) -> None:
    """MAIL, RCPT, DATA and the whole payload but for its end mark: what ``smtplib.sendmail`` does,
    raising the same exceptions, but leaving the server waiting for the final ".".

    The server takes responsibility for the message only when it answers the end mark
    (RFC 5321 §4.1.1.4); until then, a dropped connection means no delivery.
    """
    if conn.does_esmtp and conn.has_extn("size"):
        options = [f"SIZE={len(message)}", *options]  # RFC 1870: the server may refuse it up front
    extra = " " + " ".join(options) if options and conn.does_esmtp else ""
    conn.putcmd("mail", f"FROM:{_quoted(sender)}{extra}")
    code, reply = conn.getreply()
    if code != 250:
        _reset(conn, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    conn.putcmd("rcpt", f"TO:{_quoted(recipient)}")
    code, reply = conn.getreply()
    if code not in (250, 251):
        _reset(conn, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    conn.putcmd("data")
    code, reply = conn.getreply()
    if code != 354:
        _reset(conn, code)
        raise smtplib.SMTPDataError(code, reply)
    conn.send(_stuffed(message))


def _commit_transaction(conn: smtplib.SMTP) -> None:
    """The end mark, and the server's answer: after a 250 the message is delivered."""
    conn.send(b".\r\n")
    code, reply = conn.getreply()
    if code != 250:
        _reset(conn, code)
        raise smtplib.SMTPDataError(code, reply)


def envelope_sender(settings: Settings) -> str:
    """The bare address of ``[smtp] from`` for MAIL FROM (RFC 5321 §4.1.1.2 takes no display name)."""
    return parseaddr(settings.smtp.from_)[1] or settings.smtp.from_


class SmtpTransport:
    """Sends outbox items; use as a context manager so the session ends with QUIT."""

    name = "smtp"

    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.sender = envelope_sender(settings)
        self._ssl_context = ssl_context
        self._conn: smtplib.SMTP | None = None
        #: Sessions opened so far (a test and the benchmark check the connection is reused).
        self.connections = 0

    def __enter__(self) -> "SmtpTransport":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        cfg = self.settings.smtp
        conn: smtplib.SMTP
        if cfg.security == "ssl":
            conn = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=self._context())
        else:
            conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            # The end mark of a message goes in a write of its own after the payload (see send);
            # Nagle's algorithm would hold it back until the payload is acknowledged.
            if conn.sock is not None:  # connected by the constructor
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo_or_helo_if_needed()
            if cfg.security == "starttls":
                conn.starttls(context=self._context())
                conn.ehlo()  # RFC 3207 §4.2: forget what the server said before TLS
            if cfg.username:
                password = self.settings.smtp_password.get_secret_value() if self.settings.smtp_password else ""
                conn.login(cfg.username, password)
        except BaseException:
            _quietly_close(conn)
            raise
        self.connections += 1
        return conn

    def send(self, item: OutboxItem, *, before_commit: Callable[[], None] | None = None) -> None:
        """Hand one stored message to the server; DeliveryError says why it was not accepted.

        ``before_commit`` runs once the whole message is with the server, before the end mark that
        makes the server accept it: the outbox records the previous message as sent there, while the
        server reads this one. If it raises, the connection is dropped, so this message is not
        delivered, and its exception propagates unchanged.
        """
        if item.message is None:
            raise DeliveryError(item.id, "outbox row has no message bytes")
        try:
            if self._conn is None:
                self._conn = self._connect()
            conn = self._conn
            message = item.message
            options: list[str] = []
            if not message.isascii():
                if conn.has_extn("8bitmime"):
                    options.append("BODY=8BITMIME")
                else:
                    message = seven_bit(message)
            _open_transaction(conn, self.sender, item.recipient, message, options)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(item, exc) from None
        if before_commit is not None:
            try:
                before_commit()
            except BaseException:
                self._drop()  # RFC 5321 §4.1.1.4: without the end mark the server delivers nothing
                raise
        try:
            _commit_transaction(conn)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(item, exc) from None

    def _failure(self, item: OutboxItem, exc: smtplib.SMTPException | OSError) -> DeliveryError:
        """The DeliveryError for a refusal or a connection problem; drops a connection that is gone."""
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, text = next(iter(exc.recipients.values()), (None, b""))
            return DeliveryError(item.id, f"recipient refused: {_text(text)}", smtp_code=code)
        if isinstance(exc, smtplib.SMTPResponseException):
            # The transaction was reset after a refusal; 421 means the server is closing.
            if exc.smtp_code == 421 or not (400 <= exc.smtp_code < 600):
                self._drop()
            what = "authentication failed" if isinstance(exc, smtplib.SMTPAuthenticationError) else "refused"
            return DeliveryError(item.id, f"{what}: {_text(exc.smtp_error)}", smtp_code=exc.smtp_code)
        self._drop()
        return DeliveryError(item.id, f"connection problem: {type(exc).__name__}: {exc}"[:300])

    def _drop(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                _quietly_close(self._conn)
                self._conn = None


def _quietly_close(conn: smtplib.SMTP) -> None:
    try:
        conn.close()
    except OSError:
        pass


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:300]
