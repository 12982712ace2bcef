"""Tell what kind of document some bytes are, before any parser sees them.

``digest ingest --file PATH`` without ``--kind`` and every fetched body go through
:func:`detect_kind`; a parser asked to read the wrong thing (an HTML error page, a PDF, a gzip
archive) gets :func:`reject_non_feed`'s one-line reason instead of a confusing parser error
(issue #2: "A file that cannot be read as a feed exits non-zero with a one-line reason").

Public names: :func:`detect_kind`, :func:`reject_non_feed`, :func:`root_element`, :func:`decode_head`.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

from digest.errors import ParseError
from digest.sources.repair import drop_php_messages

__all__ = ["detect_kind", "reject_non_feed", "root_element", "decode_head", "hf_paper_object"]

HEAD_BYTES = 64 * 1024

#: Leading bytes of gzip data and of a ZIP archive (the compressed forms an arXiv snapshot may come in).
GZIP_MAGIC, ZIP_MAGIC = b"\x1f\x8b", b"PK\x03\x04"
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (GZIP_MAGIC, "gzip-compressed data (decompress it first)"),
    (ZIP_MAGIC, "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"BZh", "bzip2-compressed data (decompress it first)"),
    (b"\xfd7zXZ\x00", "xz-compressed data (decompress it first)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data (decompress it first)"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# What may precede the root element: XML declaration, processing instructions, comments, a DOCTYPE
# (with an internal subset), whitespace.
_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->|<!doctype[^\[>]*(?:\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_ROOT = re.compile(r"<([A-Za-z_][\w:.\-]*)")
_HTML_ROOTS = {"html", "head", "body", "div", "p", "table", "script", "meta", "title", "span", "a", "form", "h1",
               "br", "center", "iframe", "link", "style", "img"}


def decode_head(data: bytes, limit: int = HEAD_BYTES) -> str:
    """The start of ``data`` as text, good enough for sniffing markup (BOM-aware; UTF-16 without a
    BOM recognised by its ``<`` pattern; other bytes read as Latin-1, which never fails)."""
    head = data[:limit]
    for bom, enc in _BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(enc, "replace")
    if head[:4] in (b"<\x00?\x00", b"<\x00\x00\x00") or head[:2] == b"<\x00":
        return head.decode("utf-16-le", "replace")
    if head[:2] == b"\x00<":
        return head.decode("utf-16-be", "replace")
    return head.decode("latin-1")


def _binary_reason(data: bytes, expected: str) -> str | None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return f"this is {what}, not {expected}"
    if any(data.startswith(bom) for bom, _ in _BOMS) or data[:2] in (b"<\x00", b"\x00<"):
        return None
    sample = data[:8192]
    controls = sum(1 for b in sample if b < 0x20 and b not in (9, 10, 13))
    if b"\x00" in sample or controls > len(sample) // 20:
        return f"this is binary data, not {expected}"
    return None


def root_element(text: str) -> str | None:
    """The lower-cased name of the first element after the prolog, or None if there is none."""
    pos = 0
    n = len(text)
    while pos < n:
        m = _PROLOG_ITEM.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
    m2 = _ROOT.match(text, pos)
    return m2.group(1).lower() if m2 else None


def _is_html(text: str, root: str | None) -> bool:
    if re.search(r"<!doctype\s+html", text[:2048], re.IGNORECASE):
        return True
    return root in _HTML_ROOTS


def reject_non_feed(data: bytes, *, kind: str, source: str | None = None, expected: str = "a feed") -> str:
    """Raise ParseError with a one-line reason if ``data`` is empty, binary or an HTML page
    ("this is an HTML page, not {expected}": a login page or a proxy's error page in the way).

    Returns the decoded head so callers can sniff further without decoding twice.
    """
    if not data or data.isspace():  # isspace stops at the first other byte; strip() would copy it all
        raise ParseError(kind, "the document is empty", source=source)
    reason = _binary_reason(data, expected)
    if reason:
        raise ParseError(kind, reason, source=source)
    head = decode_head(data)
    stripped = head.lstrip()
    if stripped.startswith("<"):
        root = root_element(stripped)
        if _is_html(stripped, root):
            raise ParseError(kind, f"this is an HTML page, not {expected}", source=source)
    return head


def detect_kind(data: bytes, filename: str | None = None) -> str:
    """The source kind of a document: one of digest.models.SOURCE_KINDS, or ParseError.

    JSON: an array of objects with "paper" is Hugging Face daily papers; "collection" + "messages"
    is the bioRxiv details API; "notes" is OpenReview; lines of objects with "id" and
    "authors_parsed" are the arXiv metadata snapshot; "version": "https://jsonfeed.org/..." is JSON
    Feed. XML: RSS declaring the arXiv namespace is arXiv RSS, and so is rss.arxiv.org's Atom form;
    Atom with OpenSearch totals from arXiv is the arXiv API; an RDF feed from bioRxiv/medRxiv is
    bioRxiv; any other RSS/RDF/Atom is "rss".
    """
    data = drop_php_messages(data)[0]  # a WordPress feed after a PHP warning is still a feed
    head = reject_non_feed(data, kind="feed", source=filename).lstrip()
    if head.startswith(("{", "[")):
        return _detect_json(data, head, filename)
    if head.startswith("<"):
        return _detect_xml(head, filename)
    raise ParseError("feed", "this is plain text, not a feed (neither XML nor JSON)", source=filename)


def _detect_json(data: bytes, head: str, filename: str | None) -> str:
    first_line = head.split("\n", 1)[0].strip()
    first = _loads(first_line)
    if isinstance(first, dict) and "id" in first and "authors_parsed" in first:
        return "arxiv-snapshot"
    doc = _loads(data)
    if doc is None:
        # Callers may pass only the head of a large file (digest ingest --file reads 64 KB): fall
        # back to the keys each format starts with.
        if isinstance(first, dict) and "\n" in head.strip():
            raise ParseError("feed", "this is JSON Lines, but not the arXiv metadata snapshot", source=filename)
        return _detect_json_prefix(head, filename)
    if isinstance(doc, list):
        if all(isinstance(x, dict) and isinstance(x.get("paper"), dict) for x in doc):
            return "hf-daily"  # includes [] - the API's answer for a day without papers
        if all(hf_paper_object(x) for x in doc):
            return "hf-daily"  # bare paper objects (the papers search, a saved list)
    elif isinstance(doc, dict):
        if hf_paper_object(doc):
            return "hf-daily"  # one paper: https://huggingface.co/api/papers/<arXiv id>
        if "collection" in doc and "messages" in doc:
            return "biorxiv"
        if isinstance(doc.get("notes"), list):
            return "openreview"
        if str(doc.get("version", "")).startswith("https://jsonfeed.org/"):
            return "rss"
    raise ParseError("feed", "this is JSON, but not a feed format digest knows", source=filename)


def hf_paper_object(obj: Any) -> bool:
    """A Hugging Face paper object on its own, not wrapped in a daily entry: id, title, upvotes
    (what ``/api/papers/<arXiv id>`` answers). Shared with digest.sources.hf_daily."""
    return isinstance(obj, dict) and "paper" not in obj and all(k in obj for k in ("id", "title", "upvotes"))


_PREFIX_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r'^\[\s*\{[^\[]*?"paper"\s*:\s*\{', re.DOTALL), "hf-daily"),
    (re.compile(r'^\{.*"collection"\s*:\s*\[', re.DOTALL), "biorxiv"),
    (re.compile(r'^\{.*"notes"\s*:\s*\[', re.DOTALL), "openreview"),
    # PHP's json_encode escapes slashes: "https:\/\/jsonfeed.org\/version\/1.1".
    (re.compile(r'^\{.*"version"\s*:\s*"https:\\?/\\?/jsonfeed\.org\\?/', re.DOTALL), "rss"),
)


def _detect_json_prefix(head: str, filename: str | None) -> str:
    for pattern, kind in _PREFIX_KINDS:
        if pattern.search(head):
            if kind == "biorxiv" and '"messages"' not in head:
                continue
            return kind
    raise ParseError("feed", "this is not valid JSON", source=filename)


def _loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


_ARXIV_NS_DECLARED = re.compile(r"""\bxmlns(?::[\w.-]+)?\s*=\s*["']https?://arxiv\.org/schemas/atom/?["']""")
_OPENSEARCH_DECLARED = re.compile(r"""\bxmlns(?::[\w.-]+)?\s*=\s*["']https?://a9\.com/-/spec/opensearch/1\.1/?["']""")
_ARXIV_ANNOUNCE_SELF = re.compile(r"""<id>\s*https?://rss\.arxiv\.org/atom/|<link\b[^>]*\bhref\s*=\s*["']https?://"""
                                  r"""rss\.arxiv\.org/atom/""")
_ARXIV_API_SELF = re.compile(r"""<id>\s*https?://(?:export\.)?arxiv\.org/api/|<link\b[^>]*\bhref\s*=\s*["']https?://"""
                             r"""(?:export\.)?arxiv\.org/api/""")


def _detect_xml(head: str, filename: str | None) -> str:
    root = root_element(head)
    if root is None:
        raise ParseError("feed", "this is not a feed: no XML root element found", source=filename)
    local = root.rsplit(":", 1)[-1]
    low = head.lower()
    if local == "rss":
        # By the namespace declared, not the prefix (a feed may bind arXiv's namespace to any prefix)
        # nor the text: a blog post may well write about arXiv's namespace.
        return "arxiv-rss" if _ARXIV_NS_DECLARED.search(low) else "rss"
    if local == "feed":
        # The API declares OpenSearch 1.1 and arXiv's namespace (its 2016 answers on the elements
        # that use them), and names itself in its <id> or self link; Blogger declares OpenSearch too.
        if _OPENSEARCH_DECLARED.search(low) and (_ARXIV_NS_DECLARED.search(low) or _ARXIV_API_SELF.search(low)):
            return "arxiv-atom"
        # rss.arxiv.org's announcements as Atom (rss.arxiv.org/atom/cs.LG): the same feed as its RSS.
        if _ARXIV_NS_DECLARED.search(low) and (_ARXIV_ANNOUNCE_SELF.search(low) or "announce_type>" in low):
            return "arxiv-rss"
        return "rss"
    if local == "rdf":
        channel = re.search(r"<channel[^>]*about=[\"']([^\"']*)", low)
        if channel and re.search(r"(?:bio|med)rxiv\.org", channel.group(1)):
            return "biorxiv"
        return "rss"
    raise ParseError("feed", f"this is XML, but not a feed (root element <{root}>)", source=filename)
