"""Repairs of common feed-generator faults, made on the bytes before a feed parser reads them.

* A PHP notice, warning or "deprecated" message printed before the document (a WordPress plugin on
  a site that displays errors): ``<br />\\n<b>Warning</b>:  ... on line <b>12</b><br />``. The feed
  after it is intact, but the document no longer starts with its XML declaration or root element.
* Character references to UTF-16 surrogate halves, ``&#55357;&#56832;`` for U+1F600 (Java's and
  JavaScript's escapers work on UTF-16 code units). XML 1.0 §2.2 forbids them, so the document is
  not well-formed; a high half followed by a low half is the one character they encode, and a lone
  half becomes U+FFFD (what a decoder makes of it).
* Blank lines before the XML declaration (a template that starts with a newline).

Each function returns the bytes unchanged (not copied) when there is nothing to repair; the first
two also return a note for the feed's warnings when there was. All work on ASCII-compatible
encodings, which is what such generators write.

Public names: :func:`drop_php_messages`, :func:`combine_surrogate_references`,
:func:`drop_space_before_declaration`.
"""

from __future__ import annotations

import re

__all__ = ["drop_php_messages", "combine_surrogate_references", "drop_space_before_declaration"]

_PHP_LEVELS = rb"(?:PHP )?(?:Warning|Notice|Deprecated|Strict Standards|User Warning|User Notice|User Deprecated)"
#: PHP's messages as display_errors prints them, with html_errors on ("<br />\n<b>Warning</b>:  text in
#: <b>/path/file.php</b> on line <b>12</b><br />") or off ("Warning: text in /path/file.php on line 12").
#: One message is one line; fatal errors are not among them (the document stops there).
_PHP_MESSAGES = re.compile(
    rb"\A(?:\s*(?:<br\s*/?>\s*)?(?:<b>" + _PHP_LEVELS + rb"</b>|" + _PHP_LEVELS + rb"):[^\n]{0,4000}? on line "
    rb"(?:<b>)?\d+(?:</b>)?(?:<br\s*/?>)?)+\s*(?=<)")


def drop_php_messages(data: bytes) -> tuple[bytes, str | None]:
    """``data`` without the PHP messages printed before the document, and a note when there were."""
    found = _PHP_MESSAGES.match(data)
    if found is None:
        return data, None
    count = len(re.findall(rb" on line ", found.group()))
    return data[found.end():], (f"dropped {count} PHP message(s) printed before the feed "
                                "(the site displays its PHP errors)")


_XML_SPACE = b" \t\r\n"


def drop_space_before_declaration(data: bytes) -> bytes:
    """``data`` without the blank lines or spaces before its XML declaration (a template or PHP file
    that starts with a newline). XML 1.0 §2.8 puts the declaration first, so parsers call such a
    document not well-formed although nothing else is wrong with it; no note, as nothing is lost."""
    if data[:1] and data[:1] in _XML_SPACE:
        stripped = data.lstrip(_XML_SPACE)
        if stripped.startswith(b"<?xml"):
            return stripped
    return data


#: A reference to a code point in D800-DFFF, decimal (55296-57343, read loosely here and checked
#: after) or hexadecimal.
_SURROGATE_REFERENCE = re.compile(rb"&#(?:[xX]0*([dD][89a-fA-F][0-9a-fA-F]{2})|0*(5[5-7]\d{3}));")


def _surrogate(match: re.Match[bytes]) -> int | None:
    value = int(match[1], 16) if match[1] else int(match[2])
    return value if 0xD800 <= value <= 0xDFFF else None


def combine_surrogate_references(data: bytes) -> tuple[bytes, str | None]:
    """``data`` with surrogate-half references replaced by a reference to the character a pair
    encodes (U+FFFD for a lone half), and a note when there were any."""
    if b"&#" not in data:
        return data, None
    pieces: list[bytes] = []
    pos = repaired = 0
    pending: tuple[re.Match[bytes], int] | None = None  # a high half, waiting for the low half after it
    for match in _SURROGATE_REFERENCE.finditer(data):
        value = _surrogate(match)
        if value is None:
            continue
        if pending is not None:
            high, high_value = pending
            pending = None
            pieces.append(data[pos:high.start()])
            if 0xDC00 <= value and high.end() == match.start():
                code_point = 0x10000 + ((high_value - 0xD800) << 10) + (value - 0xDC00)
                pieces.append(b"&#x%X;" % code_point)
                pos = match.end()
                repaired += 1
                continue
            pieces.append(b"&#xFFFD;")
            pos = high.end()
            repaired += 1
        if value < 0xDC00:
            pending = (match, value)
            continue
        pieces.append(data[pos:match.start()] + b"&#xFFFD;")
        pos = match.end()
        repaired += 1
    if pending is not None:
        pieces.append(data[pos:pending[0].start()] + b"&#xFFFD;")
        pos = pending[0].end()
        repaired += 1
    if not repaired:
        return data, None
    pieces.append(data[pos:])
    return b"".join(pieces), (f"repaired {repaired} character reference(s) to UTF-16 surrogate halves "
                              "(not allowed in XML)")
