"""The one sanitizer for outside HTML (issue #4: "Feed content is untrusted").

Every string that came from a feed and is shown as markup, stored as text, put in a link or in a mail
header passes through one of these five functions; nothing else in digest strips or allows HTML.

- :func:`to_text` — markup to plain text (what sources store as abstracts and titles).
- :func:`safe_html` — the tiny allow-list of inline markup we are willing to re-emit.
- :func:`safe_url` — http(s) links only, percent-encoded where RFC 3986 requires.
- :func:`header_safe` — a value that cannot break out of an email header line.
- :func:`display_text` — stored text as the renderers print it: characters XML 1.0 forbids dropped,
  bidirectional overrides closed at the end of the value.

HTML is parsed by nh3 (ammonia on html5ever, the WHATWG parsing algorithm browsers use), so what we
judge safe is what a browser would see: obfuscations such as ``<scr<script>ipt>``, ``java&#x09;script:``
or unclosed tags are resolved by the same rules a mail client or browser applies.

Public names: :func:`to_text`, :func:`safe_html`, :func:`safe_url`, :func:`header_safe`,
:func:`display_text`, :func:`display_line`, :data:`XML_INVALID`.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

import nh3

from digest.formulas import formulas_as_text
from digest.text import collapse_ws

__all__ = ["to_text", "safe_html", "safe_url", "header_safe", "display_text", "display_line", "XML_INVALID"]

# Elements whose content is never text a reader should see; a figure's caption ("Photo by A on
# Unsplash" at the top of a blog post) is no part of a paper's abstract either.
_DROP_CONTENT = {"script", "style", "template", "noscript", "iframe", "object", "embed", "noembed",
                 "noframes", "head", "title", "textarea", "select", "frameset", "xmp", "plaintext", "figcaption"}
# Block-level boundaries become line breaks in plain text; everything else is unwrapped.
_BLOCKS = {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
           "tr", "table", "dt", "dd", "dl", "section", "article", "hr", "figure",
           "st"}  # a JATS section title (HighWire: <sec><st>Abstract</st>...)
_BLOCK_TAG_RE = re.compile(r"</?[a-z0-9]+\s*/?>")
_JATS_SEC = re.compile(r"<(/?)sec(?=[\s/>])", re.IGNORECASE)
# After unescaping, text that still holds markup was escaped twice ("&lt;p&gt;" in an RSS
# <description>, a common feed bug): such text is run through the parser once more.
_KNOWN_TAGS = _BLOCKS | _DROP_CONTENT | {
    "a", "b", "i", "em", "strong", "sub", "sup", "code", "span", "font", "img", "body", "html", "svg", "math",
    "u", "s", "small", "big", "tt", "var", "mark", "abbr", "cite", "q", "kbd", "samp", "link", "meta", "base",
    "form", "input", "button", "video", "audio", "source", "frame", "applet", "image", "picture", "caption",
    "td", "th", "thead", "tbody", "main", "nav", "header", "footer", "aside", "details", "summary", "label",
    # JATS inline elements, which IEEE, HighWire and Crossref abstracts carry as they are
    "italic", "bold", "sc", "monospace", "underline", "roman", "sans-serif", "overline", "strike", "ext-link",
    "named-content", "styled-content", "xref", "list", "list-item", "sec"}
# Table cells are unwrapped like other inline elements, but their contents are separate values
# ("1", "2141", "0.04"), not one word: a space goes before each cell's tags.
_CELL_TAG = re.compile(r"<(?=/?t[dh][\s/>])", re.IGNORECASE)
# When "<" and a known element's name are a tag. The one-letter elements (a, b, i, p, q, s, u) are
# also variables: "if x<a and y>b", "0<b and c>1" and "n<i and j>k" are mathematics, so those are
# tags only in a tag's shape, with nothing after the name or with an attribute that has a value
# (after a space or, as browsers read it, a "/": <a/href=x>). Other elements are tags with anything
# after their name (<td nowrap>, <script defer>), as HTML parses them. Quoted values may hold "<"
# and ">" (title="p<0.05").
_DROP_NAMES = "|".join(sorted(_DROP_CONTENT, key=len, reverse=True))
_MATH_NAMES = "|".join(sorted(t for t in _KNOWN_TAGS - _DROP_CONTENT if len(t) == 1))
_OTHER_NAMES = "|".join(re.escape(t) for t in sorted(_KNOWN_TAGS - _DROP_CONTENT, key=len, reverse=True) if len(t) > 1)
_ATTRS = r"""(?:"[^"]*"|'[^']*'|[^<>"'])"""
_TAG_SHAPE = (rf"(?:/?(?:{_DROP_NAMES}|{_OTHER_NAMES})(?:[\s/]{_ATTRS}*)?"
              rf"|/?(?:{_MATH_NAMES})(?:[\s/]*|[\s/]{_ATTRS}*={_ATTRS}*))>")
