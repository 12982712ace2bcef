"""digest.render.email: what the digest email says, escapes and leaves out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import time_machine
from hypothesis import given, settings as hsettings, strategies as st

from digest.ingest import ingest_file
from digest.match.document import Document
from digest.match.score import compile_query
from digest.match.stats import CorpusStats
from digest.models import DigestItem, DigestSection, Paper, Reason, Via
from digest.render import email as email_render
from digest.render.email import HTML_BUDGET, RenderCache, render_email, subject_for
from digest.render.feeds import FeedEntry, render_feed
from digest.store import Store
from digest.tokens import verify_token

from render_samples import XSS, T, digest, paper, reason, settings

DATA = Path(__file__).parent / "data"


def q(el: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    """Tiny CSS subset (``tag``, ``tag.class``, descendants separated by spaces) as XPath."""
    path = "."
    for step in selector.split():
        tag, _, cls = step.partition(".")
        path += f"//{tag or '*'}" + (f"[contains(concat(' ', @class, ' '), ' {cls} ')]" if cls else "")
    return list(el.xpath(path))


def _render(d=None, **kw):  # type: ignore[no-untyped-def]
    return render_email(d or digest(), settings=settings(), user_feed_token="feedtok123", generation=4, **kw)


def test_each_paper_shows_title_link_authors_via_summary_links_why_and_feedback() -> None:
    r = _render()
    doc = lxml.html.fromstring(r.html)
    cards = q(doc, "td.card")
    assert len(cards) == 3
    card = cards[0]
    title = q(card, "a.paper-title")[0]
    assert title.get("href") == "https://arxiv.org/abs/2411.00000"
    assert title.text_content() == "Diffusion models for protein design, part 0"
    assert [m.text_content() for m in q(card, "mark")] == ["Diffusion", "diffusion models"]
    # Paragraphs: authors (and "via"), summary, links, then why it matched with the feedback links.
    authors, summary, links, why = card.xpath("./p")
    assert authors.text == "Yann LeCun, Ada Lovelace, Łukasz Kaiser"
    assert q(authors, "span.via")[0].text_content() == "via arXiv, Hugging Face"
    assert summary.text_content().startswith("We study diffusion models for proteins.")
    assert "Trending" in card.xpath("./span")[0].text_content()
    assert [a.text_content() for a in q(links, "a")] == ["Abstract", "PDF", "Code"]
    assert "Why: diffusion models (matched diffusion, diffusion models)" in why.text_content()
    assert [b.text_content() for b in q(why, "b")] == ["diffusion", "diffusion models"]
    feedback = {a.text_content(): a.get("href") for a in q(why, "a")}
    assert list(feedback) == ["More like this", "Not relevant", "Mute Yann LeCun"]
    assert all(u.startswith("https://digest.example.org/feedback/") for u in feedback.values())
    token = feedback["More like this"].split("/feedback/")[1].split("?")[0]
    assert verify_token("feedback", token, settings=settings(), generation=4).user_id == 7
    assert feedback["Mute Yann LeCun"].endswith("?p=arxiv:2411.00000&k=a&a=Yann+LeCun")
    # Styles are inlined; the dark-mode and phone rules stay in a <style> block.
    assert "style=" in lxml.html.tostring(title).decode()
    assert "prefers-color-scheme: dark" in r.html and 'name="color-scheme"' in r.html
    assert "max-width: 600px" in r.html


def test_feedback_under_a_recommendation_teaches_the_user_tag_that_made_it() -> None:
    """A paper a user-tag subscription recommended: its "More like this" and "Not relevant" links
    name that tag, so the click reaches the tag's profile (other papers' links name none)."""
    liked = Reason(2, "Like my KD papers", 2.9, {"kind": "profile", "tag": "distillation", "score": 2.9})
    items = (DigestItem(paper(0), (liked,), score=2.9, seq=100), DigestItem(paper(1), (reason(),), score=1.0, seq=101))
    doc = lxml.html.fromstring(_render(digest(items=items)).html)
    first, second = ({a.text_content(): a.get("href") for a in q(card, "a")} for card in q(doc, "td.card"))
    assert first["More like this"].endswith("&k=m&t=distillation")
    assert first["Not relevant"].endswith("&k=n&t=distillation")
    assert "&t=" not in second["More like this"] and "&t=" not in second["Not relevant"]


def test_footer_has_feed_settings_and_unsubscribe_with_matching_headers_targets() -> None:
    r = _render()
    doc = lxml.html.fromstring(r.html)
    hrefs = [a.get("href") for a in q(doc, "td.foot a")]
    assert "https://digest.example.org/feeds/feedtok123/all.atom" in hrefs
    assert "https://digest.example.org/alerts" in hrefs
    unsub = next(h for h in hrefs if "/unsubscribe/" in h)
    token = unsub.rsplit("/", 1)[1]
    assert r.unsubscribe_https == f"https://digest.example.org/unsubscribe/one-click/{token}"
    assert token in r.unsubscribe_mailto
    assert verify_token("unsubscribe", token, settings=settings(), generation=4).user_id == 7
    assert "arXiv did not announce today" in r.html and "arXiv did not announce today" in r.text


def test_subject_says_counts_top_subscriptions_and_local_date() -> None:
    items = tuple(DigestItem(paper(i), (reason("diffusion models"),) + ((reason("Yann LeCun", 2),) if i < 3 else ()),
                             score=1 - i / 100) for i in range(7))
    assert subject_for(digest(items=items)) == "7 new papers: diffusion models, Yann LeCun — Tue 24 Nov"
    one = digest(1)
    assert subject_for(one) == "1 new paper: diffusion models — Tue 24 Nov"
    updated = (DigestItem(paper(9), (reason(),), score=1, updated=True),)
    assert subject_for(digest(items=updated, more_count=2)) == "2 new papers, 1 updated: diffusion models — Tue 24 Nov"
    assert subject_for(digest(items=(), sections=())) == "No new papers — Tue 24 Nov"
    # A weekly digest is named by the first day of the week it covers, not the week it is sent in.
    weekly = digest(period="weekly", period_key="2026-W49", period_start=T.replace(day=23, hour=7),
                    period_end=T.replace(day=30, hour=7))
    assert subject_for(weekly).endswith("— week of 23 Nov")


def test_feed_content_is_escaped_and_javascript_links_dropped() -> None:
    evil = paper(1, title=f"Good {XSS} title", authors=(XSS, "Bob"), abstract=f"Abstract {XSS} here.",
                 tldr=None, code_url="javascript:alert(1)", pdf_url="JaVaScRiPt:alert(2)",
                 url=None)
    d = digest(items=(DigestItem(evil, (reason(f"sub {XSS}"),), score=1),))
    r = _render(d)
    doc = lxml.html.fromstring(r.html)
    assert not q(doc, "script") and not q(doc, "img")
    assert not any(attr.startswith("on") for el in doc.iter() if isinstance(el.tag, str) for attr in el.attrib)
    assert "javascript:" not in r.html.lower()
    assert [a.text_content() for a in q(doc, "td.card p.links a")] == ["Abstract"]
    assert XSS in q(doc, "a.paper-title")[0].text_content()  # shown as text
    assert "&lt;script&gt;" in r.html
    assert "javascript:" not in r.text.lower()
    assert XSS in r.text  # plain text carries it as text, which is what text/plain is


def test_subject_cannot_carry_line_breaks() -> None:
    d = digest(items=(DigestItem(paper(1), (reason("a\r\nBcc: evil@example.org"),), score=1),))
    assert "\n" not in _render(d).subject and "\r" not in _render(d).subject


def test_long_author_lists_are_shortened() -> None:
    many = paper(1, authors=tuple(f"Author {i}" for i in range(40)))
    r = _render(digest(items=(DigestItem(many, (reason(),), score=1),)))
    assert "Author 0, Author 1, Author 2, Author 3, Author 4, Author 5 … and 34 more" in r.html
    assert "Author 6," not in r.html and "… and 34 more" in r.text


def test_500_papers_fit_the_gmail_budget_and_the_rest_is_n_more() -> None:
    d = digest(500, more_count=5)
    r = _render(d)
    size = len(r.html.encode())
    assert size <= HTML_BUDGET < 102 * 1024
    shown = len(r.paper_ids)
    assert 20 < shown < 500
    assert r.more_count == 500 - shown + 5
    assert f"{r.more_count} more papers" in r.html and f"{r.more_count} more papers" in r.text
    assert r.subject.startswith("505 new papers")
    # "N more" leads to where those papers are: the digest's own page, at the papers the email left out
    # (not the private feed, which lists only alerts that deliver to it).
    more = [a for a in q(lxml.html.fromstring(r.html), "a.more-link")]
    [href] = [a.get("href") for a in more]
    token = href.removeprefix("https://digest.example.org/digest/").removesuffix("#more")
    assert href == f"https://digest.example.org/digest/{token}#more" and "/" not in token
    assert verify_token("feedback", token, settings=settings(), generation=4).data == {"d": "2026-11-24"}
    assert more[0].text_content() == "see the whole digest"
    assert f"{r.more_count} more papers did not fit in this email: see the whole digest" in \
        lxml.html.fromstring(r.html).text_content()
    assert f"{r.more_count} more papers did not fit in this email: see the whole digest at {href}\n" in r.text
    # The best-scored papers stay (scores fall with i), in order, and the text part has the same ones.
    assert r.paper_ids == tuple(f"arxiv:2411.{i:05d}" for i in range(shown))
    titles_html = [a.text_content() for a in q(lxml.html.fromstring(r.html), "a.paper-title")]
    titles_text = re.findall(r"^(?:\[Trending\] )?(Diffusion models for protein design, part \d+)$", r.text, re.M)
    assert titles_html == titles_text and len(titles_text) == shown


def test_one_more_paper_is_said_in_the_singular_and_none_says_nothing() -> None:
    r = _render(digest(3, more_count=1))
    doc = lxml.html.fromstring(r.html)
    assert "1 more paper did not fit in this email: see the whole digest" in doc.text_content()
    [href] = [a.get("href") for a in q(doc, "a.more-link")]
    assert f"1 more paper did not fit in this email: see the whole digest at {href}\n" in r.text
    nothing = _render(digest(3))
    assert not q(lxml.html.fromstring(nothing.html), "a.more-link")
    assert "did not fit" not in nothing.html and "did not fit" not in nothing.text and "/digest/" not in nothing.text


def test_text_part_carries_the_same_content_not_just_links() -> None:
    r = _render()
    for i in range(3):
        assert f"Diffusion models for protein design, part {i}" in r.text
        assert f"Abstract: https://arxiv.org/abs/2411.{i:05d}" in r.text
        assert f"PDF: https://arxiv.org/pdf/2411.{i:05d}" in r.text
    assert r.text.count("Yann LeCun, Ada Lovelace, Łukasz Kaiser") == 3
    assert r.text.count("via arXiv, Hugging Face") == 3
    assert r.text.count("\n  We study diffusion models for proteins.") == 3
    assert r.text.count("Why: diffusion models (matched diffusion, diffusion models)") == 3
    assert r.text.count("More like this: https://digest.example.org/feedback/") == 3
    assert "\n-- \n" in r.text and "Unsubscribe: https://digest.example.org/unsubscribe/" in r.text


def test_tldr_is_preferred_and_long_abstracts_are_cut_at_sentences() -> None:
    with_tldr = paper(1, tldr="Short summary.")
    long_abs = paper(2, abstract="First sentence is here. " + "Second one goes on and on. " * 40)
    r = _render(digest(items=(DigestItem(with_tldr, (), score=1), DigestItem(long_abs, (), score=0.5))))
    assert "tl;dr: Short summary." in r.text
    summary = q(lxml.html.fromstring(r.html), "td.card")[1].xpath("./p")[1].text_content()
    assert summary.startswith("First sentence is here.") and len(summary) <= 330 and summary.endswith(".")


def test_empty_digest_says_so() -> None:
    r = _render(digest(items=(), sections=(), source_status=()))
    assert "No new papers matched your alerts" in r.html and "No new papers matched your alerts" in r.text


@time_machine.travel(T, tick=False)  # the links' signed tokens carry the second they were made
def test_cache_gives_the_same_bytes_and_user_specific_links() -> None:
    cache = RenderCache()
    first = _render(cache=cache)
    assert _render() == _render(cache=cache) == first
    assert cache.hits >= 3
    other_user = render_email(replace(digest(), user_id=8), settings=settings(), user_feed_token="other",
                              generation=0, cache=cache)
    assert other_user.html != first.html and "feedtok123" not in other_user.html
    token = re.search(r"/feedback/([^?]+)\?", other_user.html).group(1)  # type: ignore[union-attr]
    assert verify_token("feedback", token, settings=settings(), generation=0).user_id == 8


def test_a_shared_cache_keeps_each_users_tag_in_their_own_feedback_links() -> None:
    """Ada and Bob follow "papers like my labelled ones" through user-tag alerts both named "Like my
    reading", over the same labelled papers, so a new paper is explained identically for both but
    for the tag: Ada's private "ada-grant-rival-watch", Bob's "reading". Rendered with one cache (as
    `digest send` renders every digest of a run), each card's feedback links name its own user's tag,
    never the other's."""
    p = paper(1)
    matched = [{"clause": "protein", "field": "profile", "kind": "exact", "matched": ["protein"], "score": 1.2}]

    def digest_for(user_id: int, email: str, tag: str) -> Any:
        why = Reason(10 + user_id, "Like my reading", 3.1,
                     {"kind": "profile", "tag": tag, "clauses": matched, "keyword_similarity": 0.4})
        item = DigestItem(p, (why,), score=3.1, seq=p.seq)
        return digest(user_id=user_id, user_email=email, sections=(DigestSection("Like my reading", (item,)),))

    cache = RenderCache()
    ada = render_email(digest_for(1, "ada@example.org", "ada-grant-rival-watch"), settings=settings(),
                       user_feed_token="ada-feed", generation=0, cache=cache)
    bob = render_email(digest_for(2, "bob@example.org", "reading"), settings=settings(),
                       user_feed_token="bob-feed", generation=0, cache=cache)
    assert "t=ada-grant-rival-watch" in ada.html
    assert "ada-grant-rival-watch" not in bob.html + bob.text
    assert "t=reading" in bob.html


