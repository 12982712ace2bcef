"""Hostile and awkward feed content through every renderer (issue #4: "Feed content is untrusted").

Each paper below holds what a broken or malicious feed can put in a title, an abstract, an author
list or a link. Whatever it holds, the Atom and RSS documents stay well-formed XML that follows the
RFC 4287 / RSS 2.0 rules we can check, the email stays one HTML + one text part that parse back,
nothing from the feed becomes markup, a header line or a line of its own, and a browser opening the
HTML neither runs a script nor makes a request.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
import lxml.html
import pytest
from lxml import etree

from digest.models import DigestItem, Paper, Reason
from digest.render.email import render_email
from digest.render.feeds import FeedEntry, render_feed
from digest.render.message import build_message
from digest.sources import rss

from render_samples import T, XSS, digest, paper, reason, settings

ATOM = "{http://www.w3.org/2005/Atom}"
SELF = "https://digest.example.org/feeds/tok/sub-3.atom"
# XML 1.0 §2.2 Char: every C0 control but tab, LF and CR is forbidden; so are U+FFFE, U+FFFF and
# surrogates (which cannot even be encoded as UTF-8).
C0 = "".join(chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
NONCHARS = "\ufffe\uffff"
LONE_SURROGATES = "\ud800\udfff\ud83d"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: reverses everything after it until PDF or a paragraph end
PDF = "\u202c"
PWN = "window.__pwned=1"

HOSTILE: dict[str, dict[str, Any]] = {
    "markup": dict(title=f"T {XSS} <a href=javascript:{PWN}>x</a>", abstract=f"A {XSS}<style>*{{}}</style>",
                   authors=(XSS, f'" onmouseover="{PWN}')),
    "cdata": dict(title="</title>]]><![CDATA[<x>", abstract="]]> <![CDATA[ ]]>", authors=("]]>",)),
    "controls": dict(title=f"T{C0}x", abstract=f"A{C0}b", authors=(f"Au{C0}thor",), categories=(f"c{C0}s",)),
    "nonchars": dict(title=f"T{NONCHARS}x", abstract=f"A{NONCHARS}", authors=(f"a{NONCHARS}",)),
    "surrogates": dict(title=f"T{LONE_SURROGATES}x", abstract=f"A{LONE_SURROGATES}",
                       authors=(f"a{LONE_SURROGATES}",), tldr=f"tl{LONE_SURROGATES}"),
    "bidi": dict(title=f"Good {RLO}lave paper", authors=(f"{RLO}Ada", "Bob"), abstract=f"x {RLO}y. Next."),
    "zero-width": dict(title="Zero\u200dwidth\u200b \u2060joiners \U0001f469\u200d\U0001f52c",
                       authors=("Zo\u200de",)),
    "huge": dict(title="Long " * 2000, abstract="word " * 20_000, authors=tuple(f"Author {i}" for i in range(1000)),
                 categories=tuple(f"cat.{i}" for i in range(300))),
    "emoji-tex": dict(title="\U0001f600 $\\alpha$-stable \\textbf{x} \U0001d518", abstract="$\\sum_i x^2$ & <k>"),
    "entities": dict(title="A &amp; B", abstract="A &amp;amp; B &lt;p&gt; &#x3c;script&#x3e;"),
    "newlines": dict(title="T\r\nBcc: victim@example.org\n\n-- \nUnsubscribe: https://evil.example",
                     abstract="line1\r\nUnsubscribe: https://evil.example\n.\n", authors=("A\r\nB: x",)),
    "urls": dict(pdf_url='https://e.example/a"b', code_url=f'https://e.example/x"onmouseover="{PWN}',
                 url="javascript:alert(1)", arxiv_id=None, doi="10.1/a<b>{c}|^`"),
    "schemes": dict(pdf_url="data:text/html,<script>alert(1)</script>", code_url="vbscript:msgbox(1)",
                    arxiv_id=None, doi=None, url="JaVaScRiPt:alert(1)", id="url:x"),
    "ancient-dates": dict(published=T.replace(year=1), updated=T.replace(year=5), first_seen=T.replace(year=99)),
    "empty": dict(title="", abstract="", authors=("", " "), categories=("", " ")),
}


def _papers() -> list[tuple[str, Paper]]:
    return [(name, paper(i, **kw)) for i, (name, kw) in enumerate(HOSTILE.items())]


# --- Atom and RSS ------------------------------------------------------------------------------

# RFC 3339 §5.6 date-time (we always write UTC with "Z").
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# RFC 822 §5.1 as RSS 2.0 uses it (four-digit years, as the RSS Advisory Board recommends).
_RFC822 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                     r"\d{4} \d{2}:\d{2}:\d{2} (GMT|[+-]\d{4})$")
# RFC 3987 §2.2: characters an IRI (the type of Atom's href and id, RFC 4287 §4.2.7.1) never holds
# literally; RFC 4287 §4.2.6 ids and §4.2.7 links must be absolute.
_NOT_IN_IRI = re.compile(r"[\x00-\x20\x7f-\x9f\"<>\\^`{|}\u202a-\u202e\u2066-\u2069\ufffe\uffff]")


def _absolute_iri(value: str | None) -> bool:
    return bool(value) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value or "") is not None \
        and not _NOT_IN_IRI.search(value or "")


def _feed(fmt: str, entries: list[FeedEntry]) -> bytes:
    return render_feed(entries, title=f"Feed {XSS}\x00", feed_id="tag:digest.example.org,2024:feed/subscription/3",
                       self_url=SELF, format=fmt, updated=T)  # type: ignore[arg-type]


def _hostile_entries() -> list[FeedEntry]:
    return [FeedEntry(p, (reason(f"sub {name} {XSS}\r\n"),), p.updated) for name, p in _papers()]


def _bidi_balanced(text: str) -> bool:
    """Every embedding/override a text opens is closed in it (UAX #9 X1-X8, simplified)."""
    stack: list[str] = []
    for c in text:
        if c in "\u202a\u202b\u202d\u202e":
            stack.append("e")
        elif c in "\u2066\u2067\u2068":
            stack.append("i")
        elif c == PDF and stack and stack[-1] == "e":
            stack.pop()
        elif c == "\u2069" and "i" in stack:
            while stack.pop() != "i":
                pass
    return not stack


def test_atom_is_well_formed_and_follows_rfc_4287_whatever_papers_hold() -> None:
    data = _feed("atom", _hostile_entries())
    root = etree.fromstring(data)  # raises on any character XML 1.0 forbids
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == len(HOSTILE)
    for entry in [root, *entries]:
        # §4.1.1 / §4.1.2: exactly one id, title and updated; ids are absolute IRIs (§4.2.6).
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{tag}")) == 1, tag
        assert _absolute_iri(entry.findtext(f"{ATOM}id"))
        assert (entry.findtext(f"{ATOM}title") or "").strip()
        for tag in ("updated", "published"):  # §3.3: RFC 3339 date-time
            for el in entry.findall(f"{ATOM}{tag}"):
                assert _RFC3339.match(el.text or ""), (tag, el.text)
        for link in entry.findall(f"{ATOM}link"):  # §4.2.7.1: href is an IRI; ours are absolute
            assert _absolute_iri(link.get("href")), link.get("href")
        for cat in entry.findall(f"{ATOM}category"):  # §4.2.2.2: term is required
            assert (cat.get("term") or "").strip()
    for text in root.itertext():
        assert _bidi_balanced(text), repr(text[:80])


def test_rss_is_well_formed_and_follows_rss_2_whatever_papers_hold() -> None:
    data = _feed("rss", _hostile_entries())
    root = etree.fromstring(data)
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    items = root.findall("channel/item")
    assert len(items) == len(HOSTILE)
    for item in items:
        assert (item.findtext("title") or "").strip()
        assert len(item.findall("guid")) == 1
        pub = item.findtext("pubDate") or ""
        assert _RFC822.match(pub), pub
        parsedate_to_datetime(pub)
        for link in item.findall("link"):
            assert _absolute_iri(link.text), link.text
        for cat in item.findall("category"):
            assert (cat.text or "").strip()
    for text in root.itertext():
        assert _bidi_balanced(text), repr(text[:80])


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feed_html_bodies_hold_only_our_markup(fmt: str) -> None:
    parsed = feedparser.parse(_feed(fmt, _hostile_entries()))
    for entry in parsed.entries:
        body = entry.content[0].value if "content" in entry else entry.description
        doc = lxml.html.fromstring(f"<div>{body}</div>")
        assert {el.tag for el in doc.iter()} <= {"div", "p", "strong", "a"}
        for el in doc.iter():
            assert set(el.attrib) <= {"href"}
        for href in doc.xpath("//a/@href"):
            assert href.startswith("https://") and _absolute_iri(href), href


def test_feed_dates_before_year_1000_are_still_rfc_3339() -> None:
    old = paper(1, published=T.replace(year=5), updated=T.replace(year=1))
    data = _feed("atom", [FeedEntry(old, (), None)])
    root = etree.fromstring(data)
    entry = root.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}updated") == "0001-11-24T06:00:00Z"
    assert entry.findtext(f"{ATOM}published") == "0005-11-24T06:00:00Z"


