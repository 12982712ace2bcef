"""A digest as an email: subject, HTML part and plain-text part (issue #4, "Email").

The HTML template (``templates/email/digest.html``) is written with classes and a ``<style>``
block; css-inline turns the classes into ``style`` attributes *once*, on the template source, when
it is first loaded: inlining each rendered message would cost several milliseconds, the delivery
benchmark allows ~1 ms per message. For that to work the template follows two rules, checked at
load time by :func:`_inline_template`:

- Jinja statements that sit between table rows are wrapped in HTML comments
  (``<!--{% for %}-->``): bare text there would be moved out of the table by the HTML5 parser
  ("foster parenting"); comments stay where they are. Tables spell out ``<tbody>`` for the same
  reason.
- Jinja expressions contain no ``"``, ``&``, ``<`` or ``>``, which the HTML serializer would escape.
- An element is opened and closed in the same branch of an ``{% if %}``: the parser would "repair"
  one opened in one branch and closed in another.

Rules that cannot be inlined (dark mode, narrow screens) live in ``<style data-css-inline="keep">``.
After inlining, the paper block's ``style`` attributes are minified and the classes no kept rule
selects are dropped (:func:`_drop_unused_classes`); cards set the text size and colour their
paragraphs inherit, and links are coloured by descendant rules, so the inlined styles stay short.
Each rendered card then has its whitespace re-chosen (:func:`_fold`): two or three lines of up to
~960 octets instead of dozens, which lets the message go as 8bit (RFC 5322 §2.1.1 allows 998,
:mod:`digest.render.message`) with few lines, the thing a receiving SMTP server spends its time on.
The skeleton loses blank lines and joins lines between tags. Every byte and line is sent and parsed
10,000 times a run.

Everything that came from a feed is escaped by jinja's autoescape; URLs go through
:func:`digest.sanitize.safe_url`, so a ``javascript:`` link is dropped, never rendered. Feed text
goes through :func:`digest.sanitize.display_text` (no character UTF-8 or XML cannot carry, no
right-to-left override left open past its value), and in the text part it is one line per value: a
line break in a title must not start a line of its own (a forged "Unsubscribe:" or signature).
Summaries and matched terms show their TeX as text, as titles are stored (:func:`digest.text.strip_tex`).

"N more" (the papers dropped to fit, and those past the digest's cap) links to the digest's web page,
which lists every paper the digest selected (:mod:`digest.web.digest_page`), at the first one the
email had no room for (``#more``).

Public names: :class:`RenderedEmail`, :func:`render_email`, :func:`subject_for`, :func:`digest_day`,
:func:`item_view`, :class:`ItemView`, :data:`HTML_BUDGET`, :data:`MORE_ANCHOR`.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Any

import css_inline
import jinja2
from markupsafe import Markup

from digest.config import Settings
from digest.digests.select import is_trending
from digest.match.score import highlight
from digest.models import Digest, DigestItem, DigestSection, Paper, Reason
from digest.render.feeds import UNTITLED, clip as _clip, via_line, word_prefix as _word_prefix
from digest.render.reasons import clauses, reason_terms, spans_by_field
from digest.resources import templates_dir
from digest.sanitize import XML_INVALID, display_line, display_text, safe_url
from digest.text import strip_tex
from digest import tokens

__all__ = ["RenderedEmail", "RenderCache", "render_email", "subject_for", "digest_day", "item_view", "ItemView",
           "HTML_BUDGET", "MAX_AUTHORS", "MORE_ANCHOR"]

#: Gmail clips messages whose HTML exceeds ~102 KB ("[Message clipped]"), hiding the footer with the
#: unsubscribe link. Stay safely below it, measured in UTF-8 bytes of the decoded HTML.
HTML_BUDGET = 100_000
#: Where on the digest's web page "N more" lands: the papers the email had no room for.
MORE_ANCHOR = "more"
#: Authors shown before "… and N more".
MAX_AUTHORS = 6
_SUMMARY_CHARS = 320
# Longest title, author name and "why" name or term shown: real ones are far shorter, and one paper
# with a 100 KB title must not make the HTML budget push every other paper out of the message.
_TITLE_CHARS = 400
_NAME_CHARS = 120
#: A subscription name in the subject longer than this is cut at a word.
_SUBJECT_NAME_CHARS = 40
#: Where a sentence may end: ".", "!" or "?" and a space before a capital, a digit, "(" or a quote.
#: Not inside a number ("92.0%"), which has no space; an abbreviation is ruled out by _NOT_AN_END.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
#: The last word before such a space when it is an abbreviation, not a sentence's end: "(et) al.",
#: "e.g.", "i.e.", "cf.", "vs.", "Fig. 2", "Eqs.", "Sec.", "Ref.", "No. 5", "approx.", "resp.", or an
#: initial ("A. Smith", "J.-P. Serre", "U.S."). A sentence that really ends with one of them ("... by
#: Smith et al. We") is joined to the next: a summary one sentence shorter beats one that stops in
#: the middle of a sentence. "no." in lower case ends sentences, so does "$X$." (a variable).
_NOT_AN_END = re.compile(r"[(\[\"']*(?:al|e\.g|i\.e|cf|vs|[Ff]igs?|[Ee]qs?|Sec|Refs?|No|approx|resp|"
                         r"(?:[A-Z]\.-?)*[A-Z])\.")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: TeX that is converted as a whole: $math$ (or $$display$$, \(inline\)) and a braced group with the
#: command or script mark before it (\emph{word}, x^{p,q}). A highlight that starts or ends inside one is widened to it, so
#: that each piece converts as the whole text would. Any "$" pair counts: where strip_tex reads
#: prices rather than math ("$10 to $100"), a highlight is only wider than it needed to be.
_TEX_UNIT = re.compile(r"\$\$[^$]+\$\$|\$[^$]+\$|\\\(.*?\\\)|(?:\\[A-Za-z]+\s*|[\^_])?\{[^{}]*\}")
_JINJA_TOKEN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
# Paper blocks are rendered once per run (RenderCache) with this in place of the user's feedback
# token, then it is replaced per message. Random per process so no feed text can contain it.
_FEEDBACK_PLACEHOLDER = "fbtok" + secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    #: RFC 2369/8058 targets for List-Unsubscribe, built with the same token as the footer link.
    unsubscribe_https: str = ""
    unsubscribe_mailto: str = ""
    #: Papers shown in the message, in order; the rest are counted in ``more_count``.
    paper_ids: tuple[str, ...] = ()
    more_count: int = 0


# --- templates -----------------------------------------------------------------------------------


_STYLE_ATTR = re.compile(r'style="([^"]*)"')
_CLASS_ATTR = re.compile(r' class="([^"]*)"')
_KEPT_STYLE = re.compile(r'<style data-css-inline="keep">(.*?)</style>', re.S)
_CSS_CLASS = re.compile(r"\.([A-Za-z][\w-]*)")
_SHORT_HEX = re.compile(r"#([0-9a-fA-F])\1([0-9a-fA-F])\2([0-9a-fA-F])\3\b")
#: Longest line of a rendered paper card, in UTF-8 bytes: RFC 5322 §2.1.1 allows 998 in an 8bit
#: body, less what the skeleton writes before a card's first line. Each feedback-token placeholder
#: counts as :data:`_TOKEN_ROOM` bytes, more than any real token takes.
#: :func:`digest.render.message.build_message` checks the final lines anyway.
_LINE_BYTES = 960
_TOKEN_ROOM = 120


def _minify_style(m: re.Match[str]) -> str:
    """``style="a: b;c: d;"`` as ``style="a:b;c:d"``, ``#ffffff`` as ``#fff``: inlined styles are
    repeated on every element of every paper, and each byte is sent and parsed 10,000 times a run."""
    decls = (d.split(":", 1) for d in m.group(1).split(";") if ":" in d)
    css = ";".join(f"{k.strip()}:{' '.join(v.split())}" for k, v in decls)
    return 'style="' + _SHORT_HEX.sub(r"#\1\2\3", css) + '"'


_STYLE_BLOCK = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
_COMMENT_BREAK = re.compile(r"%\}-->\n+(?=<!--\{)")
_JINJA_EXPR = re.compile(r"\{\{.*?\}\}")


def _squeeze_skeleton(html: str) -> str:
    """Fewer lines around the paper blocks (a receiving SMTP server pays per line): the kept
    ``<style>`` on a few lines, no blank lines, Jinja-comment lines joined. Lines stay short."""
    def css(m: re.Match[str]) -> str:
        *rules, rest = re.sub(r"\s+", " ", m.group(2)).split("}")
        lines, line = [], ""
        for rule in rules:
            if line and len(line) + len(rule) > 400:
                lines.append(line)
                line = ""
            line += rule.strip() + "}"
        return m.group(1) + "\n".join([*lines, line + rest.strip()]) + m.group(3)
    html = _STYLE_BLOCK.sub(css, html)
    html = re.sub(r"\n\s*\n", "\n", html)
    html = _COMMENT_BREAK.sub("%}-->", html)
    # Join lines that end with a tag and go on with one, up to a few hundred characters (a Jinja
    # expression counting as 200): every such break in the skeleton is between head, table, block
    # or comment nodes, where a line break renders as nothing.
    lines = html.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        joined = out[-1] + line
        width = len(_JINJA_EXPR.sub("", joined)) + 200 * len(_JINJA_EXPR.findall(joined))
        if out[-1].endswith(">") and line.startswith("<") and width <= 700:
            out[-1] = joined
        else:
            out.append(line)
    return "\n".join(out)


def _strip_lines(text: str) -> str:
    """A text card with every line break as "\\n" and no trailing blanks on its lines: done once per
    card and run, rather than on every line of every message."""
    out = "\n".join(line.rstrip() for line in text.splitlines())
    return out + "\n" if text[-1:].splitlines() == [""] else out


def _drop_unused_classes(html: str, kept_css: str) -> str:
    """Keep only the classes a kept ``<style>`` rule selects: the others did their work when their
    rules were inlined, and each is repeated on every element of every card."""
    used = set(_CSS_CLASS.findall(kept_css))

    def keep(m: re.Match[str]) -> str:
        names = [c for c in m.group(1).split() if c in used]
        return f' class="{" ".join(names)}"' if names else ""
    return _CLASS_ATTR.sub(keep, html)


# The words of rendered HTML: runs of anything but HTML whitespace (ASCII only: U+00A0 does not
# collapse), where a quoted attribute value counts as one piece whatever it holds; a lone quote too.
_FOLD_WORD = re.compile(r'(?:"[^"]*"|[^ \t\n\r\f"]+|")+')


def _fold(html: str, limit: int = _LINE_BYTES, placeholder: str = "", room: int = 0) -> str:
    """``html`` with each run of whitespace outside attribute values turned into one space or one
    line break, lines filled up to ``limit`` UTF-8 bytes (a ``placeholder`` counts as ``room``).

    Outside ``<pre>`` (which cards do not use) a browser renders any run of HTML whitespace as one
    space, so this changes no rendering, only where the lines end: a card becomes two or three long
    lines instead of dozens, and a receiving SMTP server pays per line. A word longer than ``limit``
    stays whole on its own line (the message builder then picks quoted-printable).
    """
    extra = room - len(placeholder)
    lines: list[str] = []
    line: list[str] = []
    size = -1  # the first word of a line has no space before it
    for word in _FOLD_WORD.findall(html):
        weight = len(word.encode()) + 1
        if placeholder and placeholder in word:
            weight += word.count(placeholder) * extra
        if line and size + weight > limit:
            lines.append(" ".join(line))
            line, size = [], -1
        line.append(word)
        size += weight
    if line:
        lines.append(" ".join(line))
    return "\n".join(lines)


def _inline_template(source: str) -> str:
    """css-inline the template source; refuse if the serializer changed any jinja token."""
    inlined = str(css_inline.CSSInliner(keep_style_tags=False).inline(source))
    if _JINJA_TOKEN.findall(inlined) != _JINJA_TOKEN.findall(source):
        raise RuntimeError("email template: css-inline altered a jinja tag (see digest.render.email)")
    return inlined


def _split(source: str, start: str, end: str, name: str) -> tuple[str, str]:
    """Cut the per-paper block (between the markers) out of a template: (skeleton, block)."""
    try:
        head, rest = source.split(start, 1)
        block, tail = rest.split(end, 1)
    except ValueError:
        raise RuntimeError(f"{name}: the paper block markers {start} ... {end} are missing") from None
    return f"{head}{{{{ item }}}}{tail}", block


@dataclass(frozen=True, slots=True)
class _Templates:
    html: jinja2.Template
    html_paper: jinja2.Template
    text: jinja2.Template
    text_paper: jinja2.Template


@lru_cache(maxsize=1)
def _templates() -> _Templates:
    """Load, inline and split both templates once per process."""
    loader = jinja2.FileSystemLoader(templates_dir())
    options: dict[str, Any] = {"trim_blocks": True, "lstrip_blocks": True, "undefined": jinja2.StrictUndefined}
    html_env = jinja2.Environment(loader=loader, autoescape=True, **options)
    # text/plain is not markup: HTML-escaping it would show "&amp;" to the reader.
    text_env = jinja2.Environment(loader=loader, autoescape=False, **options)  # noqa: S701
    html_src, _, _ = loader.get_source(html_env, "email/digest.html")
    text_src, _, _ = loader.get_source(text_env, "email/digest.txt")
    html, html_paper = _split(_inline_template(html_src), "<!--paper-->", "<!--/paper-->", "email/digest.html")
    text, text_paper = _split(text_src, "{#paper#}", "{#/paper#}", "email/digest.txt")
    html = _squeeze_skeleton(html)
    # The paper block is repeated 20 times a message: minify its styles and drop the classes no kept
    # rule needs (the skeleton stays readable).
    kept_css = "".join(_KEPT_STYLE.findall(html))
    html_paper = _drop_unused_classes(_STYLE_ATTR.sub(_minify_style, html_paper), kept_css)
    return _Templates(html_env.from_string(html), html_env.from_string(html_paper),
                      text_env.from_string(text), text_env.from_string(text_paper))


class RenderCache:
    """Rendered paper blocks shared by the digests of one send run.

    Users with the same topics get the same paper blocks; rendering each once per run is what
    keeps a 10,000-user run fast. The key holds everything a block shows (paper id and ingest
    sequence, the reasons' names and matched spans, trending/updated, the user tag its feedback
    links teach) except the user's feedback token, which is a placeholder replaced per message.
    Make one per run: within a run a paper's content for a given sequence number does not change.
    """

    def __init__(self, maxsize: int = 20_000) -> None:
        self.maxsize = maxsize
        self._blocks: dict[tuple[Any, ...], tuple[Markup, str]] = {}
        self.hits = self.misses = 0

    def get(self, key: tuple[Any, ...]) -> tuple[Markup, str] | None:
        found = self._blocks.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: tuple[Any, ...], blocks: tuple[Markup, str]) -> None:
        if len(self._blocks) >= self.maxsize:
            self._blocks.clear()
        self._blocks[key] = blocks


# --- view model ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class _Why:
    subscription: str
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ItemView:
    """One paper's card as the email shows it, every value cleaned for display (URLs through
    safe_url, text through display_text) and escaped by the template that renders it: the
    digest's web page (:mod:`digest.web.digest_page`) shows the same cards."""

    title: tuple[tuple[str, bool], ...]
    title_text: str
    url: str | None
    authors: str
    via: str
    summary_label: str
    summary: tuple[tuple[str, bool], ...]
    summary_text: str
    links: tuple[_Link, ...]
    why: tuple[_Why, ...]
    trending: bool
    updated: bool
    version: int | None
    feedback: tuple[_Link, ...]


