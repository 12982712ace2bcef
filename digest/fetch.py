"""The one network function of digest: :func:`fetch`. Nothing else opens a connection.

What every request gets, and why:

* Timeouts (connect/read from ``[fetch]``), a descriptive User-Agent (arXiv API terms ask for one).
* A whole-response deadline (:data:`TRANSFER_TIMEOUT`), since the read timeout bounds each read only
  and a server dripping a byte at a time would otherwise hold the fetch forever.
* Conditional GET: ``If-None-Match`` / ``If-Modified-Since`` from the stored ETag / Last-Modified
  (RFC 9110 §13.1); a 304 comes back as ``not_modified`` with the validators it did not replace
  (RFC 9111 §4.3.4). A 304 to a request without validators is an error (RFC 9110 §15.4.5).
* Retries: 429/503 honour ``Retry-After`` (RFC 9110 §10.2.3; seconds or any of the three HTTP-date
  forms of §5.6.7) up to :data:`MAX_RETRY_AFTER`; other 5xx, timeouts and connection errors back off
  exponentially with full jitter.
* Host names: IDNs are sent as A-labels (RFC 5891), IPv6 literals in brackets in ``Host`` (RFC 3986
  §3.2.2). URL userinfo becomes Basic auth for that origin only (RFC 7617), and is never shown: every
  error names the URL asked for (:func:`digest.config.redact_url`-ed) and, for a failed redirect hop, its target.
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

Public: :func:`fetch`, :class:`FetchResult`, :func:`sniff`, :class:`HostLimiter`,
:func:`set_limiter`, :func:`reset_limiter`, :func:`check_address`, :func:`vetted_addresses`.
"""

from __future__ import annotations

import base64
import ipaddress
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import httpx

from digest.config import FetchSettings, redact_url
from digest.dates import rfc5322_date
from digest.errors import BlockedAddressError, FetchError

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


def _one_request(client: httpx.Client, target: _Target, url: str, headers: dict[str, str],
                 settings: FetchSettings, *, guard: bool) -> _Hop:
    """One HTTP exchange with no redirect following, to a vetted and pinned address of the host."""
    addrs = vetted_addresses(target.host, target.port, settings, guard=guard)[:MAX_ADDRESSES]
    hop_headers = dict(headers, Host=target.authority())
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    host = target.host.lower()
    _limiter.wait(host, ARXIV_SPACING if is_arxiv_host(host) else settings.host_spacing)
    lock = _limiter.connection_lock(host)
    if lock:
        lock.acquire()
    try:
        return _exchange(client, target, addrs, url, hop_headers, extensions, settings)
    finally:
        if lock:
            lock.release()


def _exchange(client: httpx.Client, target: _Target, addrs: list[IPAddress], url: str, headers: dict[str, str],
              extensions: dict[str, str], settings: FetchSettings) -> _Hop:
    budget = max(TRANSFER_TIMEOUT, settings.read_timeout)
    for i, addr in enumerate(addrs):
        request = client.build_request("GET", target.pinned(addr), headers=headers, extensions=extensions)
        started = time.monotonic()
        try:
            response = client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            if i == len(addrs) - 1:
                raise
            continue  # nothing was sent: the next address of the same host is as good
        except httpx.InvalidURL as exc:  # httpx builds next_request from Location even when not following
            raise FetchError(url, f"redirect to an invalid URL ({exc})") from None
        try:
            body = b""
            if response.status_code not in _REDIRECT_STATUSES and response.status_code != 304:
                body = _read_capped(response, url, settings.max_bytes, deadline=started + budget, budget=budget)
            return _Hop(response.status_code, response.headers, body)
        finally:
            response.close()
    raise AssertionError("unreachable: vetted_addresses never returns an empty list")


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