def test_feed_entity_text_is_escaped_exactly_once() -> None:
    # The stored abstract is the text "A & B" (sources decode entities once, see sanitize.to_text).
    data = _feed("atom", [FeedEntry(paper(1, title="A & B", abstract="A & B", tldr=None), (), T)])
    assert b"<summary type=\"text\">A &amp; B</summary>" in data
    entry = feedparser.parse(data).entries[0]
    assert entry.title == "A & B" and entry.summary == "A & B"
    assert "<p>A &amp; B</p>" in entry.content[0].value  # HTML that displays "A & B"


def test_ingested_double_escaped_entities_show_once_decoded() -> None:
    # "A &amp;amp; B" in XML is the HTML "A &amp; B", whose text is "A & B": shown as such, once.
    doc = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><link>https://e.example/</link>'
           b"<description>d</description><item><title>A &amp;amp; B</title><link>https://e.example/p/1</link>"
           b"<guid>https://e.example/p/1</guid><description>On A &amp;amp; B</description></item></channel></rss>")
    record = rss.parse(doc).records[0]
    assert (record.title, record.abstract) == ("A & B", "On A & B")
    p = paper(1, title=record.title, abstract=record.abstract)
    r = _email([DigestItem(p, (), score=1.0)])
    assert "A &amp; B" in r.html and "&amp;amp;" not in r.html
    assert "\nA & B\n" in r.text


