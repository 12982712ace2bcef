"""The one safe way digest parses outside XML (issue #2, "Bad input gets a clear error").

Every XML source (arXiv RSS/API, generic RSS/Atom, bioRxiv RSS) parses through :func:`parse_document`:

- No entity expansion, no DTD loading, no network: ``resolve_entities=False``, ``load_dtd=False``,
  ``no_network=True``; ``huge_tree=False`` keeps libxml2's depth and text-size limits on.
- A DOCTYPE that declares entities is refused outright with ParseError "entity declarations are not
  allowed". Feeds never need them; they are how billion-laughs bombs and XXE (``SYSTEM
  "file:///etc/passwd"``) attacks are built, so we do not try to defuse them, we reject them.
- A document that is not well formed (a truncated download, a stray ``&``) is parsed again in
  libxml2's recover mode so the good entries survive; :meth:`XmlDocument.intact` then drops the
  entries that overlap an error line, and the problems are reported as warnings.
- A wrong declared encoding (``encoding="utf-8"`` over Windows-1252 bytes, or a single-byte label
  over UTF-8 bytes) is corrected with a warning instead of failing or producing mojibake.

Public names: :func:`parse_document`, :class:`XmlDocument`, :func:`check_no_entities`, :func:`make_parser`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from digest.errors import ParseError, printable
from digest.sources import repair

__all__ = ["XmlDocument", "parse_document", "check_no_entities", "make_parser", "ENTITY_ERROR"]

ENTITY_ERROR = "entity declarations are not allowed"
_DECL_RE = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_SINGLE_BYTE = {"iso-8859-1", "latin-1", "latin1", "iso8859-1", "windows-1252", "cp1252", "us-ascii", "ascii",
                "iso-8859-15", "l1"}


def make_parser(*, recover: bool = False, encoding: str | None = None) -> etree.XMLParser:
    """An lxml parser with every dangerous feature off (see the module docstring)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                           dtd_validation=False, remove_pis=True, recover=recover, encoding=encoding)


@dataclass(frozen=True, slots=True)
class XmlDocument:
    """A parsed document: its root, what went wrong on the way, and where."""

    root: etree._Element
    warnings: tuple[str, ...] = ()
    #: Lines (1-based) where libxml2 reported errors; empty for a well-formed document.
    error_lines: tuple[int, ...] = ()
    #: Every error is the document ending early (a cut download): only its last entry can be damaged.
    cut_short: bool = False

    @property
    def recovered(self) -> bool:
        return bool(self.error_lines)

    def intact(self, entries: Sequence[etree._Element]) -> list[etree._Element]:
        """The entries (in document order) whose lines hold no parse error.

        An entry spans from its start line to the line before the next entry starts (the last one to
        the end of the document), so a truncated last entry, or one with a broken tag inside, is
        dropped while its neighbours are kept. Lines are all lxml records per element, so this is
        conservative on one-line documents, except for a document cut short, whose last entry alone
        is dropped.
        """
        if not self.error_lines:
            return list(entries)
        if self.cut_short:
            # Line numbers cannot tell entries of a one-line (minified) document apart; the end can.
            return list(entries[:-1])
        kept: list[etree._Element] = []
        for i, entry in enumerate(entries):
            start = entry.sourceline or 0
            end = (entries[i + 1].sourceline or start) - 1 if i + 1 < len(entries) else None
            if end is not None and end < start:
                end = start
            if not any(line >= start and (end is None or line <= end) for line in self.error_lines):
                kept.append(entry)
        return kept


def check_no_entities(data: bytes, *, kind: str, source: str | None = None) -> None:
    """Refuse a document whose DOCTYPE declares entities (billion laughs, XXE).

    Cheap byte scan for the usual encodings; :func:`parse_document` checks the parsed DTD as well,
    which also covers UTF-16 documents and DOCTYPEs that hide ``]>`` in a comment.
    """
    head = _as_scannable(data)
    i = head.find(b"<!DOCTYPE")
    if i < 0:
        return
    end = head.find(b"]>", i)
    if head.find(b"<!ENTITY", i, end if end > 0 else len(head)) >= 0:
        raise ParseError(kind, ENTITY_ERROR, source=source)


def _as_scannable(data: bytes) -> bytes:
    # UTF-16 documents start with a BOM (XML 1.0 §4.3.3); transcode them for the byte scan.
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return data.decode("utf-16", "replace").encode("utf-8", "replace")
    return data


