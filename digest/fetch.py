"""The network chokepoint of digest: :func:`fetch` (GET), and :func:`post_json` for the one sign-in
an API needs (OpenReview). Nothing else opens a connection; both go through the guard below.

What every request gets, and why:

* Timeouts (connect/read from ``[fetch]``), a descriptive User-Agent (arXiv API terms ask for one).
* A whole-exchange deadline (:data:`TRANSFER_TIMEOUT`: connect, request, status line, headers, body),
  since the read timeout bounds each read only and a server dripping a byte at a time would otherwise
  hold the fetch forever. httpcore's sockets run under it (:class:`_DeadlineBackend`); an exchange
  past it fails "timed out", and is not retried.
* Conditional GET: ``If-None-Match`` / ``If-Modified-Since`` from the stored ETag / Last-Modified
  (RFC 9110 §13.1), sent back as the octets received (an ETag may hold obs-text, §8.8.3); a 304
  comes back as ``not_modified`` with the validators it did not replace (RFC 9111 §4.3.4). A 304
  to a request without validators is an error (RFC 9110 §15.4.5).
* An API's JSON error answer (``{"name", "message"}``, ``error``, ``detail``) is quoted, short and
  printable, in the error: "HTTP 403 (ChallengeRequiredError: Challenge verification required ...)".
* Retries: 429/503 honour ``Retry-After`` (RFC 9110 §10.2.3; seconds or any of the three HTTP-date
  forms of §5.6.7) up to :data:`MAX_RETRY_AFTER`; other 5xx, timeouts and connection errors back off
  exponentially with full jitter.
* Host names: IDNs are sent as A-labels (RFC 5891), IPv6 literals in brackets in ``Host`` (RFC 3986
  §3.2.2). URL userinfo becomes Basic auth for that origin only (RFC 7617), as a ``bearer`` token
  becomes ``Authorization: Bearer`` (RFC 6750); neither is ever shown nor sent elsewhere: every
  error names the URL asked for (:func:`digest.config.redact_url`-ed) and, after redirects, where they
  led. A Location that is no URL we could request is one error, not retried.
* Logging: nothing here logs a URL (httpx's client, which logs every request URL at INFO, is not used);
  digest's own messages show URLs through redact_url.
* Politeness: a minimum spacing between two requests to one host (3 s for arxiv.org, per the arXiv
  API terms of use, and one connection at a time there), ``[fetch] host_spacing`` elsewhere.
* A size cap: the body is streamed and the download aborted past ``max_bytes`` decoded bytes; gzip
  and deflate (nested too) are inflated in bounded steps, so a bomb never inflates in memory. Other
  content codings (br, zstd...: we do not ask for them) are a clear error, not garbage bytes.
* SSRF guard: only http(s); the host is resolved and every address we connect to, on every redirect,
  must be public (not loopback, private, link-local, CGNAT, ULA, multicast, unspecified, reserved,
  nor an IPv4-mapped/6to4/Teredo/NAT64 form of one) unless allow-listed in ``[fetch] allow_hosts``.
  The connection is pinned to the vetted address (Host header and TLS SNI keep the name), so a DNS
  answer that changes between check and connect (DNS rebinding) cannot redirect us; when it is
  refused, the host's next vetted address is tried (up to :data:`MAX_ADDRESSES`).

Public: :func:`fetch`, :func:`post_json`, :class:`FetchResult`, :func:`sniff`, :class:`HostLimiter`,
:func:`set_limiter`, :func:`reset_limiter`, :func:`check_address`, :func:`vetted_addresses`.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from digest.config import FetchSettings, redact_url
from digest.dates import rfc5322_date
from digest.errors import BlockedAddressError, FetchError, printable

#: Longest Retry-After we wait for inside one fetch; longer ones fail with ``retry_after`` set so the
#: feed's next attempt is scheduled after it instead.
MAX_RETRY_AFTER = 120.0
#: A longer Retry-After is read as this (a week): a server's typo does not silence a feed for years,
#: and the date arithmetic of the feed's next attempt stays finite.
MAX_REPORTED_RETRY_AFTER = 7 * 24 * 3600.0
#: Seconds one response may take from request to last byte (or the read timeout if longer). The read
#: timeout bounds each read only, so a server dripping a byte at a time would otherwise hold us forever.
TRANSFER_TIMEOUT = 300.0
#: Resolved addresses tried in turn when connecting fails (RFC 8305 §5, without the racing).
MAX_ADDRESSES = 4
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
ARXIV_SPACING = 3.0
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Ranges Python's is_global does not cover everywhere (CGNAT is RFC 6598, NAT64 RFC 6052).
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    final_url: str = ""
    not_modified: bool = False
    content_type: str | None = None
    #: Seconds a server asked us to wait before the next request (RFC 9110 §10.2.3) although this
    #: result is usable: set by :func:`digest.sources.fetch_feed` when a later page of a paged source
    #: answered 429/503 with a Retry-After, so the feed's next attempt honours it.
    retry_after: float | None = None


# --- politeness -----------------------------------------------------------------------------------


def is_arxiv_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "arxiv.org" or host.endswith(".arxiv.org")


class HostLimiter:
    """Thread-safe per-host minimum spacing; arXiv hosts also get one request at a time.

    ``clock`` and ``sleep`` are injectable so tests neither wait nor depend on timing.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}
        self._host_locks: dict[str, threading.Lock] = {}

    def wait(self, host: str, spacing: float) -> None:
        """Block until ``host`` may be contacted, reserving the slot after it."""
        with self._lock:
            now = self.clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + spacing
        if start > now:
            self.sleep(start - now)

    def connection_lock(self, host: str) -> threading.Lock | None:
        """A per-host lock held for the whole request (arXiv: "one connection at a time")."""
        if not is_arxiv_host(host):
            return None
        with self._lock:
            return self._host_locks.setdefault(host.lower(), threading.Lock())


