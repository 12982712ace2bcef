"""The one exception tree of digest.

Every error a user can cause or meet derives from :class:`DigestError` and carries the context
needed to act on it (the feed, query, user or outbox row concerned). The CLI prints ``str(error)``
as one line and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


def one_line(exc: BaseException, *, limit: int = 500) -> str:
    """``exc`` as the one line a feed's state or a warning records: whitespace collapsed, control
    characters dropped (a feed's error text may carry terminal escape sequences), the exception's
    name when it has no message, at most ``limit`` characters."""
    return " ".join(printable(str(exc) or type(exc).__name__).split())[:limit]


def printable(text: str) -> str:
    """``text`` without control characters other than tab and newline (C0, DEL, C1): what an outside
    document puts into a message must not drive the terminal it is printed on."""
    return text.translate(_CONTROLS) if not text.isprintable() else text


_CONTROLS = {c: None for c in (*range(0x20), *range(0x7F, 0xA0)) if c not in (0x09, 0x0A)}


class DigestError(Exception):
    """Base class of every error digest raises on purpose."""

    exit_code: int = 1


class ConfigError(DigestError, ValueError):
    """The configuration file or environment is invalid."""

    def __init__(self, reason: str, *, path: str | None = None, key: str | None = None) -> None:
        self.reason, self.path, self.key = reason, path, key
        where = " ".join(p for p in (path or "", f"[{key}]" if key else "") if p)
        super().__init__(f"config {where}: {reason}" if where else f"config: {reason}")


class FetchError(DigestError):
    """A network fetch failed (timeout, refused address, HTTP error, oversize body...)."""

    def __init__(self, url: str, reason: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        self.url, self.reason, self.status, self.retry_after = url, reason, status, retry_after
        super().__init__(f"{url}: {reason}")


class BlockedAddressError(FetchError):
    """The URL resolves to an address the SSRF guard refuses (loopback, private, ...)."""


class FeedError(DigestError):
    """A feed could not be fetched or parsed. ``feed_name`` says which one."""

    def __init__(self, feed_name: str, reason: str) -> None:
        self.feed_name, self.reason = feed_name, reason
        super().__init__(f"feed {feed_name!r}: {reason}")


class ApiError(FeedError):
    """A source's API answered with an error of its own, or a listing it could not finish (an arXiv
    API page that stays empty inside its total). ``api`` names the API, not a configured feed."""

    def __init__(self, api: str, reason: str) -> None:
        self.feed_name, self.api, self.reason = api, api, reason
        DigestError.__init__(self, f"{api}: {reason}")


class ParseError(DigestError, ValueError):
    """Bytes that cannot be read as the expected kind of feed."""

    def __init__(self, kind: str, reason: str, *, source: str | None = None) -> None:
        self.kind, self.reason, self.source = kind, reason, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}cannot read as {kind}: {reason}")


class QueryError(DigestError, ValueError):
    """A saved query is invalid; ``column`` is 1-based and points at the problem."""

    exit_code = 2

    def __init__(self, query: str, column: int, reason: str) -> None:
        self.query, self.column, self.reason = query, column, reason
        super().__init__(f"query error at column {column}: {reason}")

    def caret(self) -> str:
        """The query with a caret under the offending column, for terminals."""
        return f"{self.query}\n{' ' * max(self.column - 1, 0)}^"


class NotFoundError(DigestError, LookupError):
    """A paper, user, subscription, tag or feed that does not exist."""

    def __init__(self, what: str, key: str) -> None:
        self.what, self.key = what, key
        super().__init__(f"no {what} {key!r}")


class ConflictError(DigestError, ValueError):
    """A name already taken: a second subscription of one user under the same name."""


class DeliveryError(DigestError):
    """Sending a digest failed; ``smtp_code`` is None for non-SMTP failures. ``permanent`` given
    says so for a failure without a reply code (a message that cannot be put on the wire at all)."""

    def __init__(self, outbox_id: int, reason: str, *, smtp_code: int | None = None,
                 permanent: bool | None = None) -> None:
        self.outbox_id, self.reason, self.smtp_code = outbox_id, reason, smtp_code
        self._permanent = permanent
        code = f" (SMTP {smtp_code})" if smtp_code else ""
        super().__init__(f"outbox #{outbox_id}{code}: {reason}")

    @property
    def permanent(self) -> bool:
        """RFC 5321 §4.2.1: 5yz replies are permanent, 4yz transient."""
        if self._permanent is not None:
            return self._permanent
        return self.smtp_code is not None and 500 <= self.smtp_code < 600


class TransportError(DeliveryError):
    """Sending failed for a reason of the transport, not of the message: the server cannot be
    reached, refuses the session (a 554 greeting, AUTH 535) or the sender, or the Maildir cannot be
    written. Every other message would fail the same way, so the row waits for a later try whatever
    the reply code says, and the delivery run stops."""

    @property
    def permanent(self) -> bool:
        return False
