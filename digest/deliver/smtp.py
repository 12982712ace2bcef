"""SMTP delivery of stored messages over one reused connection.

The outbox stores each digest as a complete RFC 5322 message; this module hands those bytes to the
server unchanged (same Message-ID on a resend) and classifies the outcome by RFC 5321 §4.2.1 reply
codes: 2yz delivered, 4yz transient (retry later), 5yz permanent (mark failed). A dropped connection
or a network error is transient, and the next message opens a fresh connection.

One connection serves many messages: a TLS handshake and AUTH per message would cost more than the
message itself (the delivery benchmark sends 10,000 in one session). ``security`` is "none",
"starttls" (RFC 3207: EHLO, STARTTLS, EHLO again) or "ssl" (implicit TLS, RFC 8314). The password
comes only from ``settings.smtp_password`` (environment) and never appears in errors or logs.

Stored messages may carry 8bit bodies (:func:`digest.render.message.build_message`); they go with
``MAIL FROM:<...> BODY=8BITMIME`` when the server advertises 8BITMIME (RFC 6152 §2), and are re-encoded
as quoted-printable (:func:`digest.render.message.seven_bit`) for a server that does not (RFC 6152 §3:
8-bit data must not be sent to it). The decoded content, headers and Message-ID are the same.

Public: :class:`SmtpTransport`, :func:`envelope_sender`.
"""

from __future__ import annotations

import smtplib
import ssl
from email.utils import parseaddr
from types import TracebackType
from typing import Any

from digest.config import Settings
from digest.errors import DeliveryError
from digest.render.message import seven_bit
from digest.store.outbox import OutboxItem


def _data(conn: smtplib.SMTP, message: bytes) -> tuple[int, bytes]:
    """``SMTP.data`` for bytes, dot-stuffed with one C-level ``replace``.

    RFC 5321 §4.5.2: a line that starts with "." gets another one. smtplib does the same with a
    multi-line regex (``^\\.``: at the start or after any LF, as here) that costs ~0.6 ms for a 66 KB
    message, a third of the client's work per message.
    """
    conn.putcmd("data")
    code, reply = conn.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    stuffed = message.replace(b"\n.", b"\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    conn.send(stuffed + b".\r\n")
    return conn.getreply()


class _SMTP(smtplib.SMTP):
    def data(self, msg: Any) -> tuple[int, bytes]:
        return _data(self, msg) if isinstance(msg, bytes) else super().data(msg)


class _SMTP_SSL(smtplib.SMTP_SSL):
    def data(self, msg: Any) -> tuple[int, bytes]:
        return _data(self, msg) if isinstance(msg, bytes) else super().data(msg)


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
            conn = _SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=self._context())
        else:
            conn = _SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
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

    def send(self, item: OutboxItem) -> None:
        """Hand one stored message to the server; DeliveryError says why it was not accepted."""
        if item.message is None:
            raise DeliveryError(item.id, "outbox row has no message bytes")
        try:
            if self._conn is None:
                self._conn = self._connect()
            message = item.message
            options: tuple[str, ...] = ()
            if not message.isascii():
                if self._conn.has_extn("8bitmime"):
                    options = ("BODY=8BITMIME",)
                else:
                    message = seven_bit(message)
            refused = self._conn.sendmail(self.sender, [item.recipient], message, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (None, b""))
            raise DeliveryError(item.id, f"recipient refused: {_text(text)}", smtp_code=code) from None
        except smtplib.SMTPResponseException as exc:
            # smtplib already sent RSET after a refused MAIL/DATA; 421 means the server is closing.
            if exc.smtp_code == 421 or not (400 <= exc.smtp_code < 600):
                self._drop()
            what = "authentication failed" if isinstance(exc, smtplib.SMTPAuthenticationError) else "refused"
            raise DeliveryError(item.id, f"{what}: {_text(exc.smtp_error)}", smtp_code=exc.smtp_code) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryError(item.id, f"connection problem: {type(exc).__name__}: {exc}"[:300]) from None
        if refused:  # only possible with several recipients; kept for completeness
            code, text = next(iter(refused.values()))
            raise DeliveryError(item.id, f"recipient refused: {_text(text)}", smtp_code=code)

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