_limiter = HostLimiter()
#: Sleep used for retry back-off; tests replace it through :func:`set_limiter`.
_sleep: Callable[[float], None] = time.sleep


def set_limiter(limiter: HostLimiter) -> None:
    """Install a limiter (tests inject a fake clock/sleep); back-off sleeps use its ``sleep`` too."""
    global _limiter, _sleep
    _limiter, _sleep = limiter, limiter.sleep


def reset_limiter() -> None:
    set_limiter(HostLimiter())


# --- address guard ---------------------------------------------------------------------------------


def _embedded_v4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(addr, ipaddress.IPv4Address):
        return None
    if addr.ipv4_mapped:
        return addr.ipv4_mapped
    if addr.sixtofour:
        return addr.sixtofour
    if addr.teredo:
        return addr.teredo[1]
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def is_public_address(addr: IPAddress) -> bool:
    """False for loopback, private, link-local, CGNAT, ULA, multicast, unspecified, reserved..."""
    inner = _embedded_v4(addr)
    if inner is not None and not is_public_address(inner):
        return False
    if isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT:
        return False
    bad = (addr.is_loopback or addr.is_private or addr.is_link_local or addr.is_multicast
           or addr.is_unspecified or addr.is_reserved
           # fec0::/10, deprecated by RFC 3879 but still routed inside some sites; Python calls it global.
           or (isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local))
    # IPv4-mapped forms of public addresses count as private in Python's tables: refused, on purpose.
    return not bad and addr.is_global


