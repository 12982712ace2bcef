"""The one network function of digest: :func:`fetch`. Nothing else opens a connection.

What every request gets, and why:

* Timeouts (connect/read from ``[fetch]``), a descriptive User-Agent (arXiv API terms ask for one).
* Conditional GET: ``If-None-Match`` / ``If-Modified-Since`` from the stored ETag / Last-Modified
  (RFC 9110 §13.1); a 304 comes back as ``not_modified``.
* Retries: 429/503 honour ``Retry-After`` (RFC 9110 §10.2.3) up to :data:`MAX_RETRY_AFTER`; other 5xx,
  timeouts and connection errors back off exponentially with full jitter.
* Politeness: a minimum spacing between two requests to one host (3 s for arxiv.org, per the arXiv
  API terms of use, and one connection at a time there), ``[fetch] host_spacing`` elsewhere.
* A size cap: the body is streamed and the download aborted past ``max_bytes`` (decoded bytes, so a
  gzip bomb is capped too).
* SSRF guard: only http(s); the host is resolved and every address we connect to, on every redirect,
  must be public (not loopback, private, link-local, CGNAT, ULA, multicast, unspecified, reserved,
  nor an IPv4-mapped/6to4/Teredo/NAT64 form of one) unless allow-listed in ``[fetch] allow_hosts``.
  The connection is pinned to the vetted address (Host header and TLS SNI keep the name), so a DNS
  answer that changes between check and connect (DNS rebinding) cannot redirect us.

Public: :func:`fetch`, :class:`FetchResult`, :func:`sniff`, :class:`HostLimiter`,
:func:`set_limiter`, :func:`reset_limiter`, :func:`check_address`.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from digest.config import FetchSettings
from digest.errors import BlockedAddressError, FetchError

#: Longest Retry-After we wait for inside one fetch; longer ones fail with ``retry_after`` set so the
#: feed's next attempt is scheduled after it instead.
MAX_RETRY_AFTER = 120.0
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
           or addr.is_unspecified or addr.is_reserved)
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
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        candidates: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchError(host, f"cannot resolve host: {exc.strerror or exc}") from None
        candidates = []
        for info in infos:
            addr = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if addr not in candidates:
                candidates.append(addr)
    refused: list[str] = []
    for addr in candidates:
        if not guard or _allowed(host, addr, settings.allow_hosts) or is_public_address(addr):
            return addr
        refused.append(str(addr))
    raise BlockedAddressError(host, f"refusing to connect to non-public address {', '.join(refused)} "
                                    "(add it to [fetch] allow_hosts if intended)")


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
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    from datetime import datetime, timezone
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _backoff(attempt: int) -> float:
    """Exponential back-off with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter")."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))


def _pinned_url(parts: tuple[str, str, int, str], addr: IPAddress) -> str:
    scheme, _host, port, rest = parts
    ip = f"[{addr}]" if addr.version == 6 else str(addr)
    return f"{scheme}://{ip}:{port}{rest}"