# --- email -------------------------------------------------------------------------------------


def _email(items: list[DigestItem], **kw: Any) -> Any:
    return render_email(digest(items=tuple(items), **kw), settings=settings(), user_feed_token="feedtok",
                        generation=1)


def _hostile_email() -> Any:
    items = [DigestItem(p, (reason(f"sub {name}"),), score=1.0 - i / 100) for i, (name, p) in enumerate(_papers())]
    return _email(items, user_name=f"Ädä {RLO}\ud800\r\nBcc: x@example.org",
                  source_status=(f"feed said {XSS}\x00\ud800",))


def test_email_renders_every_hostile_paper_as_text() -> None:
    r = _hostile_email()
    r.html.encode("utf-8")  # no lone surrogate survives
    r.text.encode("utf-8")
    assert not re.search(f"[{C0}{NONCHARS}]", r.html + r.text)
    doc = lxml.html.fromstring(r.html)
    assert not doc.xpath("//script|//img|//iframe|//object|//embed|//svg|//math|//form|//link|//base")
    for el in doc.iter():
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name)
            if name == "href":
                assert value.startswith("https://") and _absolute_iri(value), value
        if el.tag == "style":
            assert "@import" not in (el.text or "") and "url(" not in (el.text or "")
    assert "url(" not in r.html
    for card in doc.xpath("//td[contains(@class, 'card')]"):
        assert _bidi_balanced(card.text_content())
        assert card.xpath(".//*[contains(@class, 'paper-title')]")[0].text_content().strip()  # never blank