def _read_capped(response: httpx.Response, url: str, max_bytes: int, *, deadline: float, budget: float) -> bytes:
    """The decoded body, aborted past ``max_bytes`` decoded bytes or past ``deadline`` (monotonic)."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(url, f"response is {int(declared):,} bytes, over the {max_bytes:,}-byte limit",
                         status=response.status_code)
    encoding = response.headers.get("content-encoding", "")
    layers = _decoders(encoding, url)
    chunks: list[bytes] = []
    size = 0
    try:
        for raw in response.iter_raw():  # no chunk_size: httpx would buffer up to it
            if time.monotonic() > deadline:
                raise FetchError(url, f"timed out: the response took over {budget:g} s "
                                      "(server too slow)", status=response.status_code)
            for piece in _decode(layers, raw):
                size += len(piece)
                if size > max_bytes:
                    raise FetchError(url, f"response exceeds the {max_bytes:,}-byte limit; download aborted",
                                     status=response.status_code)
                chunks.append(piece)
        for layer in layers:
            layer.finish()
    except zlib.error as exc:
        raise FetchError(url, f"cannot decode the body (Content-Encoding {encoding.strip()}): {exc}",
                         status=response.status_code) from None
    return b"".join(chunks)


# --- redirects, retries, the result ----------------------------------------------------------------


def _follow(client: httpx.Client, url: str, headers: dict[str, str], settings: FetchSettings,
            *, user_supplied: bool) -> tuple[_Hop, str]:
    """Follow redirects ourselves so each hop's address is checked (httpx would not).

    Every error names the URL asked for (without credentials), and the redirect target when a hop
    failed; URL credentials go only to the URL's own origin (as browsers and curl do).
    """
    current = url
    credentials: _Target | None = None
    for hop in range(settings.max_redirects + 1):
        try:
            target = _split(current)
            if hop == 0 and target.username is not None:
                credentials = target
            hop_headers = headers
            if credentials is not None and target.origin == credentials.origin:
                hop_headers = dict(headers, Authorization=_basic_auth(credentials))
            # Digest-built URLs (user_supplied=False) point at known public hosts; every redirect target,
            # which a third party controls, is always guarded.
            result = _one_request(client, target, redact_url(current), hop_headers, settings,
                                  guard=user_supplied or hop > 0)
            location = result.headers.get("location")
            if result.response_status in _REDIRECT_STATUSES and location:
                current = urljoin(current, location.strip())
                continue
        except FetchError as exc:
            where = f"redirected to {redact_url(current)}: " if hop else ""
            raise type(exc)(redact_url(url), where + exc.reason, status=exc.status, retry_after=exc.retry_after) from None
        except ValueError as exc:  # urljoin on a Location such as "http://[::1"
            raise FetchError(redact_url(url), f"redirect to an invalid URL ({exc})") from None
        return result, current
    raise FetchError(redact_url(url), f"more than {settings.max_redirects} redirects")


def fetch(url: str, *, settings: FetchSettings, etag: str | None = None, last_modified: str | None = None,
          accept: str | None = None, user_supplied: bool = True) -> FetchResult:
    """GET ``url`` politely and safely; FetchError (or BlockedAddressError) when it cannot be had.

    Returns 2xx and 304 responses; raises for every other status after retries. Error messages never
    show the URL's userinfo.
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
    shown = redact_url(url)
    # verify=True keeps certificate checks; the SNI extension makes them check the real host name.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        while True:
            try:
                hop, final_url = _follow(client, url, headers, settings, user_supplied=user_supplied)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt >= settings.retries:
                    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
                    raise FetchError(shown, f"{kind}: {exc.__class__.__name__} {exc}".strip()) from None
                _sleep(_backoff(attempt))
                attempt += 1
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # invalid URL...: not worth a retry
                raise FetchError(shown, f"{exc.__class__.__name__}: {exc}") from None
            status = hop.response_status
            if status in _RETRY_STATUSES:
                wait = _retry_after(hop.headers.get("retry-after")) if status in (429, 503) else None
                if attempt >= settings.retries or (wait is not None and wait > MAX_RETRY_AFTER):
                    raise FetchError(shown, f"HTTP {status} after {attempt + 1} attempt(s)", status=status,
                                     retry_after=wait)
                _sleep(wait if wait is not None else _backoff(attempt))
                attempt += 1
                continue
            return _result(shown, final_url, hop, etag=etag, last_modified=last_modified)


def _result(url: str, final_url: str, hop: _Hop, *, etag: str | None, last_modified: str | None) -> FetchResult:
    status = hop.response_status
    if status == 304:
        if not etag and not last_modified:
            # RFC 9110 §15.4.5: 304 answers a conditional request; to ours it can only be a server bug,
            # and taking it as "unchanged" would never fetch the feed.
            raise FetchError(url, "HTTP 304 Not Modified to a request without validators", status=status)
        # RFC 9111 §4.3.4: the validators a 304 carries replace the stored ones; the others stay.
        return FetchResult(status=304, body=b"", headers=dict(hop.headers), etag=hop.headers.get("etag") or etag,
                           last_modified=hop.headers.get("last-modified") or last_modified, final_url=final_url,
                           not_modified=True, content_type=hop.headers.get("content-type"))
    if not 200 <= status < 300:
        reason = f"HTTP {status}"
        if status in _REDIRECT_STATUSES:
            reason += " redirect without a Location header"
        raise FetchError(url, reason, status=status)
    return FetchResult(status=status, body=hop.body, headers=dict(hop.headers), etag=hop.headers.get("etag"),
                       last_modified=hop.headers.get("last-modified"), final_url=final_url,
                       content_type=hop.headers.get("content-type"))