def test_several_sections_keep_their_order_and_titles() -> None:
    a = DigestSection("graph nets", (DigestItem(paper(1), (reason("graph nets"),), score=0.2),))
    b = DigestSection("Trending in your topics", (DigestItem(paper(2), (), score=0.9, trending=2.0),), kind="trending")
    r = _render(digest(sections=(a, b)))
    assert [h.text_content() for h in q(lxml.html.fromstring(r.html), "h2")] == \
        ["graph nets", "Trending in your topics"]
    assert r.text.index("== graph nets ==") < r.text.index("== Trending in your topics ==")


def test_template_inlining_refuses_altered_jinja_tags() -> None:
    with pytest.raises(RuntimeError):
        email_render._inline_template('<html><body><p>{{ a > b }}</p></body></html>')


def test_matcher_explanations_name_authors_without_highlighting_the_title() -> None:
    author = DigestItem(paper(1), (replace(reason("LeCun"), explanation={"clauses": [
        {"clause": "author:lecun", "field": "authors", "matched": ["Yann LeCun"], "spans": [[0, 10]]}]}),), score=1)
    r = _render(digest(items=(author,)))
    card = q(lxml.html.fromstring(r.html), "td.card")[0]
    assert q(card, "mark") == []
    assert "Why: LeCun (matched Yann LeCun)" in card.text_content() and "Why: LeCun (matched Yann LeCun)" in r.text