def parse_document(data: bytes, *, kind: str, source: str | None = None, recover: bool = True) -> XmlDocument:
    """Parse untrusted bytes into an :class:`XmlDocument`, or raise :class:`ParseError`.

    With ``recover`` (the default) a not-well-formed document still yields a root when libxml2 can
    make one; callers keep :meth:`XmlDocument.intact` entries and pass the warnings on.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("parse_document takes bytes; decoding is the parser's job")
    data = repair.drop_space_before_declaration(bytes(data))
    if not data or data.isspace():  # isspace stops at the first other byte; strip() would copy it all
        raise ParseError(kind, "the document is empty", source=source)
    check_no_entities(data, kind=kind, source=source)
    warnings: list[str] = []
    encoding, note = _declared_single_byte_over_utf8(data)
    errors: tuple[int, ...] = ()
    cut_short = False
    try:
        root = _strict(data, encoding)
    except etree.XMLSyntaxError as exc:
        failure: etree.XMLSyntaxError | None = exc
        # The common mislabelling: "utf-8" declared (or implied) over Windows-1252 bytes. Checked
        # only after a failure, so well-formed feeds do not pay for a second pass over the bytes.
        fixed, fix_note = _utf8_declared_over_single_byte(data)
        if fixed:
            encoding, note = fixed, fix_note
            try:
                root = _strict(data, encoding)
                failure = None
            except etree.XMLSyntaxError as exc2:
                failure = exc2
        if failure is not None:
            root, errors, first, cut_short = _recover(data, encoding, failure, kind=kind, source=source,
                                                      recover=recover)
            warnings.append(f"document is not well-formed ({first}); kept the entries that parsed intact")
    if note:
        warnings.insert(0, note)
    _check_dtd(root, kind=kind, source=source)
    return XmlDocument(root=root, warnings=tuple(warnings), error_lines=errors, cut_short=cut_short)


def _strict(data: bytes, encoding: str | None) -> etree._Element:
    return etree.fromstring(data, make_parser(encoding=encoding))


def _recover(data: bytes, encoding: str | None, exc: etree.XMLSyntaxError, *, kind: str, source: str | None,
             recover: bool) -> tuple[etree._Element, tuple[int, ...], str, bool]:
    first = _message(exc)
    if not recover:
        raise ParseError(kind, f"not well-formed XML: {first}", source=source) from None
    parser = make_parser(recover=True, encoding=encoding)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        raise ParseError(kind, f"not well-formed XML: {first}", source=source) from None
    log = [e for e in parser.error_log if e.line > 0]
    errors = tuple(sorted({e.line for e in log})) or (exc.lineno or 1,)
    cut_short = bool(log) and all(e.message.startswith("Premature end of data") for e in log)
    return root, errors, first, cut_short


def _check_dtd(root: etree._Element, *, kind: str, source: str | None) -> None:
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError(kind, ENTITY_ERROR, source=source)


def _message(exc: etree.XMLSyntaxError) -> str:
    # lxml's msg already ends in "line L, column C"; str(exc) repeats it with "(<string>, line L)".
    # libxml2's messages may hold a newline (and the document's own bytes): one printable line.
    return " ".join(printable(str(getattr(exc, "msg", None) or exc)).split())


def _declared_encoding(data: bytes) -> str:
    m = _DECL_RE.match(data[:200])
    return m.group(1).decode("ascii").lower() if m else "utf-8"


def _has_bom(data: bytes) -> bool:
    return data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or data[:3] == codecs.BOM_UTF8


def _declared_single_byte_over_utf8(data: bytes) -> tuple[str | None, str | None]:
    """A Latin-1/Windows-1252 label over bytes that are valid UTF-8 with non-ASCII text: read as UTF-8.

    Such bytes parse without error but every accented letter comes out as two mojibake characters.
    """
    declared = _declared_encoding(data)
    if _has_bom(data) or declared not in _SINGLE_BYTE or data.isascii():
        return None, None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None, None
    return "utf-8", f"declared encoding {declared} does not match the bytes; read them as utf-8"


def _utf8_declared_over_single_byte(data: bytes) -> tuple[str | None, str | None]:
    declared = _declared_encoding(data)
    if _has_bom(data) or declared not in ("utf-8", "utf8"):
        return None, None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "windows-1252", f"declared encoding {declared} does not match the bytes; read them as windows-1252"
    return None, None