_KNOWN_TAG_RE = re.compile(rf"<{_TAG_SHAPE}", re.IGNORECASE)
# A "<" that does not open a known element, a namespaced one (Crossref's <jats:p>) or a comment is
# text: abstracts are full of "n<k", which an HTML parser would read as a tag and swallow. An opener
# needs no closing ">" once an attribute has a value (a cut-off tag is still a tag: the parser drops it).
_TAG_OPEN = (rf"/?(?:{_DROP_NAMES}|{_OTHER_NAMES})(?:[\s/>]|$)"
             rf"|/?(?:{_MATH_NAMES})(?:[\s/]*(?:>|$)|[\s/][^<>]*=)")
_STRAY_LT = re.compile(rf"<(?!{_TAG_OPEN}|/?[A-Za-z][\w.-]*:[A-Za-z]|!--)", re.IGNORECASE)

_INLINE_TAGS = {"p", "br", "em", "strong", "i", "b", "sub", "sup", "code", "a"}
_URL_SCHEMES_HTML = {"http", "https", "mailto"}
# C0/C1 controls, DEL and the invisible format characters browsers strip from URLs before parsing.
# Lone surrogates and U+FFFE/FFFF cannot be encoded (UTF-8) or carried (XML 1.0 §2.2) at all.
_URL_BAD_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufffe\uffff"
                            r"\ud800-\udfff]")
# ASCII characters RFC 3986 §2 (and RFC 3987 §2.2 for IRIs, the type of Atom's href) never allows
# literally in a URI. Browsers percent-encode most of them themselves (WHATWG URL, "percent-encode
# sets"); we encode all of them so that Atom links are valid IRIs and no quote or angle bracket
# ends a link in a plain-text mail client. "\\" is rejected instead (browsers read it as "/").
_URL_ENCODE_CHARS = re.compile(r'["<>^`{|}]')
_HEADER_BREAKS = re.compile(r"[\r\n\x00\x0b\x0c\x85\u2028\u2029]+")
_WS = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
#: What XML 1.0 §2.2 (Char) cannot carry: C0 controls but tab, LF and CR; U+FFFE, U+FFFF; surrogates
#: (a lone one, all a Python str can hold, cannot be encoded as UTF-8 either).
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Explicit bidirectional formatting characters (UAX #9 §2: LRE RLE PDF LRO RLO, LRI RLI FSI PDI) and
# paragraph separators (bidi class B), which end every embedding (UAX #9 §3.3.1, P1).
_BIDI_EMBED, _BIDI_ISOLATE, _PDF, _PDI = "\u202a\u202b\u202d\u202e", "\u2066\u2067\u2068", "\u202c", "\u2069"
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_BIDI_TOKENS = re.compile("[\u202a-\u202e\u2066-\u2069\n\r\x1c-\x1e\x85\u2029]")
# UAX #9 BD2 max_depth is 125; a value opening more is hostile: its controls are dropped instead.
_BIDI_MAX = 60
_DISPLAY_SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff\u202a-\u202e\u2066-\u2069]")

_text_cleaner = nh3.Cleaner(tags=_BLOCKS, clean_content_tags=_DROP_CONTENT, attributes={"*": set()}, link_rel=None,
                            strip_comments=True)
_html_cleaner = nh3.Cleaner(
    tags=_INLINE_TAGS,
    clean_content_tags=_DROP_CONTENT,
    # "*": nothing - ammonia otherwise allows lang/title on every element.
    attributes={"a": {"href"}, "*": set()},
    url_schemes=_URL_SCHEMES_HTML,
    # Relative links would resolve against *our* site (web pages, feeds): drop them.
    url_relative="deny",
    link_rel="nofollow noopener",
    strip_comments=True,
)