def _rendered_view(html: str) -> list[tuple[object, ...]]:
    """What a browser works from: each element, its attributes, its text and tail with whitespace
    runs as one space (outside <pre>, which cards do not use)."""
    doc = lxml.html.fromstring(f"<div>{html}</div>")
    return [(el.tag, sorted(el.attrib.items()), " ".join((el.text or "").split()), " ".join((el.tail or "").split()))
            for el in doc.iter()]


@given(st.lists(st.sampled_from(['<p class="a b" style="margin:8px 0 0">', "</p>", "<br>", '<a href="x?p=1&amp;k=m">',
                                 "</a>", "word", "wörd", "·", " ", "\n", "  ", "\t", "&#34;q&#34;", "fbtokPLACE"]),
                max_size=300),
       st.integers(min_value=20, max_value=200))
@hsettings(max_examples=300, deadline=None)
def test_fold_changes_line_breaks_only(pieces: list[str], limit: int) -> None:
    html = "".join(pieces)
    folded = email_render._fold(html, limit, placeholder="fbtokPLACE", room=30)
    assert _rendered_view(folded) == _rendered_view(html)
    assert "".join(folded.split()) == "".join(html.split())  # no character but whitespace moved
    for line in folded.split("\n"):
        weight = len(line.encode()) + line.count("fbtokPLACE") * (30 - len("fbtokPLACE"))
        assert weight <= limit or len(email_render._FOLD_WORD.findall(line)) == 1  # one over-long word may