def _allowed(host: str, addr: IPAddress, allow_hosts: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allow_hosts:
        entry = entry.strip().lower()
        try:
            if addr in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if host == entry.rstrip("."):
                return True
    return False


def check_address(host: str, port: int, settings: FetchSettings, *, guard: bool = True) -> IPAddress:
    """Resolve ``host`` and return the first address we may connect to, or raise BlockedAddressError."""
    return vetted_addresses(host, port, settings, guard=guard)[0]


def vetted_addresses(host: str, port: int, settings: FetchSettings, *, guard: bool = True) -> list[IPAddress]:
    """Every address of ``host`` we may connect to, in resolver order; BlockedAddressError if none."""
    candidates = _resolve(host, port)
    allowed = [a for a in candidates
               if not guard or _allowed(host, a, settings.allow_hosts) or is_public_address(a)]
    if allowed:
        return allowed
    raise BlockedAddressError(host, f"refusing to connect to non-public address "
                                    f"{', '.join(map(str, candidates))} (add it to [fetch] allow_hosts if intended)")


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(host, f"cannot resolve host: {exc.strerror or exc}") from None
    except UnicodeError:  # the idna codec refuses the name (an empty or over-long label)
        raise FetchError(host, "invalid host name") from None
    candidates: list[IPAddress] = []
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if addr not in candidates:
            candidates.append(addr)
    return candidates


# --- content sniffing ------------------------------------------------------------------------------

_BINARY_MAGIC = (b"\x1f\x8b", b"PK\x03\x04", b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"BZh", b"\xfd7zXZ")


def sniff(body: bytes, content_type: str | None = None) -> str:
    """What the bytes are: "xml", "json", "html", "text", "binary" or "empty".

    The body decides (servers mislabel feeds all the time); the declared type only breaks ties.
    """
    head = body[:2048]
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if head.startswith(bom):
            head = head[len(bom):]
            if bom != b"\xef\xbb\xbf":  # UTF-16: drop NULs so the markup checks below still work
                head = head.replace(b"\x00", b"")
            break
    stripped = head.lstrip()
    if not stripped:
        return "empty"
    if any(stripped.startswith(m) for m in _BINARY_MAGIC) or b"\x00" in head:
        return "binary"
    lower = stripped[:512].lower()
    if lower.startswith((b"<!doctype html", b"<html")) or (b"<html" in lower and b"<rss" not in lower
                                                          and b"<feed" not in lower):
        return "html"
    if lower.startswith(b"<"):
        return "xml"
    if lower.startswith((b"{", b"[")):
        return "json"
    ctype = (content_type or "").lower()
    if "html" in ctype:
        return "html"
    if _mostly_binary(head):
        return "binary"
    return "text"


def _mostly_binary(head: bytes) -> bool:
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > len(head) // 10


# --- the request -----------------------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date; seconds from now, at most a week, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # delay-seconds = 1*DIGIT (ASCII digits only)
        return min(float(value), MAX_REPORTED_RETRY_AFTER)
    when = rfc5322_date(value)
    if when is None:
        return None
    return min(max(0.0, (when - datetime.now(timezone.utc)).total_seconds()), MAX_REPORTED_RETRY_AFTER)


def _backoff(attempt: int) -> float:
    """Exponential back-off with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter")."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))


# --- URLs ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Target:
    """A URL split for a pinned request: ``host`` is ASCII (A-labels) or a bare IP literal."""

    scheme: str
    host: str
    port: int
    rest: str
    username: str | None = None
    password: str | None = None

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @property
    def default_port(self) -> bool:
        return self.port == (443 if self.scheme == "https" else 80)

    def authority(self) -> str:
        """RFC 9110 §7.2 Host: uri-host [":" port], an IPv6 literal in brackets (RFC 3986 §3.2.2)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.default_port else f"{host}:{self.port}"

    def pinned(self, addr: IPAddress) -> str:
        ip = f"[{addr}]" if addr.version == 6 else str(addr)
        return f"{self.scheme}://{ip}:{self.port}{self.rest}"


def _split(url: str) -> _Target:
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchError(shown, f"invalid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedAddressError(shown, f"only http and https URLs may be fetched, not {scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise FetchError(shown, "URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise FetchError(shown, "URL has an invalid port") from None
    if port == 0:  # RFC 6335 §6: port 0 is reserved; "or default" would silently mean 80
        raise FetchError(shown, "URL has an invalid port")
    rest = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return _Target(scheme, _ascii_host(parts.hostname, shown), port or (443 if scheme == "https" else 80), rest,
                   parts.username, parts.password)


def _ascii_host(host: str, shown: str) -> str:
    """RFC 5891 (IDNA 2008, UTS #46 mapping as httpx and browsers do): the A-label form that DNS, the
    Host header and TLS SNI need."""
    if host.isascii():
        return host
    try:
        return httpx.URL(scheme="http", host=host).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise FetchError(shown, "invalid host name") from None


def _basic_auth(target: _Target) -> str:
    """RFC 7617 §2: Basic credentials from the URL's userinfo, percent-decoded (RFC 3986 §3.2.1)."""
    pair = f"{unquote(target.username or '')}:{unquote(target.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


# --- the request -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Hop:
    response_status: int
    headers: httpx.Headers
    body: bytes


def _one_request(pool: httpcore.ConnectionPool, deadline: _Deadline, target: _Target, url: str,
                 headers: dict[str, str | bytes], settings: FetchSettings, *, guard: bool,
                 method: str = "GET", content: bytes | None = None) -> _Hop:
    """One HTTP exchange with no redirect following, to a vetted and pinned address of the host."""
    addrs = vetted_addresses(target.host, target.port, settings, guard=guard)[:MAX_ADDRESSES]
    hop_headers = dict(headers, Host=target.authority())
    host = target.host.lower()
    _limiter.wait(host, ARXIV_SPACING if is_arxiv_host(host) else settings.host_spacing)
    lock = _limiter.connection_lock(host)
    if lock:
        lock.acquire()
    try:
        return _exchange(pool, deadline, target, addrs, url, hop_headers, settings, method=method, content=content)
    finally:
        if lock:
            lock.release()


def _exchange(pool: httpcore.ConnectionPool, deadline: _Deadline, target: _Target, addrs: list[IPAddress], url: str,
              headers: dict[str, str | bytes], settings: FetchSettings, *, method: str = "GET",
              content: bytes | None = None) -> _Hop:
    """The request goes to httpcore's pool directly: digest follows redirects itself, and httpx's
    client would parse every Location first (failing on one it cannot parse before we see it)."""
    budget = max(TRANSFER_TIMEOUT, settings.read_timeout)
    extensions: dict[str, object] = {"timeout": {"connect": settings.connect_timeout, "read": settings.read_timeout,
                                                 "write": settings.read_timeout, "pool": settings.connect_timeout}}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    for i, addr in enumerate(addrs):
        deadline.start(budget)
        status: int | None = None
        try:
            with pool.stream(method, target.pinned(addr), headers=list(headers.items()), content=content,
                             extensions=extensions) as response:
                status = response.status
                hop_headers = httpx.Headers(response.headers)
                body = b""
                if status not in _REDIRECT_STATUSES and status != 304:
                    body = _read_capped(response.iter_stream(), hop_headers, status, url, settings.max_bytes)
                return _Hop(status, hop_headers, body)
        except (httpcore.ConnectError, httpcore.ConnectTimeout):
            if i == len(addrs) - 1:
                raise
            continue  # nothing was sent: the next address of the same host is as good
        except _DeadlinePassed:
            # Not retried: a server this slow is as slow the next time, and every other feed waits.
            raise FetchError(url, f"timed out: the response took over {budget:g} s (server too slow)",
                             status=status) from None
    raise AssertionError("unreachable: vetted_addresses never returns an empty list")


# --- the transfer deadline --------------------------------------------------------------------------

_T = TypeVar("_T")


class _DeadlinePassed(Exception):
    """The exchange under way overran :data:`TRANSFER_TIMEOUT`. Not an httpcore error, so httpcore
    lets it through as it is, and :func:`_exchange` tells it from an ordinary read timeout."""


class _Deadline:
    """The end (``time.monotonic``) of the exchange under way on one pool's connections.

    The read and connect timeouts bound each socket operation only; every operation of an exchange
    (connect, TLS handshake, request, status line, headers, body) gets at most the time left, so a
    server dripping its headers or body a byte at a time cannot hold the fetch past the deadline.
    """

    def __init__(self) -> None:
        self._at: float | None = None

    def start(self, budget: float) -> None:
        self._at = time.monotonic() + budget

    def run(self, operation: Callable[[float | None], _T], timeout: float | None) -> _T:
        """``operation(timeout)`` with the timeout cut to the time left; _DeadlinePassed past it."""
        if self._at is None:
            return operation(timeout)
        left = self._at - time.monotonic()
        if left <= 0:
            raise _DeadlinePassed
        try:
            return operation(left if timeout is None else min(timeout, left))
        except httpcore.TimeoutException:
            if time.monotonic() >= self._at:
                raise _DeadlinePassed from None
            raise


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._deadline.run(lambda left: self._stream.read(max_bytes, left), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._deadline.run(lambda left: self._stream.write(buffer, left), timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self._deadline.run(lambda left: self._stream.start_tls(ssl_context, server_hostname, left), timeout)
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous sockets, every operation bounded by the pool's :class:`_Deadline`."""

    def __init__(self, deadline: _Deadline) -> None:
        self._sockets, self._deadline = httpcore.SyncBackend(), deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        stream = self._deadline.run(
            lambda left: self._sockets.connect_tcp(host, port, left, local_address, socket_options), timeout)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


def _pool(deadline: _Deadline) -> httpcore.ConnectionPool:
    """One fetch's connections (kept alive across its redirects and retries), with httpx's defaults:
    its CA bundle and keep-alive expiry, and proxies from the environment ignored."""
    return httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(trust_env=False), keepalive_expiry=5.0,
                                   network_backend=_DeadlineBackend(deadline))


# --- the body: content codings, size cap, transfer deadline ----------------------------------------


class _Inflate:
    """One gzip or deflate layer (RFC 9110 §8.4.1), decoded in steps of at most :data:`_CHUNK` bytes so
    that a bomb is never inflated past the size cap in memory."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS) if coding == "gzip" else None
        self._head = b""
        self._fed = False

    def _deflate(self, data: bytes) -> bytes | None:
        """RFC 9110 §8.4.1.2 says zlib (RFC 1950); some servers send raw DEFLATE (RFC 1951): tell them
        apart by the zlib header once two bytes are in."""
        self._head += data
        if len(self._head) < 2:
            return None
        data, self._head = self._head, b""
        wrapped = data[0] & 0x0F == 8 and int.from_bytes(data[:2], "big") % 31 == 0
        self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return data

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        if self._obj is None:
            started = self._deflate(data)
            if started is None:
                return
            data = started
        obj = self._obj
        assert obj is not None
        while not obj.eof:  # what follows the end of the stream is ignored
            out = obj.decompress(data, _CHUNK)
            data = obj.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < _CHUNK:
                return

    def finish(self) -> None:
        if self._fed and (self._obj is None or not self._obj.eof):
            raise zlib.error(f"the {self.coding} stream is truncated")


def _decoders(header: str, url: str) -> list[_Inflate]:
    """Layers to undo, outermost first: codings are listed in the order applied (RFC 9110 §8.4)."""
    layers: list[_Inflate] = []
    for coding in (c.strip().lower() for c in header.split(",")):
        if coding in ("", "identity"):
            continue
        coding = {"x-gzip": "gzip"}.get(coding, coding)  # RFC 9110 §8.4.1.3
        if coding not in ("gzip", "deflate"):
            raise FetchError(url, f"unsupported Content-Encoding {coding} (digest asks for gzip or deflate)")
        layers.append(_Inflate(coding))
    return layers[::-1]


def _decode(layers: list[_Inflate], data: bytes) -> Iterator[bytes]:
    if not layers:
        if data:
            yield data
        return
    for piece in layers[0].feed(data):
        yield from _decode(layers[1:], piece)


def _read_capped(raw: Iterable[bytes], headers: httpx.Headers, status: int, url: str, max_bytes: int) -> bytes:
    """The decoded body, aborted past ``max_bytes`` decoded bytes (the deadline is the stream's)."""
    declared = headers.get("content-length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(url, f"response is {int(declared):,} bytes, over the {max_bytes:,}-byte limit", status=status)
    encoding = headers.get("content-encoding", "")
    layers = _decoders(encoding, url)
    chunks: list[bytes] = []
    size = 0
    try:
        for piece in (p for chunk in raw for p in _decode(layers, chunk)):
            size += len(piece)
            if size > max_bytes:
                raise FetchError(url, f"response exceeds the {max_bytes:,}-byte limit; download aborted",
                                 status=status)
            chunks.append(piece)
        for layer in layers:
            layer.finish()
    except zlib.error as exc:
        raise FetchError(url, f"cannot decode the body (Content-Encoding {encoding.strip()}): {exc}",
                         status=status) from None
    return b"".join(chunks)


# --- redirects, retries, the result ----------------------------------------------------------------


def _follow(pool: httpcore.ConnectionPool, deadline: _Deadline, url: str, headers: dict[str, str | bytes],
            settings: FetchSettings, *, user_supplied: bool, bearer: str | None = None) -> tuple[_Hop, str]:
    """Follow redirects ourselves so each hop's address is checked (httpx would not).

    Every error names the URL asked for (without credentials), and the redirect target when a hop
    failed; URL credentials, and a ``bearer`` token (RFC 6750), go only to the URL's own origin (as
    browsers and curl do with credentials).
    """
    current = url
    credentials: _Target | None = None
    origin: tuple[str, str, int] | None = None
    for hop in range(settings.max_redirects + 1):
        try:
            target = _split(current)
            if hop == 0:
                origin = target.origin
                if target.username is not None:
                    credentials = target
            hop_headers = headers
            if credentials is not None and target.origin == credentials.origin:
                hop_headers = dict(headers, Authorization=_basic_auth(credentials))
            elif bearer is not None and target.origin == origin:
                hop_headers = dict(headers, Authorization=f"Bearer {bearer}")
            # Digest-built URLs (user_supplied=False) point at known public hosts; every redirect target,
            # which a third party controls, is always guarded.
            result = _one_request(pool, deadline, target, redact_url(current), hop_headers, settings,
                                  guard=user_supplied or hop > 0)
        except FetchError as exc:
            raise type(exc)(redact_url(url), _redirected(url, current) + exc.reason, status=exc.status,
                            retry_after=exc.retry_after) from None
        location = result.headers.get("location")
        if result.response_status not in _REDIRECT_STATUSES or not location:
            return result, current
        current = _redirect_target(url, current, location)
    raise FetchError(redact_url(url), f"more than {settings.max_redirects} redirects")


def _redirect_target(url: str, current: str, location: str) -> str:
    """The absolute URL a Location header points to (RFC 9110 §10.2.2), or one non-retried error when
    it is not a URL we could request: unparseable ("http://[::1") or a host httpx's URL parser
    refuses (an octal or out-of-range IPv4 form such as 0177.0.0.1 or 256.12.0.1, which the C
    resolver would read as some other address)."""
    location = location.strip()
    try:
        target = urljoin(current, location)
        httpx.URL(target)
    except (ValueError, httpx.InvalidURL) as exc:
        raise FetchError(redact_url(url), f"redirect to an invalid URL {redact_url(location)!r} ({exc})") from None
    return target


def _redirected(url: str, final_url: str) -> str:
    """The prefix of an error met after redirects, naming where they led (without credentials)."""
    return f"redirected to {redact_url(final_url)}: " if final_url != url else ""


def _validator_header(value: str | None) -> bytes | None:
    """A stored ETag / Last-Modified as the octets to send back, or None when it cannot be sent.

    Validators are stored one character per octet received (:func:`_validator`), and RFC 9110 §8.8.3
    lets an entity-tag hold obs-text (0x80-0xFF): latin-1 gives the same octets back. A value
    stored otherwise (a character past U+00FF, a control character) cannot be a header field value
    (RFC 9110 §5.5): the request goes without it, unconditional, rather than failing every poll.
    """
    if not value:
        return None
    try:
        octets = value.encode("latin-1")
    except UnicodeEncodeError:
        return None
    if any(b < 0x20 and b != 0x09 or b == 0x7F for b in octets):
        return None
    return octets


def _validator(headers: httpx.Headers, name: str) -> str | None:
    """A response's ETag / Last-Modified as received, one character per octet (latin-1), so that
    :func:`_validator_header` sends exactly those octets back (httpx would decode obs-text as UTF-8
    when it happens to be valid UTF-8)."""
    key = name.encode("ascii")
    for field_name, value in headers.raw:
        if field_name.lower() == key:
            return value.decode("latin-1").strip() or None
    return None


#: What the connection itself can fail with (retried by :func:`fetch`, not by :func:`post_json`).
_TRANSPORT_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.RemoteProtocolError)


def _transport_error(shown: str, exc: Exception) -> FetchError:
    kind = "timed out" if isinstance(exc, httpcore.TimeoutException) else "connection failed"
    return FetchError(shown, f"{kind}: {exc.__class__.__name__} {exc}".strip())


def fetch(url: str, *, settings: FetchSettings, etag: str | None = None, last_modified: str | None = None,
          accept: str | None = None, user_supplied: bool = True, bearer: str | None = None) -> FetchResult:
    """GET ``url`` politely and safely; FetchError (or BlockedAddressError) when it cannot be had.

    Returns 2xx and 304 responses; raises for every other status after retries. Error messages never
    show the URL's userinfo. ``bearer``: an access token sent as ``Authorization: Bearer`` to the
    URL's own origin, never to a redirect elsewhere.
    """
    headers: dict[str, str | bytes] = {
        "User-Agent": settings.user_agent,
        "Accept": accept or "application/atom+xml, application/rss+xml, application/xml;q=0.9, "
                            "application/json;q=0.9, text/xml;q=0.8, */*;q=0.1",
        "Accept-Encoding": "gzip, deflate"}
    etag_octets, last_modified_octets = _validator_header(etag), _validator_header(last_modified)
    if etag_octets:
        headers["If-None-Match"] = etag_octets
    if last_modified_octets:
        headers["If-Modified-Since"] = last_modified_octets
    sent_validators = bool(etag_octets or last_modified_octets)
    attempt = 0
    shown = redact_url(url)
    deadline = _Deadline()
    # The SSL context verifies certificates; the SNI extension makes it check the real host name.
    with _pool(deadline) as pool:
        while True:
            try:
                hop, final_url = _follow(pool, deadline, url, headers, settings, user_supplied=user_supplied,
                                         bearer=bearer)
            except _TRANSPORT_ERRORS as exc:
                if attempt >= settings.retries:
                    raise _transport_error(shown, exc) from None
                _sleep(_backoff(attempt))
                attempt += 1
                continue
            except (httpcore.LocalProtocolError, httpcore.UnsupportedProtocol) as exc:  # not worth a retry
                raise FetchError(shown, f"{exc.__class__.__name__}: {exc}") from None
            status = hop.response_status
            if status in _RETRY_STATUSES:
                wait = _retry_after(hop.headers.get("retry-after")) if status in (429, 503) else None
                if attempt >= settings.retries or (wait is not None and wait > MAX_RETRY_AFTER):
                    raise FetchError(shown, f"{_redirected(url, final_url)}HTTP {status} after {attempt + 1} "
                                            f"attempt(s){_error_detail(hop)}", status=status, retry_after=wait)
                _sleep(wait if wait is not None else _backoff(attempt))
                attempt += 1
                continue
            return _result(url, final_url, hop, etag=etag if etag_octets else None,
                           last_modified=last_modified if last_modified_octets else None,
                           sent_validators=sent_validators)


def post_json(url: str, payload: Mapping[str, object], *, settings: FetchSettings,
              user_supplied: bool = False) -> FetchResult:
    """POST ``payload`` as JSON to ``url`` once (a sign-in to an API): the same address guard, size
    cap, timeouts and host spacing as :func:`fetch`, but no redirect is followed (it would carry the
    body, credentials perhaps, to wherever the server says) and nothing is retried. FetchError for
    any answer but 2xx; its message never holds the payload."""
    body = json.dumps(payload).encode()
    headers: dict[str, str | bytes] = {"User-Agent": settings.user_agent, "Accept": "application/json",
                                       "Content-Type": "application/json", "Content-Length": str(len(body))}
    shown = redact_url(url)
    deadline = _Deadline()
    with _pool(deadline) as pool:
        try:
            target = _split(url)
            hop = _one_request(pool, deadline, target, shown, headers, settings, guard=user_supplied,
                               method="POST", content=body)
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(shown, exc) from None
    if hop.response_status in _REDIRECT_STATUSES:
        raise FetchError(shown, f"HTTP {hop.response_status}: a redirect is not followed for a POST",
                         status=hop.response_status)
    return _result(url, url, hop, etag=None, last_modified=None, sent_validators=False)


#: How much of an error answer's own explanation a feed's error keeps.
ERROR_DETAIL_CHARS = 200




def _error_detail(hop: _Hop) -> str:
    """" (<name>: <message>)" from an API's JSON error answer (OpenReview's ``{"name":
    "ChallengeRequiredError", "message": "Challenge verification required ..."}``, a JSON:API or
    problem+json body's ``error``/``detail``), so the feed's error says why; "" for any other body.
    Printable, on one line and cut short: the server's words, shown beside the feed."""
    body = hop.body.lstrip()[:65_536]
    if not body.startswith(b"{") or "json" not in (hop.headers.get("content-type") or "application/json"):
        return ""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    error = doc.get("error")
    message = next((m for m in (doc.get("message"), doc.get("detail"), error.get("message") if isinstance(error, dict)
                                else error) if isinstance(m, str) and m.strip()), None)
    if message is None:
        return ""
    name = doc.get("name") if isinstance(doc.get("name"), str) else None
    text = " ".join(printable(f"{name}: {message}" if name else message).split())
    if len(text) > ERROR_DETAIL_CHARS:
        text = text[:ERROR_DETAIL_CHARS - 1] + "…"
    return f" ({text})"


def _result(url: str, final_url: str, hop: _Hop, *, etag: str | None, last_modified: str | None,
            sent_validators: bool) -> FetchResult:
    status = hop.response_status
    etag_received, last_modified_received = _validator(hop.headers, "etag"), _validator(hop.headers, "last-modified")
    if status == 304:
        if not sent_validators:
            # RFC 9110 §15.4.5: 304 answers a conditional request; to ours it can only be a server bug,
            # and taking it as "unchanged" would never fetch the feed.
            raise FetchError(redact_url(url), f"{_redirected(url, final_url)}HTTP 304 Not Modified to a request "
                                              "without validators", status=status)
        # RFC 9111 §4.3.4: the validators a 304 carries replace the stored ones; the others stay.
        return FetchResult(status=304, body=b"", headers=dict(hop.headers), etag=etag_received or etag,
                           last_modified=last_modified_received or last_modified, final_url=final_url,
                           not_modified=True, content_type=hop.headers.get("content-type"))
    if not 200 <= status < 300:
        reason = f"HTTP {status}"
        if status in _REDIRECT_STATUSES:
            reason += " redirect without a Location header"
        raise FetchError(redact_url(url), _redirected(url, final_url) + reason + _error_detail(hop), status=status)
    return FetchResult(status=status, body=hop.body, headers=dict(hop.headers), etag=etag_received,
                       last_modified=last_modified_received, final_url=final_url,
                       content_type=hop.headers.get("content-type"))
