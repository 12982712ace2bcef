"""SMTP delivery of stored messages over one reused connection.

The outbox stores each digest as a complete RFC 5322 message; this module hands those bytes to the
server unchanged (same Message-ID on a resend) and classifies the outcome by RFC 5321 §4.2.1 reply
codes: 2yz delivered, 4yz transient (retry later), 5yz permanent (mark failed). A refusal that is not
about the message is a :class:`~digest.errors.TransportError` whatever its code: the session could
not be opened (a 554 greeting, a failed STARTTLS, AUTH 535), the sender was refused (it is the same
for every message), the server is closing (421, RFC 5321 §3.8) or the connection broke. The outbox
then keeps the row for a later try and stops the run, instead of failing every row or logging in
once per message; the next message opens a fresh connection.

The envelope carries the recipient's domain in IDNA form (``ann@xn--bcher-kva.example``), as the To
header does (:func:`digest.render.message.ascii_address`); an address that cannot be written so (a
non-ASCII local part needs SMTPUTF8, RFC 6531, which digest does not use) fails its own row only.

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
from digest.errors import DeliveryError, TransportError
from digest.render.message import ascii_address, seven_bit
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


def _envelope_address(address: str) -> str:
    """``address`` as MAIL FROM and RCPT TO carry it: an ASCII one as it is, an internationalised
    domain in IDNA form (smtplib sends commands as ASCII and would raise UnicodeEncodeError).
    ValueError for an address that needs SMTPUTF8."""
    return address if address.isascii() else ascii_address(address)


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
            raise DeliveryError(item.id, "outbox row has no message bytes", permanent=True)
        try:
            sender = _envelope_address(self.sender)
        except ValueError as exc:  # the same for every message: the transport's problem
            raise TransportError(item.id, f"[smtp] from: {exc}") from None
        try:
            recipient = _envelope_address(item.recipient)
        except ValueError as exc:
            raise DeliveryError(item.id, f"not sent: {exc}", permanent=True) from None
        if self._conn is None:
            try:
                self._conn = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                raise self._failure(item, exc, session=True) from None
        try:
            conn = self._conn
            message = item.message
            options: list[str] = []
            if not message.isascii():
                if conn.has_extn("8bitmime"):
                    options.append("BODY=8BITMIME")
                else:
                    message = seven_bit(message)
            _open_transaction(conn, sender, recipient, message, options)
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

    def _failure(self, item: OutboxItem, exc: smtplib.SMTPException | OSError, *,
                 session: bool = False) -> DeliveryError:
        """The DeliveryError for a refusal or a connection problem; drops a connection that is gone.

        A TransportError when the trouble is not this message's (see the module doc): ``session``
        (opening the session failed), a refused sender (but for 552, which answers MAIL FROM with
        this message's SIZE, RFC 1870 §6.1), 421, or no reply at all.
        """
        code: int | None
        text: bytes | str
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, text = next(iter(exc.recipients.values()), (None, b""))
            what = "recipient refused"
        elif isinstance(exc, smtplib.SMTPResponseException):
            code, text = exc.smtp_code, exc.smtp_error
            what = _REFUSED.get(type(exc), "refused")
        else:
            self._drop()
            return TransportError(item.id, f"connection problem: {type(exc).__name__}: {exc}"[:300])
        if code == 421 or code is None or not (400 <= code < 600):
            # The transaction was reset after a refusal; 421 means the server is closing.
            self._drop()
        reason = f"{what}: {_text(text)}"
        if session or code == 421 or (isinstance(exc, smtplib.SMTPSenderRefused) and code != 552):
            return TransportError(item.id, reason, smtp_code=code)
        return DeliveryError(item.id, reason, smtp_code=code)

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


#: How a refusal is described, by the smtplib exception that carries it.
_REFUSED: dict[type[smtplib.SMTPResponseException], str] = {
    smtplib.SMTPConnectError: "server refused the session",
    smtplib.SMTPHeloError: "server refused EHLO/HELO",
    smtplib.SMTPAuthenticationError: "authentication failed (check [smtp] username and DIGEST_SMTP_PASSWORD)",
    smtplib.SMTPSenderRefused: "sender refused (check [smtp] from)",
}


def _quietly_close(conn: smtplib.SMTP) -> None:
    try:
        conn.close()
    except OSError:
        pass


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:300]