def test_message_lines_are_long_and_few_but_within_rfc_5322() -> None:
    from digest.render.message import build_message

    r = _render(digest(20))
    html_lines = r.html.split("\n")
    assert max(len(line.encode()) for line in html_lines) <= 998
    assert len(html_lines) < 20 * 5  # a few lines per card (133 lines before cards were folded)
    assert all(line == "-- " or line == line.rstrip() for line in r.text.split("\n"))
    data = build_message(rendered=r, sender="Digest <digest@example.org>", recipient="ada@example.org",
                         message_id="<d.1@example.org>", date=T, list_id="digest daily <daily.digest.example.org>",
                         unsubscribe_https=r.unsubscribe_https, unsubscribe_mailto=r.unsubscribe_mailto, eight_bit=True)
    assert data.count(b"Content-Transfer-Encoding: 8bit") == 2  # both parts as they are, no quoted-printable


# --- real papers: where they came from, their summaries, why they matched ------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One SQLite store holding a real arXiv RSS capture (1,504 papers) and medRxiv details."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('real') / 'digest.db'}")
    ingest_file(store, DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml", now=T)
    ingest_file(store, DATA / "biorxiv" / "radar-papers-mcp_medrxiv_details_2026-09-15_trimmed.json", now=T)
    yield store
    store.close()


def _explain(query: str, p: Paper, name: str | None = None) -> Reason:
    """The real matcher's reason for ``p`` matching ``query``, as `digest match` stores it."""
    doc = Document.from_paper(p)
    found = compile_query(query).evaluate(doc, CorpusStats.from_documents([doc]))
    assert found is not None, f"{query!r} does not match {p.id}"
    return Reason(1, name or query, found.score, found.explanation)


def _card(*items: DigestItem) -> Any:
    r = _render(digest(items=items))
    return r, q(lxml.html.fromstring(r.html), "td.card")[0]


def _summary(card: Any) -> str:
    """The text of a card's summary paragraph (tl;dr or the abstract's first sentences)."""
    return " ".join(card.xpath("./p")[1].text_content().split())


def test_a_medrxiv_preprint_says_it_came_via_medrxiv(real: Store) -> None:
    """A medRxiv preprint (read by a source of kind "biorxiv" from the medRxiv server) is shown "via
    medRxiv", as its PDF link and page are: the server its source recorded names it."""
    med = real.get_paper("doi:10.64898/2026.09.14.26363001")
    assert "medrxiv.org" in (med.pdf_url or "")
    r, card = _card(DigestItem(med, (reason("clinical trials"),), score=1))
    assert q(card, "span.via")[0].text_content() == "via medRxiv"
    assert "via medRxiv" in r.text and "via bioRxiv" not in r.text


def test_a_generic_feed_paper_names_its_feed_not_the_format(tmp_path: Path) -> None:
    """A paper from a generic RSS/Atom feed is shown "via" the feed's configured name ("via
    iacr-eprint"), not "via RSS", its file format, which tells the reader nothing."""
    store = Store.open(f"sqlite:///{tmp_path / 'd.db'}")
    ingest_file(store, DATA / "generic-rss" / "research_bot_iacr_eprint_rss.xml", feed_name="iacr-eprint", now=T)
    p = store.get_paper("url:https://eprint.iacr.org/2026/1148")
    store.close()
    r, card = _card(DigestItem(p, (reason("lattice crypto"),), score=1))
    assert q(card, "span.via")[0].text_content() == "via iacr-eprint"
    assert "via iacr-eprint" in r.text


def test_a_paper_on_openreview_links_its_forum_once() -> None:
    """Reviews and discussion: an arXiv paper also on OpenReview gets an "OpenReview" link; a paper
    known only there already links its forum as the abstract."""
    r, card = _card(DigestItem(paper(1, openreview_id="Gj5JTAwdoy"), (reason(),), score=1))
    links = {a.text_content(): a.get("href") for a in q(card, "a") if a.get("href", "").startswith("https://openreview")}
    assert links == {"OpenReview": "https://openreview.net/forum?id=Gj5JTAwdoy"}
    assert "https://openreview.net/forum?id=Gj5JTAwdoy" in r.text
    only = paper(2, arxiv_id=None, openreview_id="a&b", url="https://openreview.net/forum?id=a%26b", pdf_url=None,
                 code_url=None)
    r, card = _card(DigestItem(only, (reason(),), score=1))
    _, _, links, _ = card.xpath("./p")  # authors, summary, links, why
    assert [(a.text_content(), a.get("href")) for a in links.xpath(".//a")] == [
        ("Abstract", "https://openreview.net/forum?id=a%26b")]


def test_the_via_line_names_the_journal_or_venue_a_source_gave() -> None:
    """Where the paper appeared, when a source said so: arXiv's journal reference, an OpenReview
    venue, a journal feed's PRISM name; cut short, and escaped like everything else."""
    cases = [(dict(journal_ref="Phys. Rev. D 110, 123456 (2024)"), "via arXiv, Hugging Face · Phys. Rev. D 110, 123456 (2024)"),
             (dict(venue="ICLR 2025 Oral", sources=(Via("openreview", "iclr", "abc", T),)), "via OpenReview · ICLR 2025 Oral"),
             (dict(venue=f"Venue {XSS}"), f"via arXiv, Hugging Face · Venue {XSS}")]
    for fields, line in cases:
        r, card = _card(DigestItem(paper(1, **fields), (reason(),), score=1))
        assert q(card, "span.via")[0].text_content() == line
        assert line in r.text
        assert "<script" not in r.html
    r, card = _card(DigestItem(paper(1, venue="Journal of " + "Long Names " * 30), (reason(),), score=1))
    via = q(card, "span.via")[0].text_content()
    assert via.endswith(" …") and len(via) < 200
    # Feeds and web listings say the same (one via_line).
    atom = render_feed([FeedEntry(paper(1, venue="ICLR 2025 Oral", sources=(Via("openreview", "iclr", "abc", T),)))],
                       title="t", feed_id="tag:example.org,2026:f", self_url="https://example.org/f.xml")
    assert b"via OpenReview \xc2\xb7 ICLR 2025 Oral" in atom
    # ...and link the forum of a paper that is on arXiv too.
    atom = render_feed([FeedEntry(paper(1, openreview_id="Gj5JTAwdoy"))], title="t", feed_id="tag:example.org,2026:f",
                       self_url="https://example.org/f.xml")
    assert b"https://openreview.net/forum?id=Gj5JTAwdoy&#34;&gt;OpenReview&lt;/a&gt;" in atom


@pytest.mark.parametrize(("paper_id", "wrong_end"), [
    ("arxiv:2411.18095", "Previously, Hutter et al."),
    ("arxiv:2405.19518", "It extends the work of Arcomano et al."),
    ("arxiv:2408.06413", "The $n$EPT method, detailed in Wang et al."),
    ("arxiv:2411.17739", "Recently A."),
])
def test_the_summary_does_not_stop_at_an_abbreviation(real: Store, paper_id: str, wrong_end: str) -> None:
    """Real abstracts: the summary's sentences do not end after "et al." or an initial ("A."), which
    would stop it in the middle of a sentence with no "…" to say so."""
    shown = _summary(_card(DigestItem(real.get_paper(paper_id), (reason(),), score=1))[1])
    assert not shown.endswith(wrong_end), shown
    assert not re.search(r"(\bet al\.|\b[A-Z]\.)$", shown), shown


@pytest.mark.parametrize("abstract", [
    # "e.g." before a name
    "Large language models reason well on many benchmarks. We evaluate them on grade-school math, e.g. "
    "GSM8K and its harder symbolic variants, and on competition mathematics, where we find that accuracy "
    "drops from 92.0% to 41.5% when the numbers are perturbed, and that chain-of-thought prompting recovers "
    "only a small part of that loss across all seven model families that we tested. We release the data.",
    # "Fig. 2"
    "We revisit double descent in deep ensembles. As summarised in Fig. 2 and discussed at length in the "
    "rest of this paper, the ensemble error decreases monotonically with width for all fourteen datasets "
    "and all three optimizers considered, which contradicts the double-descent picture widely reported for "
    "single networks of comparable size and training budget. We explain why this happens.",
])
def test_the_summary_does_not_stop_at_e_g_or_fig(abstract: str) -> None:
    """"e.g. GSM8K" and "Fig. 2" do not end a sentence of the summary; decimals ("92.0%") neither."""
    shown = _summary(_card(DigestItem(paper(1, abstract=abstract, tldr=None), (reason(),), score=1))[1])
    assert not shown.endswith(("e.g.", "Fig.", "92.", "41.")), shown


def test_tex_accents_are_resolved_in_the_summary_and_in_why(real: Store) -> None:
    """TeX in the summary and in the "Why" line's matched terms is shown as text, as in titles:
    "Schr\\"odinger" reads "Schrödinger", and the highlight stays on that word."""
    p = real.get_paper("arxiv:2411.17962")
    r, card = _card(DigestItem(p, (_explain("schrodinger", p),), score=1))
    assert "Schrödinger" in _summary(card)
    assert [m.text_content() for m in q(card, "p mark")] == ["Schrödinger"]
    assert '\\"' not in card.text_content()
    assert "(matched Schrödinger)" in r.text and 'Schr\\"odinger' not in r.text


def test_tex_highlights_cover_whole_commands() -> None:
    """A highlight inside a TeX command (a word in ``\\emph{...}``) covers the whole command, so that
    the summary shows the words and no command debris; text and HTML parts say the same."""
    abstract = r"We test \emph{in vivo} delivery of $\alpha$-helices. It works."
    start = abstract.index("vivo")
    why = Reason(1, "vivo", 1.0, {"clauses": [{"clause": "vivo", "field": "abstract", "matched": ["vivo"],
                                                "spans": [[start, start + 4]]}]})
    r, card = _card(DigestItem(paper(1, abstract=abstract, tldr=None), (why,), score=1))
    assert _summary(card) == "We test in vivo delivery of α-helices. It works."
    assert [m.text_content() for m in q(card, "p mark")] == ["in vivo"]
    assert "We test in vivo delivery of α-helices. It works." in r.text


def test_a_cut_summary_does_not_highlight_the_ellipsis() -> None:
    """A first sentence longer than the summary is cut at a word and ends with " …"; a matched word
    that was cut off is not highlighted, and the "…" never is."""
    head = ("We propose a training recipe for protein language models that scales to billions of parameters, "
            "that needs no multiple sequence alignments, that transfers across families and folds, that is "
            "robust to noisy labels from high-throughput assays, that keeps inference cheap on a single GPU, "
            "and whose representations ")
    abstract = head + "diffusion models then use as conditioning for backbone generation."
    start = abstract.index("diffusion")
    assert start > 300
    p = paper(1, abstract=abstract, tldr=None, title="Scaling protein language models")
    why = Reason(1, "diffusion", 1.0, {"clauses": [{"clause": "diffusion", "field": "abstract", "matched": ["diffusion"],
                                                     "spans": [[start, start + 9]]}]})
    _, card = _card(DigestItem(p, (why,), score=1))
    assert _summary(card).endswith("…")
    assert all("…" not in m.text_content() for m in q(card, "mark"))


def test_a_span_that_does_not_cover_what_it_matched_is_not_highlighted() -> None:
    """A match explanation whose span no longer covers the word it says it matched (offsets into an
    earlier version's abstract) highlights nothing rather than the wrong words; its terms still
    show in "Why"."""
    abstract = "Accepted at NeurIPS 2026 as an oral. We train diffusion models on proteins."
    stale = Reason(1, "diffusion", 1.0, {"clauses": [{"clause": "diffusion", "field": "abstract",
                                                       "matched": ["diffusion"], "spans": [[9, 18]]}]})
    r, card = _card(DigestItem(paper(1, abstract=abstract, tldr=None), (stale,), score=1))
    assert q(card, "p mark") == []
    assert "Why: diffusion (matched diffusion)" in r.text


@pytest.mark.parametrize(("query", "readable", "internal"), [
    ("cat:cs.RO", ("cs.RO",), "cs.ro"),
    ('src:"Hugging Face"', ("Hugging Face",), "huggingface"),
    ("src:hf-daily", ("hf-daily", "Hugging Face"), "hfdaily"),
])
def test_a_category_or_source_reason_reads_as_typed(real: Store, query: str, readable: tuple[str, ...],
                                                     internal: str) -> None:
    """A category or source in "Why" is spelled as the paper and its "via" line spell it ("cs.RO",
    "Hugging Face", a feed's name), not as the matcher's folded keys ("cs.ro", "huggingface")."""
    p = real.get_paper("arxiv:2411.18519") if query.startswith("cat:") else paper(1, tldr=None)
    r, _ = _card(DigestItem(p, (_explain(query, p, "mine"),), score=1))
    why = next(line.strip() for line in r.text.splitlines() if line.strip().startswith("Why: mine"))
    assert f"(matched {internal})" not in why, why
    assert any(f"(matched {form})" in why for form in readable), why


def test_the_subject_cuts_a_long_subscription_name_at_a_word() -> None:
    """A subscription name too long for the subject is cut at a word, with "…"."""
    name = "Self-supervised speech representation learning"
    items = tuple(DigestItem(paper(i), (reason(name),), score=1) for i in range(3))
    assert subject_for(digest(items=items)) == "3 new papers: Self-supervised speech representation… — Tue 24 Nov"
