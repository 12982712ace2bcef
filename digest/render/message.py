"""A rendered digest as the bytes of one RFC 5322 message, built directly (no email.message).

The stdlib's ``EmailMessage`` with the default policy costs ~3.5 ms per digest here, more than the
rendering; the delivery benchmark allows ~1 ms per message for both. The format is small enough to
write by hand, and the tests parse every message back with the stdlib parser:

- ``multipart/alternative`` (RFC 2046 §5.1.4): text/plain first, text/html last (the preferred
  part comes last). Both parts UTF-8 with CRLF line ends. The boundary starts with ``=_``, which
  quoted-printable output can never contain (RFC 2045 §6.7 rule 1: ``=`` is always followed by two
  hex digits or a line break) and our rendered text never does (checked; QP is used otherwise).
- Body encoding. ``eight_bit=True`` (what `digest send` stores): a part goes as it is, labelled
  ``8bit`` (``7bit`` when it is ASCII), when every line is at most 998 octets and it holds no NUL
  (RFC 2045 §2.8, RFC 5322 §2.1.1); it is sent with ``BODY=8BITMIME`` (RFC 6152), which every
  current MTA and aiosmtpd advertise. That keeps the line count of the message (~15x fewer
  lines than quoted-printable) and its size down, and an SMTP server reads DATA line by line.
  Otherwise, and for ``eight_bit=False``, quoted-printable (RFC 2045 §6.7), lines of at most 76
  characters. :func:`seven_bit` re-encodes a stored 8bit message as quoted-printable for a server
  that does not offer 8BITMIME (RFC 6152 §3: the client must not send 8-bit data to it).
- Header values pass through :func:`digest.sanitize.header_safe` (no CR/LF: no injection);
  non-ASCII text becomes RFC 2047 encoded-words (UTF-8, "B" encoding, at most 75 characters each,
  folded so lines stay within 76); ASCII text folds at spaces to 78 characters (RFC 5322 §2.1.1).
- ``List-Id`` (RFC 2919), ``List-Unsubscribe`` with an https and a mailto URI (RFC 2369 §3.2) and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058 §3.1).
- ``Auto-Submitted: auto-generated`` (RFC 3834 §5): the digest is requested, but it is produced by a
  process, not written by a person, and the header keeps vacation auto-replies from coming back.
- ``Message-ID`` from :func:`message_id_for` is a function of user and period, so a retried or
  duplicated send carries the same id and mail clients show it once.

Public names: :func:`build_message`, :func:`seven_bit`, :func:`message_id_for`, :func:`list_id_for`,
:func:`ascii_address`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import format_datetime, getaddresses
from functools import lru_cache

from digest.render.email import RenderedEmail
from digest.sanitize import header_safe as _header_safe, safe_url

__all__ = ["build_message", "seven_bit", "message_id_for", "list_id_for", "ascii_address"]

_CRLF = "\r\n"
_MAX_LINE = 78  # RFC 5322 §2.1.1 SHOULD; 998 is the MUST
_MAX_WORD = 75  # RFC 2047 §2
_PHRASE_ATOMS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")  # RFC 5322 §3.2.3 atext and spaces
_ADDR_RE = re.compile(r"^[^\s@<>(),;:\\\"\[\]]+@[A-Za-z0-9.-]+$")
_ID_PART = re.compile(r"[^A-Za-z0-9.-]+")
_LIST_ID = re.compile(r"^(?P<phrase>.*?)\s*<(?P<id>[A-Za-z0-9][A-Za-z0-9.-]*)>$")


def message_id_for(user_id: int, period: str, period_key: str, domain: str) -> str:
    """``<digest.daily.2026-11-24.u7@example.org>``: the same for every attempt of one digest."""
    left = ".".join(_ID_PART.sub("-", part).strip("-.") or "x" for part in ("digest", period, period_key))
    return f"<{left}.u{int(user_id)}@{_domain(domain)}>"


def list_id_for(period: str, domain: str) -> str:
    """RFC 2919 List-Id value for one kind of digest: ``digest daily <daily.digest.example.org>``."""
    label = _ID_PART.sub("-", period).strip("-.") or "digest"
    return f"digest {label} <{label}.digest.{_domain(domain)}>"


@lru_cache(maxsize=64)
def _domain(domain: str) -> str:
    host = header_safe(domain).strip().strip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"not a domain name: {domain!r}") from None
    if not host or not re.fullmatch(r"[a-z0-9.-]+", host):
        raise ValueError(f"not a domain name: {domain!r}")
    return host


def ascii_address(address: str) -> str:
    """``address`` as it goes in the To header and the SMTP envelope: the domain in IDNA form
    (``ann@bücher.example`` -> ``ann@xn--bcher-kva.example``, RFC 5890 A-labels, which RFC 5321
    §2.3.5 asks for), the local part as it is. ValueError when the local part is not ASCII or the
    domain is no domain name: such an address needs SMTPUTF8 (RFC 6531), which digest does not use."""
    local, _, domain = address.rpartition("@")
    if not local or not local.isascii():
        raise ValueError(f"address {address!r} needs SMTPUTF8 (a non-ASCII name before the @), which digest "
                         "does not use")
    return f"{local}@{_domain(domain)}"


# --- header values -------------------------------------------------------------------------------


def header_safe(value: str | None) -> str:
    """:func:`digest.sanitize.header_safe`, skipped for values it would return unchanged: printable
    (so no CR, LF, NUL, other controls or Unicode line breaks, and no whitespace but the space),
    no double space, no space at either end. Its per-character check costs ~30 µs a header."""
    if value and value.isprintable() and "  " not in value and value[0] != " " and value[-1] != " ":
        return value
    return _header_safe(value)


def _encoded_words(text: str, first_room: int) -> list[str]:
    """RFC 2047 B-encoded words for ``text``, split on character boundaries (never inside a UTF-8
    sequence, §5 rule 3); the first word fits ``first_room`` characters, the others a whole line."""
    data = text.encode()
    words: list[str] = []
    start, room = 0, first_room
    while True:
        # Each 3 bytes become 4 base64 characters; 12 = len("=?utf-8?b?") + len("?=").
        cut = start + max(3 * ((room - 12) // 4), 0)
        if cut >= len(data):
            words.append(_b_word(data[start:]))
            return words
        while cut > start and data[cut] & 0xC0 == 0x80:  # back to the start of a character
            cut -= 1
        if cut == start:  # not even one character fits: it goes alone, too long, rather than lost
            cut += 1
            while cut < len(data) and data[cut] & 0xC0 == 0x80:
                cut += 1
        words.append(_b_word(data[start:cut]))
        if cut == len(data):
            return words
        start, room = cut, _MAX_WORD


def _b_word(data: bytes) -> str:
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


def _fold_ascii(name: str, value: str) -> str:
    """``Name: value`` folded at spaces so lines stay within 78 characters where a space allows."""
    line, lines = f"{name}:", []
    for word in value.split(" "):
        if len(line) + 1 + len(word) > _MAX_LINE and line.strip() and not line.endswith(":"):
            lines.append(line)
            line = f" {word}"
        else:
            line = f"{line} {word}"
    lines.append(line)
    return _CRLF.join(lines)


def _fold_tokens(name: str, tokens: list[str]) -> str:
    """``Name: tok tok ...`` packed into lines of at most 76 characters (RFC 2047 §2 for lines holding
    encoded-words, within RFC 5322's 78), folding only between tokens."""
    line, lines = f"{name}:", []
    for token in tokens:
        if len(line) + 1 + len(token) > 76 and not line.endswith(":"):
            lines.append(line)
            line = f" {token}"
        else:
            line = f"{line} {token}"
    lines.append(line)
    return _CRLF.join(lines)


def _needs_encoding(text: str) -> bool:
    # "=?" in plain text would be read as an encoded-word by decoders (RFC 2047 §5): encode it too.
    return not text.isascii() or "=?" in text or any(not c.isprintable() for c in text)


def _unstructured(name: str, value: str) -> str:
    value = header_safe(value)
    if not _needs_encoding(value):
        return _fold_ascii(name, value)
    return _fold_tokens(name, _encoded_words(value, _MAX_WORD - len(name) - 1))


def _phrase(text: str, room: int) -> list[str]:
    """A display name as header tokens: an atom phrase, a quoted-string, or encoded-words."""
    text = header_safe(text)
    if not text:
        return []
    if _needs_encoding(text):
        return _encoded_words(text, room)
    if _PHRASE_ATOMS.match(text):
        return [text]
    return ['"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"']


def _mailbox(name: str, value: str | tuple[str | None, str]) -> str:
    """An address header with exactly one mailbox; the display name is encoded as needed.

    ``value`` is ``"addr"``, ``"Name <addr>"`` (quote a name holding commas) or ``(name, addr)``.
    """
    if isinstance(value, tuple):
        display, address = header_safe(value[0] or ""), header_safe(value[1])
    else:
        pairs = getaddresses([header_safe(value)])
        if len(pairs) != 1 or not pairs[0][1]:
            raise ValueError(f"{name}: expected exactly one address, got {value!r}")
        display, address = pairs[0]
        if "=?" in display:  # already RFC 2047-encoded (email.utils.formataddr): decode, re-encode below
            try:
                display = str(make_header(decode_header(display)))
            except (UnicodeError, LookupError, HeaderParseError):
                pass
    try:
        address = ascii_address(address)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if not _ADDR_RE.match(address):
        raise ValueError(f"{name}: not a plain address: {address!r}")
    tokens = _phrase(display, _MAX_WORD - len(name) - 1)
    return _fold_tokens(name, [*tokens, f"<{address}>"] if tokens else [address])


@lru_cache(maxsize=16)
def _from(sender: str) -> str:
    """The From header: ``[smtp] from`` is the same for every message of a run."""
    return _mailbox("From", sender)


def _list_unsubscribe(https: str, mailto: str) -> str:
    url = safe_url(https)
    if url is None or not url.isascii() or any(c in url for c in "<>, "):
        raise ValueError(f"List-Unsubscribe: not an http(s) URL: {https!r}")
    if not mailto.startswith("mailto:") or not mailto.isascii() or any(c in mailto for c in "<>, \r\n\t"):
        raise ValueError(f"List-Unsubscribe: not a mailto URI: {mailto!r}")
    # RFC 8058 §3.1: the https URI is the one the provider POSTs to; one URI per line keeps folding
    # at the comma, never inside a URI.
    return f"List-Unsubscribe: <{url}>,{_CRLF} <{mailto}>"


@lru_cache(maxsize=64)
def _list_id(value: str) -> str:
    m = _LIST_ID.match(header_safe(value))
    if not m:
        raise ValueError(f"List-Id: expected 'phrase <list.id.domain>', got {value!r}")
    return _fold_tokens("List-Id", [*_phrase(m.group("phrase"), _MAX_WORD - len("List-Id: ")), f"<{m.group('id')}>"])


# --- bodies --------------------------------------------------------------------------------------


# Bytes that quoted-printable may carry literally (RFC 2045 §6.7 rule 2: 33-60, 62-126; rule 3: space
# and tab; and our line breaks). Everything else, "=" first, becomes "=XX".
_QP_SAFE = bytes([9, 10, *range(32, 61), *range(62, 127)])
# A chunk of at most 75 characters that does not end inside an "=XX" escape: once literal "=" are
# encoded every "=" starts an escape, so the chunk's last two characters must not be "=".
_QP_CHUNK = re.compile(rb"[^\n]{0,73}[^=\n][^=\n]|[^\n]+")


def _qp(text: str) -> bytes:
    """UTF-8 quoted-printable with CRLF line breaks (RFC 2045 §6.7).

    binascii.b2a_qp does the same but takes ~1 ms for a 60 KB digest; this takes a few C-level
    passes: one ``replace`` per distinct unsafe byte (rule 1), trailing space/tab encoded (rule 3),
    soft line breaks keeping lines within 76 characters (rule 5).
    """
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    unsafe = data.translate(None, _QP_SAFE)
    if unsafe:
        data = data.replace(b"=", b"=3D")
        for byte in sorted(set(unsafe) - {0x3D}):
            data = data.replace(bytes((byte,)), b"=%02X" % byte)
    if b" \n" in data or b"\t\n" in data:
        data = data.replace(b" \n", b"=20\n").replace(b"\t\n", b"=09\n")
    return b"\r\n".join(line if len(line) <= 76 else b"=\r\n".join(_QP_CHUNK.findall(line))
                         for line in data.split(b"\n"))


# RFC 5322 §2.1.1: at most 998 octets on a line, excluding CRLF.
_MAX_8BIT_LINE = 998
# One line per header field (41 characters at most): a receiving server reads DATA line by line.
_PART_HEAD = 'Content-Type: text/{}; charset="utf-8"' + _CRLF + "Content-Transfer-Encoding: {}" + _CRLF + _CRLF
_CTE_8BIT = b"Content-Transfer-Encoding: 8bit\r\n"
_CTE_QP = b"Content-Transfer-Encoding: quoted-printable\r\n"
# Headers that are the same in every digest (RFC 8058 §3.1; RFC 3834 §5; RFC 2045 §4).
_FIXED_HEADERS = _CRLF.join(("List-Unsubscribe-Post: List-Unsubscribe=One-Click", "Auto-Submitted: auto-generated",
                             "MIME-Version: 1.0"))


def _body(text: str, eight_bit: bool, boundary: bytes) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, encoded body with CRLF line ends, ending in CRLF)."""
    if eight_bit:
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        data = text.encode("utf-8")
        if not data.endswith(b"\n"):
            data += b"\n"
        # RFC 2045 §2.8 and RFC 5322 §2.1.1: no NUL, CR only in CRLF, lines of at most 998 octets;
        # and never the boundary (RFC 2046 §5.1.1), which feed text could otherwise smuggle in.
        if b"\0" not in data and boundary not in data and max(map(len, data.split(b"\n"))) <= _MAX_8BIT_LINE:
            return ("7bit" if data.isascii() else "8bit"), data.replace(b"\n", b"\r\n")
    return "quoted-printable", _qp(text)


def build_message(*, rendered: RenderedEmail, sender: str, recipient: str | tuple[str | None, str], message_id: str, date: datetime,
                  list_id: str, unsubscribe_https: str, unsubscribe_mailto: str, eight_bit: bool = False) -> bytes:
    """The complete message: headers (see the module doc) and a multipart/alternative body.

    ``sender`` is ``[smtp] from`` ("Name <addr>"); ``recipient`` an address, "Name <addr>" or a
    ``(name, address)`` pair (the safe choice for names with commas). ``eight_bit`` allows 8bit
    bodies (RFC 6152; see the module doc). Raises ValueError on a value that cannot be put in its
    header safely.
    """
    if date.tzinfo is None:
        raise ValueError("Date: needs an aware datetime")
    msg_id = header_safe(message_id)
    if not re.fullmatch(r"<[^<>\s@]+@[^<>\s@]+>", msg_id):
        raise ValueError(f"Message-ID: not a msg-id: {message_id!r}")
    boundary = "=_" + hashlib.sha256(msg_id.encode()).hexdigest()[:30]
    headers = [
        _from(sender),
        _mailbox("To", recipient),
        _unstructured("Subject", rendered.subject),
        f"Date: {format_datetime(date)}",
        f"Message-ID: {msg_id}",
        _list_id(list_id),
        _list_unsubscribe(unsubscribe_https, unsubscribe_mailto),
        _FIXED_HEADERS,
        f'Content-Type: multipart/alternative;{_CRLF} boundary="{boundary}"',
    ]
    text_cte, text = _body(rendered.text, eight_bit, boundary.encode("ascii"))
    html_cte, html = _body(rendered.html, eight_bit, boundary.encode("ascii"))
    return b"".join((
        (_CRLF.join(headers) + _CRLF + _CRLF).encode("ascii"),
        f"--{boundary}{_CRLF}{_PART_HEAD.format('plain', text_cte)}".encode("ascii"),
        text,
        f"{_CRLF}--{boundary}{_CRLF}{_PART_HEAD.format('html', html_cte)}".encode("ascii"),
        html,
        f"{_CRLF}--{boundary}--{_CRLF}".encode("ascii"),
    ))


def seven_bit(message: bytes) -> bytes:
    """``message`` (from :func:`build_message`) with its 8bit parts re-encoded as quoted-printable.

    For a server that does not advertise 8BITMIME (RFC 6152 §3). An ASCII message is returned as it
    is (its parts are 7bit or quoted-printable already). The decoded bodies do not change.
    """
    if message.isascii():
        return message
    head, _, body = message.partition(b"\r\n\r\n")
    found = re.search(rb'boundary="([^"]+)"', head)
    if found is None:
        raise ValueError("not a multipart message from build_message")
    delimiter = b"\r\n--" + found.group(1)
    parts = (b"\r\n" + body).split(delimiter)
    out = []
    for part in parts:
        part_head, sep, part_body = part.partition(b"\r\n\r\n")
        if sep and _CTE_8BIT in part_head + b"\r\n":
            # The CRLF before the delimiter belongs to the delimiter (RFC 2046 §5.1.1).
            part = (part_head + b"\r\n").replace(_CTE_8BIT, _CTE_QP)[:-2] + sep + \
                _qp(part_body.decode("utf-8"))
        out.append(part)
    return head + b"\r\n\r\n" + delimiter.join(out)[2:]