def _tex_widened(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` each widened to cover the TeX units (:data:`_TEX_UNIT`) it starts or ends inside:
    a highlight on "vivo" in ``\\emph{in vivo}`` covers the whole command, so that no piece holds
    half of one ("\\emph{in"), which would convert to debris."""
    units = [(m.start(), m.end()) for m in _TEX_UNIT.finditer(text)]
    if not units:
        return spans
    wide = []
    for start, end in spans:
        for u_start, u_end in units:
            if u_start < start < u_end:
                start = u_start
            if u_start < end < u_end:
                end = u_end
        wide.append((start, end))
    return wide


def _field(text: str, spans: list[tuple[int, int]], *, cut: bool = False,
           tex: bool = False) -> tuple[tuple[tuple[str, bool], ...], str]:
    """``text`` as (piece, highlighted) runs for the HTML part, split by the matcher's own
    highlighter, and as one line for the text part: the same characters, cleaned by
    :func:`display_text`. ``cut``: ``text`` is the start of a longer value, and " …" follows it
    (never highlighted: spans are clamped to ``text``). ``tex``: TeX is shown as text, the way
    titles are stored (:func:`digest.text.strip_tex`: accents resolved, ``$\\alpha$`` as α).

    The spans index the stored text, so a text that needs converting or cleaning is converted piece
    by piece, after the split: the highlights stay on the words matched. The usual text needs
    neither: two checks, then no per-piece work.
    """
    convert = tex and ("\\" in text or "$" in text or "{" in text)
    pieces = highlight(text, _tex_widened(text, spans) if convert and spans else spans)
    if convert:
        pieces = [(strip_tex(piece), hit) for piece, hit in pieces]
    if convert or not text.isprintable():
        pieces = [(display_text(piece), hit) for piece, hit in pieces]
    if cut:
        pieces.append((" …", False))
    return tuple(pieces), display_line("".join(piece for piece, _ in pieces))


def _ends_sentence(text: str, end: int) -> bool:
    """Whether the sentence punctuation just before ``end`` ends a sentence (not "et al.", "Fig.")."""
    last = text[max(0, end - 16):end].rsplit(None, 1)[-1]
    return not _NOT_AN_END.fullmatch(last)


def _first_sentences(text: str, limit: int = _SUMMARY_CHARS) -> tuple[str, bool]:
    """The start of ``text`` that the card shows: whole sentences up to ``limit`` characters (a
    sentence ends at :data:`_SENTENCE_END` unless an abbreviation stands there, :data:`_NOT_AN_END`),
    or a long first sentence cut at a word; and whether it was cut (then " …" follows it).

    Always a prefix of ``text``, so the matcher's spans still index it."""
    if len(text) <= limit:
        return text, False
    end = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > limit:
            break
        if _ends_sentence(text, m.start()):
            end = m.start()
    if end:
        return text[:end], False
    return _word_prefix(text, limit), True


def _authors_line(authors: tuple[str, ...]) -> str:
    """The shown names on one line, each cleaned on its own (a name's right-to-left override ends
    with it); the usual list needs no cleaning, which one check of the joined line tells."""
    long = len(authors) > MAX_AUTHORS + 2  # "… and 1 more" would hide less than it costs
    shown = authors[:MAX_AUTHORS] if long else authors
    names = ", ".join(shown)
    if not names.isprintable() or "  " in names or "" in shown or len(names) > len(shown) * _NAME_CHARS:
        names = ", ".join(name for name in (display_line(_clip(a, _NAME_CHARS)) for a in shown) if name)
    return f"{names} … and {len(authors) - MAX_AUTHORS} more" if long else names


def _why(paper: Paper, reasons: tuple[Reason, ...]) -> tuple[_Why, ...]:
    return tuple(_Why(display_line(_clip(r.subscription, _NAME_CHARS)), tuple(_clip(t, _NAME_CHARS) for t in reason_terms(paper, r)))
                 for r in reasons)


def _profile_tag(item: DigestItem) -> str | None:
    """The user tag that recommended the paper (digest.match.profile), whose feedback links teach it;
    a user's own private name, so part of the render cache key (:func:`_block_key`)."""
    tag = next((r.explanation.get("tag") for r in item.reasons if r.explanation.get("kind") == "profile"), None)
    return tag if isinstance(tag, str) else None


def item_view(item: DigestItem, settings: Settings, feedback_token: str) -> ItemView:
    """The card of ``item``, its feedback links carrying ``feedback_token`` (the digest's)."""
    paper = item.paper
    spans = spans_by_field(paper, item.reasons)
    label, field = ("tl;dr", "tldr") if paper.tldr else ("", "abstract")
    text, cut = _first_sentences(paper.tldr or paper.abstract)
    links = [
        _Link(label, url) for label, url in (
            ("Abstract", safe_url(paper.abs_url) if paper.abs_url else None),
            ("PDF", safe_url(paper.pdf_url) if paper.pdf_url else None),
            ("Code", safe_url(paper.code_url) if paper.code_url else None),
            ("OpenReview", paper.openreview_url),
        ) if url
    ]
    # "Mute" names the first author as stored (what muting compares), less what UTF-8 cannot
    # encode; a name longer than any real one gets no such link rather than a 100 KB URL.
    raw_first = paper.authors[0] if paper.authors and len(paper.authors[0]) <= _NAME_CHARS else ""
    first = display_line(raw_first)
    fb = tokens.feedback_urls(settings, feedback_token, paper.id,
                              author=(raw_first if raw_first.isprintable() else XML_INVALID.sub("", raw_first))
                              if first else None, tag=_profile_tag(item))
    feedback = [_Link("More like this", fb["more"]), _Link("Not relevant", fb["not-relevant"])]
    if first:
        feedback.append(_Link(f"Mute {first}", fb["mute-author"]))
    long_title = len(paper.title) > _TITLE_CHARS
    title, title_text = _field(_word_prefix(paper.title, _TITLE_CHARS) if long_title else paper.title,
                               spans.get("title", []), cut=long_title)
    if not title_text:  # nothing printable: the card still needs a title to click
        title, title_text = ((UNTITLED, False),), UNTITLED
    summary, summary_text = _field(text, spans.get(field, []), cut=cut, tex=True)
    return ItemView(
        title=title,
        title_text=title_text,
        url=links[0].url if links else None,
        authors=_authors_line(paper.authors),
        via=via_line(paper),
        summary_label=label,
        summary=summary,
        summary_text=summary_text,
        links=tuple(links),
        why=_why(paper, item.reasons),
        trending=is_trending(item.trending),
        updated=item.updated,
        version=paper.version,
        feedback=tuple(feedback),
    )


# --- subject -------------------------------------------------------------------------------------


def digest_day(digest: Digest) -> str:
    """What the digest is labelled with: a daily digest's local date from its period key
    ("2026-11-24" as "Tue 24 Nov"); a weekly one's week, by the first day it covers ("week of 23
    Nov" for the digest sent on Monday 30 Nov: its key is the ISO week date of the send day)."""
    key = digest.period_key
    if digest.period == "weekly":
        # The period's bounds are in the user's time zone (digest.digests.select.build_digest).
        first = digest.period_start.date()
        return f"week of {first.day} {_MONTHS[first.month - 1]}"
    try:
        day = date.fromisoformat(key[:10])
    except ValueError:
        day = digest.period_end.date()
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def subject_for(digest: Digest, *, max_names: int = 3, max_len: int = 90) -> str:
    """"7 new papers: diffusion models, Yann LeCun — Tue 24 Nov" (counts, top subscriptions, date)."""
    day = digest_day(digest)
    items = {i.paper.id: i for i in digest.items}
    updated = sum(1 for i in items.values() if i.updated)
    new = len(items) - updated + digest.more_count
    if not items and not digest.more_count:
        return f"No new papers — {day}"
    trending_only = digest.period == "trending" or all(s.kind == "trending" for s in digest.sections)
    noun = "trending paper" if trending_only else "new paper"
    parts = []
    if new:
        parts.append(f"{new} {noun}{'' if new == 1 else 's'}")
    if updated:
        parts.append(f"{updated} updated")
    head = ", ".join(parts)
    counts: Counter[str] = Counter()
    for item in items.values():
        for reason in item.reasons:
            counts[display_line(reason.subscription)] += 1
    names: list[str] = []
    for name, _ in counts.most_common():
        candidate = f"{head}: {', '.join([*names, name])} — {day}"
        if len(names) >= max_names or (names and len(candidate) > max_len):
            break
        names.append(name if len(name) <= _SUBJECT_NAME_CHARS else _word_prefix(name, _SUBJECT_NAME_CHARS - 1) + "…")
    return f"{head}: {', '.join(names)} — {day}" if names else f"{head} — {day}"


# --- rendering -----------------------------------------------------------------------------------


def _keep_top(digest: Digest, keep: int) -> tuple[tuple[DigestSection, ...], int]:
    """Sections holding only the ``keep`` best-scored items (section order kept); and how many went."""
    ranked = sorted(range(len(digest.items)), key=lambda i: -digest.items[i].score)
    kept = set(ranked[:keep])
    sections, n = [], 0
    for section in digest.sections:
        items = []
        for item in section.items:
            if n in kept:
                items.append(item)
            n += 1
        if items:
            sections.append(replace(section, items=tuple(items)))
    return tuple(sections), n - min(keep, n)


def _block_key(item: DigestItem) -> tuple[Any, ...]:
    """Everything :func:`item_view` puts in a card but the feedback token (a placeholder): two
    users' cards share a rendering only when neither would show anything of the other's."""
    reasons = tuple(
        (r.subscription, tuple((c.get("field"), c.get("term"), c.get("clause"), repr(c.get("matched")),
                                repr(c.get("spans")))
                               for c in clauses(r.explanation)))
        for r in item.reasons)
    return (item.paper.id, item.paper.seq, item.paper.version, item.updated, is_trending(item.trending), reasons,
            _profile_tag(item))


def render_email(digest: Digest, *, settings: Settings, user_feed_token: str, generation: int,
                 more_url: str | None = None, budget: int = HTML_BUDGET,
                 cache: RenderCache | None = None) -> RenderedEmail:
    """Render ``digest`` for its user.

    Items are dropped, lowest score first, into "N more" until the HTML fits ``budget`` bytes;
    ``more_url`` is where "N more" links: by default the digest's web page (``/digest/<feedback
    token>#more``), which lists every paper of the digest, those the email had no room for included
    (not the private feed: it lists only alerts that deliver to it, so none of an email-only alert's
    papers). Pass one :class:`RenderCache` to every call of a send run to render each shared paper
    block once.
    """
    tpl = _templates()
    unsub_token = tokens.make_token("unsubscribe", digest.user_id, generation, settings=settings)
    fb_token = tokens.feedback_token(settings, digest.user_id, generation, digest.period_key)
    blocks: dict[str, tuple[Markup, str]] = {}

    def block(item: DigestItem) -> tuple[Markup, str]:
        found = blocks.get(item.paper.id)
        if found is not None:
            return found
        key = _block_key(item) if cache is not None else ()
        found = cache.get(key) if cache is not None else None
        if found is None:
            view = item_view(item, settings, _FEEDBACK_PLACEHOLDER)
            # Ends its last line: the skeleton puts cards side by side, with only a short comment
            # (the loop's "<!---->") before the next one's first line (see _LINE_BYTES).
            html_block = _fold(tpl.html_paper.render(item=view), placeholder=_FEEDBACK_PLACEHOLDER,
                               room=_TOKEN_ROOM) + "\n"
            text_block = _strip_lines(tpl.text_paper.render(item=view))
            found = Markup(html_block), text_block
            if cache is not None:
                cache.put(key, found)
        blocks[item.paper.id] = found
        return found

    all_feed = tokens.feed_url(settings, user_feed_token, "all")
    context: dict[str, Any] = {
        "subject": subject_for(digest),
        "greeting": display_line(digest.user_name or ""),
        "status": [display_line(s) for s in digest.source_status],
        "feed_url": all_feed,
        "settings_url": tokens.settings_url(settings),
        "unsubscribe_url": tokens.unsubscribe_url(settings, unsub_token),
        "more_url": more_url or f"{tokens.digest_url(settings, fb_token)}#{MORE_ANCHOR}",
        "day": digest_day(digest),
    }

    stop_urls: dict[int, str] = {}

    def stop_url(subscription_id: int) -> str:
        # An alert-level unsubscribe token: its link pauses that alert only (digest.digests.unsubscribe).
        if subscription_id not in stop_urls:
            token = tokens.make_token("unsubscribe", digest.user_id, generation, settings=settings, s=subscription_id)
            stop_urls[subscription_id] = tokens.unsubscribe_url(settings, token)
        return stop_urls[subscription_id]

    def render(sections: tuple[DigestSection, ...], dropped: int, part: int = 0) -> str:
        chosen = tpl.html if part == 0 else tpl.text
        context["more"] = digest.more_count + dropped
        context["sections"] = [{"title": display_line(s.title), "kind": s.kind,
                                "items": [block(i)[part] for i in s.items]} for s in sections]
        # "Stop one alert": each alert with a section in this email, once.
        alerts = {s.subscription_id: s.title for s in sections if s.subscription_id is not None}
        context["stop_alerts"] = [_Link(display_line(title), stop_url(sid)) for sid, title in alerts.items()]
        return chosen.render(context)

    def size(html: str) -> int:
        # The placeholder is replaced by the real token after rendering; count the difference.
        return len(html.encode()) + html.count(_FEEDBACK_PLACEHOLDER) * (len(fb_token) - len(_FEEDBACK_PLACEHOLDER))

    sections, dropped = digest.sections, 0
    html = render(sections, 0)
    if size(html) > budget:
        # Binary search on how many of the best items fit: ``lo`` always fits, ``hi`` never does.
        lo, hi = 0, len(digest.items)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if size(render(*_keep_top(digest, mid))) <= budget:
                lo = mid
            else:
                hi = mid
        sections, dropped = _keep_top(digest, lo)
        html = render(sections, dropped)
    # Cards lost their trailing blanks when rendered; the skeleton's only one is in "-- ", the
    # signature separator (RFC 3676 §4.3), which must keep it.
    text = render(sections, dropped, part=1).strip() + "\n"
    ids = tuple(dict.fromkeys(i.paper.id for s in sections for i in s.items))
    return RenderedEmail(
        subject=context["subject"],
        html=html.replace(_FEEDBACK_PLACEHOLDER, fb_token),
        text=text.replace(_FEEDBACK_PLACEHOLDER, fb_token),
        unsubscribe_https=tokens.one_click_unsubscribe_url(settings, unsub_token),
        unsubscribe_mailto=tokens.unsubscribe_mailto(settings, unsub_token),
        paper_ids=ids, more_count=digest.more_count + dropped,
    )