def test_email_text_part_keeps_each_feed_value_on_its_own_line() -> None:
    """A line break in a title, author or abstract must not start a line of its own: it could forge a
    signature, an "Unsubscribe:" line or a header-looking block in the text part."""
    r = _hostile_email()
    lines = r.text.splitlines()
    assert not any(line.startswith(("Bcc:", "Unsubscribe: https://evil", "B: x", ".")) for line in lines)
    assert sum(line == "--" or line == "-- " for line in lines) == 1
    assert "T Bcc: victim@example.org -- Unsubscribe: https://evil.example" in r.text


def test_email_closes_bidi_overrides_at_the_end_of_each_value() -> None:
    p = paper(1, **HOSTILE["bidi"])
    r = _email([DigestItem(p, (reason(spans=((0, 7),)),), score=1.0)])
    # Text part: each value's line is balanced, so "· via arXiv" after the authors reads left to right.
    for line in r.text.splitlines():
        assert _bidi_balanced(line), repr(line)
    doc = lxml.html.fromstring(r.html)
    card = doc.xpath("//td[contains(@class, 'card')]")[0]
    for p_el in card.xpath(".//p|.//a"):
        assert _bidi_balanced(p_el.text_content()), repr(p_el.text_content())


def test_email_entity_text_is_escaped_exactly_once() -> None:
    r = _email([DigestItem(paper(1, title="A & B", abstract="A & B", authors=("X & Y",)), (), score=1.0)])
    card = lxml.html.fromstring(r.html).xpath("//td[contains(@class, 'card')]")[0]
    assert card.xpath(".//a[contains(@class, 'paper-title')]")[0].text_content() == "A & B"
    assert "&amp;amp;" not in r.html
    assert "\nA & B\n" in r.text and "X & Y" in r.text


def test_email_links_are_percent_encoded_and_never_other_schemes() -> None:
    r = _email([DigestItem(paper(1, **HOSTILE["urls"]), (), score=1.0),
                DigestItem(paper(2, **HOSTILE["schemes"]), (), score=0.9)])
    doc = lxml.html.fromstring(r.html)
    hrefs = doc.xpath("//a/@href")
    assert "https://doi.org/10.1/a%3Cb%3E%7Bc%7D%7C%5E%60" in hrefs
    assert "https://e.example/a%22b" in hrefs
    assert all(_absolute_iri(h) and h.startswith("https://") for h in hrefs)
    assert "javascript" not in r.html.lower() and "vbscript" not in r.html.lower() and "data:" not in r.html
    assert "javascript" not in r.text.lower() and "vbscript" not in r.text.lower()


@pytest.mark.parametrize("eight_bit", [True, False])
def test_hostile_digest_builds_a_message_that_parses_back(eight_bit: bool) -> None:
    r = _hostile_email()
    raw = build_message(rendered=r, sender="Paper digest <digest@example.org>",
                        recipient=("Ädä \ud800\r\nBcc: x@example.org", "ada@example.org"),
                        message_id="<digest.daily.2026-11-24.u7@example.org>", date=T,
                        list_id="digest daily <daily.digest.example.org>", unsubscribe_https=r.unsubscribe_https,
                        unsubscribe_mailto=r.unsubscribe_mailto, eight_bit=eight_bit)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"\nBcc:" not in head
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert "Bcc" not in msg and "\n" not in str(msg["To"])
    text, html = (part.get_content() for part in msg.iter_parts())  # type: ignore[attr-defined]
    assert text.replace("\r\n", "\n") == r.text
    assert html.replace("\r\n", "\n").rstrip("\n") == r.html.rstrip("\n")