def _split(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedAddressError(url, f"only http and https URLs may be fetched, not {scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise FetchError(url, "URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise FetchError(url, "URL has an invalid port") from None
    rest = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return scheme, parts.hostname, port, rest


@dataclass(slots=True)
class _Hop:
    response_status: int
    headers: httpx.Headers
    body: bytes


def _one_request(client: httpx.Client, url: str, headers: dict[str, str], settings: FetchSettings,
                 *, guard: bool) -> _Hop:
    """One HTTP exchange with no redirect following, to the vetted and pinned address."""
    scheme, host, port, rest = _split(url)
    addr = check_address(host, port, settings, guard=guard)
    default_port = port == (443 if scheme == "https" else 80)
    hop_headers = dict(headers, Host=host if default_port else f"{host}:{port}")
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    _limiter.wait(host.lower(), ARXIV_SPACING if is_arxiv_host(host) else settings.host_spacing)
    lock = _limiter.connection_lock(host)
    if lock:
        lock.acquire()
    try:
        request = client.build_request("GET", _pinned_url((scheme, host, port, rest), addr),
                                       headers=hop_headers, extensions=extensions)
        response = client.send(request, stream=True)
        try:
            body = b""
            if response.status_code not in _REDIRECT_STATUSES and response.status_code != 304:
                body = _read_capped(response, url, settings.max_bytes)
            return _Hop(response.status_code, response.headers, body)
        finally:
            response.close()
    finally:
        if lock:
            lock.release()


def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(url, f"response is {int(declared):,} bytes, over the {max_bytes:,}-byte limit",
                         status=response.status_code)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(url, f"response exceeds the {max_bytes:,}-byte limit; download aborted",
                             status=response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def _follow(client: httpx.Client, url: str, headers: dict[str, str], settings: FetchSettings,
            *, user_supplied: bool) -> tuple[_Hop, str]:
    """Follow redirects ourselves so each hop's address is checked (httpx would not)."""
    current = url
    for hop in range(settings.max_redirects + 1):
        # Digest-built URLs (user_supplied=False) point at known public hosts; every redirect target,
        # which a third party controls, is always guarded.
        result = _one_request(client, current, headers, settings, guard=user_supplied or hop > 0)
        location = result.headers.get("location")
        if result.response_status in _REDIRECT_STATUSES and location:
            current = urljoin(current, location)
            continue
        return result, current
    raise FetchError(url, f"more than {settings.max_redirects} redirects")


def fetch(url: str, *, settings: FetchSettings, etag: str | None = None, last_modified: str | None = None,
          accept: str | None = None, user_supplied: bool = True) -> FetchResult:
    """GET ``url`` politely and safely; FetchError (or BlockedAddressError) when it cannot be had.

    Returns 2xx and 304 responses; raises for every other status after retries.
    """
    headers = {"User-Agent": settings.user_agent,
               "Accept": accept or "application/atom+xml, application/rss+xml, application/xml;q=0.9, "
                                   "application/json;q=0.9, text/xml;q=0.8, */*;q=0.1",
               "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    attempt = 0
    # verify=True keeps certificate checks; the SNI extension makes them check the real host name.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        while True:
            try:
                hop, final_url = _follow(client, url, headers, settings, user_supplied=user_supplied)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt >= settings.retries:
                    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
                    raise FetchError(url, f"{kind}: {exc.__class__.__name__} {exc}".strip()) from None
                _sleep(_backoff(attempt))
                attempt += 1
                continue
            except httpx.HTTPError as exc:  # undecodable gzip, invalid URL...: not worth a retry
                raise FetchError(url, f"{exc.__class__.__name__}: {exc}") from None
            status = hop.response_status
            if status in _RETRY_STATUSES:
                wait = _retry_after(hop.headers.get("retry-after")) if status in (429, 503) else None
                if attempt >= settings.retries or (wait is not None and wait > MAX_RETRY_AFTER):
                    raise FetchError(url, f"HTTP {status} after {attempt + 1} attempt(s)", status=status,
                                     retry_after=wait)
                _sleep(wait if wait is not None else _backoff(attempt))
                attempt += 1
                continue
            return _result(url, final_url, hop)


def _result(url: str, final_url: str, hop: _Hop) -> FetchResult:
    status = hop.response_status
    if status == 304:
        return FetchResult(status=304, body=b"", headers=dict(hop.headers), etag=hop.headers.get("etag"),
                           last_modified=hop.headers.get("last-modified"), final_url=final_url,
                           not_modified=True, content_type=hop.headers.get("content-type"))
    if not 200 <= status < 300:
        reason = f"HTTP {status}"
        if status in _REDIRECT_STATUSES:
            reason += " redirect without a Location header"
        raise FetchError(url, reason, status=status)
    return FetchResult(status=status, body=hop.body, headers=dict(hop.headers), etag=hop.headers.get("etag"),
                       last_modified=hop.headers.get("last-modified"), final_url=final_url,
                       content_type=hop.headers.get("content-type"))
