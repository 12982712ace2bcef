"""A real SMTP server on loopback (aiosmtpd) that keeps every message's bytes, for delivery tests.

Scripted replies let a test make the server answer 4yz/5yz to chosen recipients or DATA commands;
``eight_bit_mime=False`` makes it a server that does not offer 8BITMIME (RFC 6152).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    #: MAIL FROM parameters, e.g. ["BODY=8BITMIME"] (RFC 6152 §2)
    mail_options: list[str] = field(default_factory=list)

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class SinkHandler:
    received: list[Received] = field(default_factory=list)
    #: recipient -> reply for RCPT TO ("550 5.1.1 no such user")
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    #: replies for the next DATA commands, used up one by one ("451 4.3.0 try later")
    data_replies: list[str] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    eight_bit_mime: bool = True

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.eight_bit_mime:
            return responses
        return [r for r in responses if r[4:].upper() != "8BITMIME"]

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content),
                                      list(envelope.mail_options)))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [str(r.message["Message-ID"]) for r in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_sink(*, auth: dict[str, str] | None = None, tls_context: ssl.SSLContext | None = None,
              implicit_tls: bool = False, eight_bit_mime: bool = True) -> Iterator[tuple[SinkHandler, int]]:
    """Start aiosmtpd on 127.0.0.1; yields (handler, port)."""
    handler = SinkHandler(eight_bit_mime=eight_bit_mime)
    kwargs: dict[str, Any] = {"decode_data": False}
    if auth is not None:
        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            if isinstance(data, LoginPassword):
                user, password = data.login.decode(), data.password.decode()
                handler.logins.append((user, password))
                if auth.get(user) == password:
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        # With STARTTLS the server refuses AUTH before TLS, as a real one would.
        kwargs.update(authenticator=authenticator, auth_require_tls=tls_context is not None and not implicit_tls)
    if tls_context is not None and not implicit_tls:
        kwargs["tls_context"] = tls_context
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            ssl_context=tls_context if implicit_tls else None, **kwargs)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