def test_subject_with_line_breaks_and_non_ascii_is_one_encoded_header() -> None:
    items = [DigestItem(paper(1), (reason("Ünïcödé\r\nBcc: x@example.org \ud800"),), score=1.0)]
    r = _email(items)
    assert "\n" not in r.subject and "\r" not in r.subject
    raw = build_message(rendered=r, sender="digest@example.org", recipient="ada@example.org",
                        message_id="<a.b@example.org>", date=T, list_id="digest daily <daily.digest.example.org>",
                        unsubscribe_https=r.unsubscribe_https, unsubscribe_mailto=r.unsubscribe_mailto)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert "Bcc" not in msg
    assert msg["Subject"].startswith("1 new paper: Ünïcödé Bcc: x@example.org")


# --- in a browser ------------------------------------------------------------------------------



@pytest.mark.browser
def test_hostile_digest_in_a_browser_runs_nothing_and_requests_nothing(browser: Any) -> None:
    r = _hostile_email()
    context = browser.new_context(viewport={"width": 800, "height": 900}, java_script_enabled=True)
    page = context.new_page()
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: dialogs.append(f"console: {m.text}"))

    def deny(route: Any) -> None:
        requests.append(route.request.url)
        route.abort()
    page.route("**/*", deny)
    try:
        page.set_content(r.html, wait_until="load")
        page.mouse.move(200, 200)
        page.mouse.move(400, 600)
        page.wait_for_timeout(200)
        assert requests == [] and dialogs == []
        assert page.evaluate("() => window.__pwned === undefined && document.scripts.length === 0")
        assert page.locator("td.card img, td.card script, td.card iframe").count() == 0
        assert XSS in page.inner_text("body")  # shown as text
    finally:
        context.close()


# --- web pages -----------------------------------------------------------------------------------


def test_web_listing_isolates_each_author_name() -> None:
    """A right-to-left override in one author's name must not reverse the names after it: each is
    its own <bdi> (HTML §4.5.24, isolated as if by FSI ... PDI)."""
    from digest.web.app import _environment

    p = paper(1, authors=(f"{RLO}Mallory", "Ada Lovelace", XSS))
    hit = {"paper": p, "score": None, "title_segments": [(p.title, False)], "text_segments": [("x", False)],
           "text_label": "", "via": ""}
    out = _environment().get_template("_paper.html").render(hit=hit)
    doc = lxml.html.fromstring(out)
    assert [b.text for b in doc.xpath("//p[@class='authors']/bdi")] == [f"{RLO}Mallory", "Ada Lovelace", XSS]
    assert not doc.xpath("//script|//img")


def test_reason_terms_that_clean_to_nothing_are_not_listed() -> None:
    from digest.render.reasons import reason_terms

    p = paper(1, title="T" + C0, abstract="A")
    why = reason(spans=((1, 9),))  # a span over control characters only
    assert reason_terms(p, why)[0] != ""
    assert "" not in reason_terms(p, why)


@pytest.mark.parametrize("field", ["title", "tldr", "authors", "abstract", "reason"])
def test_one_huge_paper_cannot_push_the_others_out_of_the_email(field: str) -> None:
    """The HTML budget drops the lowest-scored papers until the message fits: a hostile paper with a
    150 KB title, tl;dr or author name must not make it drop every paper but that one (or all)."""
    huge = "Long " * 30_000
    kw: dict[str, Any] = {"authors": (huge,)} if field == "authors" else {} if field == "reason" else {field: huge}
    why = Reason(1, huge, 0.9, {"clauses": [{"field": "title", "matched": [f"{i}{huge}" for i in range(20)]}]}) \
        if field == "reason" else reason()
    items = [DigestItem(paper(0, **kw), (why,), score=2.0)]
    items += [DigestItem(paper(i), (reason(),), score=1.0) for i in range(1, 20)]
    r = _email(items)
    assert len(r.paper_ids) == 20 and r.more_count == 0
    assert len(r.html.encode()) < 60_000
    card = lxml.html.fromstring(r.html).xpath("//td[contains(@class, 'card')]")[0]
    assert len(card.text_content()) < 3_000