def to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment: entities decoded, scripts/styles dropped, tags removed.

    Block boundaries (paragraphs, line breaks, list items) become single newlines; other whitespace is
    collapsed. Plain text input comes back with its whitespace collapsed.
    """
    if not markup:
        return ""
    text = _extract(markup)
    if "<" in text and _KNOWN_TAG_RE.search(text):
        text = _extract(text)
    # A third level of escaping would be data, but it must still not read as markup.
    while _KNOWN_TAG_RE.search(text):
        text = _KNOWN_TAG_RE.sub(" ", text)
        text = "\n".join(_collapse(line) for line in text.split("\n"))
    return text.strip()


def _extract(markup: str) -> str:
    # The HTML parser files <math> content under the MathML namespace, which the cleaner drops whole.
    markup = _STRAY_LT.sub("&lt;", formulas_as_text(_strip_controls(markup), drop=_DROP_CONTENT))
    if "<sec" in markup or "</sec" in markup:
        # JATS's section, as HTML's (the cleaner drops an unknown <sec> with its content).
        markup = _JATS_SEC.sub(r"<\1section", markup)
    cleaned = _text_cleaner.clean(_CELL_TAG.sub(" <", markup) if "<t" in markup or "<T" in markup else markup)
    lines = (_collapse(html.unescape(chunk)) for chunk in _BLOCK_TAG_RE.split(cleaned))
    return "\n".join(line for line in lines if line)


def _collapse(text: str) -> str:
    return _WS.sub(" ", text.replace("\r", " ").replace("\n", " ").replace("\t", " ")).strip()


def _strip_controls(text: str) -> str:
    # C0 controls other than tab/newline and lone surrogates cannot be stored in XML or email.
    return "".join(c for c in text if c in "\t\n\r" or (unicodedata.category(c) not in ("Cc", "Cs")))


def safe_html(markup: str | None) -> str:
    """Markup reduced to p, br, em, strong, i, b, sub, sup, code and a[href] (http/https/mailto).

    Links get ``rel="nofollow noopener"``; every other element is unwrapped (its text kept),
    script/style content is dropped, and so are all other attributes (event handlers, style, src).
    """
    if not markup:
        return ""
    return _html_cleaner.clean(_strip_controls(markup))


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host and no control characters, else None.

    Leading/trailing whitespace is trimmed (feeds pad links); inner whitespace or controls reject the
    URL instead of being "fixed", since browsers and mail clients disagree on how to repair them.
    ``" < > ^ ` { | }``, which RFC 3986 §2 never allows literally, are percent-encoded (as browsers
    do, WHATWG URL §1.3), so the result is a valid URI/IRI (RFC 3987 §2.2) in any output.
    """
    if not url:
        return None
    url = url.strip()
    if not url or _URL_BAD_CHARS.search(url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if _URL_ENCODE_CHARS.search(url):
        url = _URL_ENCODE_CHARS.sub(lambda m: f"%{ord(m.group()):02X}", url)
    return url


def display_text(value: str) -> str:
    """``value`` ready to print in an email or a feed: characters XML 1.0 forbids dropped
    (:data:`XML_INVALID`) and every bidi embedding, override or isolate it leaves open closed at its end.

    An unclosed RIGHT-TO-LEFT OVERRIDE (U+202E) in a title or author name would otherwise reverse
    what we print after it on the same line ("Trojan Source", CVE-2021-42574): closing it keeps its
    effect inside the value (UAX #9 §2.4-2.5, X6a-X7). Plain values cost one regex scan.
    """
    # isprintable() is False for every character we act on (Cc, Cf, Cs, Cn) and is ~3x faster than
    # the regex; text with line breaks or non-ASCII spaces falls through to it.
    if value.isprintable() or not _DISPLAY_SUSPECT.search(value):
        return value
    value = XML_INVALID.sub("", value)
    return _close_bidi(value) if _BIDI_CONTROLS.search(value) else value


def display_line(value: str) -> str:
    """:func:`display_text` on one line: whitespace collapsed, so a feed's line breaks can never start a
    line of their own where we print the value (a forged "Unsubscribe:" line in a text email)."""
    # Printable means no control, format (bidi), surrogate or unassigned character and no whitespace
    # but the ASCII space (str.isprintable): such text only needs its spaces checked.
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value
    return display_text(collapse_ws(value))


def _close_bidi(text: str) -> str:
    """``text`` with PDF/PDI appended for each embedding/isolate still open at its end (UAX #9 X1-X8,
    run per paragraph; a closer with no opener is ignored by the algorithm, so it is left alone)."""
    if len(_BIDI_CONTROLS.findall(text)) > _BIDI_MAX:
        return _BIDI_CONTROLS.sub("", text)
    open_: list[str] = []  # the closer each open initiator needs, innermost last
    for c in _BIDI_TOKENS.findall(text):
        if c in _BIDI_EMBED:
            open_.append(_PDF)
        elif c in _BIDI_ISOLATE:
            open_.append(_PDI)
        elif c == _PDF:
            if open_ and open_[-1] == _PDF:  # X7: a PDF never closes past an isolate
                open_.pop()
        elif c == _PDI:
            if _PDI in open_:  # X6a: a PDI closes its isolate and everything opened inside it
                while open_.pop() != _PDI:
                    pass
        else:  # paragraph separator: P1, every paragraph starts afresh
            open_.clear()
    return text + "".join(reversed(open_))


def header_safe(value: str | None) -> str:
    """A value for an email header: line breaks and NULs become spaces, whitespace is collapsed.

    CR/LF in a header value would let a feed title start a new header (RFC 5322 §2.2 header
    injection); other Unicode line separators are folded too because some clients treat them as
    breaks. Lone surrogates and U+FFFE/FFFF, which cannot be encoded as UTF-8 (RFC 2047, RFC 6532),
    are dropped.
    """
    if not value:
        return ""
    value = _HEADER_BREAKS.sub(" ", value)
    value = "".join(c if unicodedata.category(c) != "Cc" or c == "\t" else " " for c in value)
    value = XML_INVALID.sub("", value)
    return _WS.sub(" ", value.replace("\t", " ")).strip()
