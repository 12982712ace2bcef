"""digest.sanitize: the one sanitizer for outside HTML (issue #4: no markup, script, event handler or
javascript: URL from a feed ever reaches what we produce)."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.sanitize import display_text, header_safe, safe_html, safe_url, to_text

# --- to_text ---------------------------------------------------------------------------------


def test_to_text_drops_tags_scripts_and_styles_and_decodes_entities() -> None:
    got = to_text("<p>Caf&eacute; &amp; <b>bar</b></p><script>alert(1)</script><style>p{}</style>x &lt; y")
    assert got == "Café & bar\nx < y"


def test_to_text_keeps_block_boundaries_as_single_newlines_and_collapses_whitespace() -> None:
    assert to_text("<p>one\n  two</p><p>three<br>four</p>") == "one two\nthree\nfour"
    assert to_text("plain   text\nwith breaks") == "plain text with breaks"


def test_to_text_unwraps_double_escaped_markup() -> None:
    # RSS descriptions often carry escaped HTML that the feed escaped once more.
    assert to_text("&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;") == "Hello world"
    assert "alert" not in to_text("&lt;script&gt;alert(1)&lt;/script&gt;Text")


def test_to_text_keeps_maths_that_only_looks_like_a_tag_opener() -> None:
    assert to_text("for all n<k and x <= 3") == "for all n<k and x <= 3"


def test_to_text_of_nothing() -> None:
    assert to_text("") == ""
    assert to_text(None) == ""


_TAG = re.compile(r"<\s*/?\s*(script|style|img|iframe|svg|a|p|b|div|body|html)\b[^<>]*>", re.IGNORECASE)
_markup = st.lists(st.sampled_from([
    "<script>alert(1)</script>", "<p>", "</p>", "<b>", "<img src=x onerror=alert(1)>", "&lt;b&gt;",
    "&lt;script&gt;", "&amp;lt;p&amp;gt;", "<!-- c -->", "<a href='javascript:x'>", "</a>", "<svg onload=x>",
    "<style>*{}</style>", "text", " ", "\n", "<", ">", "&", "&amp;", "<scr<script>ipt>", "\x00", "é",
]), max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_markup, st.text(max_size=200)))
def test_to_text_never_returns_tags(raw: str) -> None:
    out = to_text(raw)
    assert not _TAG.search(out)
    assert "\x00" not in out


# --- safe_html -------------------------------------------------------------------------------


def test_safe_html_keeps_the_small_allow_list() -> None:
    got = safe_html('<p>E = mc<sup>2</sup>, H<sub>2</sub>O, <code>x</code> <em>a</em> <strong>b</strong>'
                    '<i>c</i><b>d</b><br></p>')
    assert got == ("<p>E = mc<sup>2</sup>, H<sub>2</sub>O, <code>x</code> <em>a</em> <strong>b</strong>"
                   "<i>c</i><b>d</b><br></p>")


def test_safe_html_links_get_rel_and_only_web_or_mail_schemes() -> None:
    got = safe_html('<a href="https://example.org/x" title="t" onclick="x()">ok</a>'
                    '<a href="mailto:a@example.org">mail</a><a href="javascript:alert(1)">js</a>'
                    '<a href="data:text/html,<script>x</script>">data</a><a href="/relative">rel</a>')
    assert '<a href="https://example.org/x" rel="nofollow noopener">ok</a>' in got
    assert 'href="mailto:a@example.org"' in got
    assert got.count("href=") == 2
    assert "javascript" not in got and "data:" not in got and "onclick" not in got and "title=" not in got


def test_safe_html_strips_everything_else() -> None:
    got = safe_html('<div style="x"><img src="x" onerror="alert(1)"><script>alert(2)</script><iframe src="//e">'
                    '</iframe><span class="c">kept text</span><table><tr><td>cell</td></tr></table></div>')
    assert got == "kept textcell"


_SCHEME_VARIANTS = ["javascript:", "JaVaScRiPt:", " javascript:", "java\tscript:", "java&#x09;script:",
                    "&#106;avascript:", "&#x6A;avascript:", "javascript&colon;", "jav&#x0A;ascript:",
                    "\x01javascript:", "vbscript:", "data:text/html;base64,PHNjcmlwdD4="]
_EVIL = st.lists(st.one_of(
    st.sampled_from([
        "<script>alert(1)</script>", "<SCRIPT SRC=//x></SCRIPT>", "<scr<script>ipt>alert(1)</script>",
        "<img src=x onerror=alert(1)>", "<p onclick='x()'>", "<a href='{}alert(1)'>x</a>",
        "<svg/onload=alert(1)>", "<body onload=alert(1)>", "<a onmouseover=alert(1) href='https://e.org'>",
        "<p style='background:url(javascript:alert(1))'>", "<math><mi xlink:href='javascript:alert(1)'>",
        "<iframe src='javascript:alert(1)'>", "<form action='javascript:alert(1)'>", "<!--<script>-->",
        "<a href=\"{}alert(1)\">", "</p>", "<b>", "text", "&lt;script&gt;", "\"", "'", "<", ">", "=",
    ]),
    st.sampled_from(_SCHEME_VARIANTS).map(lambda s: f"<a href=\"{s}alert(1)\">x</a>"),
    st.text(max_size=20),
), max_size=25).map("".join)


def _visible_markup(out: str) -> str:
    # What a browser would interpret: attribute values are entity-decoded, so check the decoded form.
    return html.unescape(out).lower()


@settings(max_examples=400, deadline=None)
@given(_EVIL)
def test_safe_html_never_emits_script_handlers_or_javascript_urls(raw: str) -> None:
    out = safe_html(raw)
    tags = re.findall(r"<[^>]*>", out)
    for tag in tags:
        name = re.match(r"</?([a-z0-9]+)", tag)
        assert name and name.group(1) in {"p", "br", "em", "strong", "i", "b", "sub", "sup", "code", "a"}, tag
        assert not re.search(r"\son[a-z]+\s*=", tag, re.IGNORECASE), tag
        assert "style=" not in tag.lower() and "src=" not in tag.lower()
        for href in re.findall(r'href="([^"]*)"', tag):
            assert re.match(r"(https?|mailto):", html.unescape(href), re.IGNORECASE), href
    lowered = _visible_markup("".join(tags))
    assert "<script" not in out.lower()
    assert "javascript:" not in re.sub(r"\s", "", lowered)


# --- safe_url / header_safe ------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://arxiv.org/abs/2401.01234", "http://example.org/a?b=c#d",
                                 "  https://example.org/padded  "])
def test_safe_url_accepts_http_and_https(url: str) -> None:
    assert safe_url(url) == url.strip()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "mailto:a@b.c",
                                 "ftp://example.org/x", "//example.org/x", "/relative", "https://", "https://ex\nample.org",
                                 "https://example.org/\x00x", "https://exa mple.org", "http://example.org:99999/",
                                 "https:\\\\evil.org", "vbscript:x", "", None, "https://e.org/\u202eevil"])
def test_safe_url_rejects_everything_else(url: str | None) -> None:
    assert safe_url(url) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_safe_url_output_is_always_a_clean_web_url(raw: str) -> None:
    out = safe_url(raw)
    if out is not None:
        assert out.lower().startswith(("http://", "https://"))
        assert not any(ord(c) < 0x21 or 0x7F <= ord(c) <= 0x9F for c in out)


def test_header_safe_removes_line_breaks() -> None:
    assert header_safe("7 new papers\r\nBcc: victim@example.org") == "7 new papers Bcc: victim@example.org"
    assert header_safe("a\u2028b\x00c\td") == "a b c d"
    assert header_safe(None) == ""


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_header_safe_never_contains_cr_or_lf(raw: str) -> None:
    out = header_safe(raw)
    assert "\r" not in out and "\n" not in out and "\x00" not in out


def test_header_safe_drops_what_utf_8_cannot_encode() -> None:
    assert header_safe("a\ud800b\udfff\ufffec") == "abc"
    header_safe("x\ud83d y").encode("utf-8")


@pytest.mark.parametrize(("url", "expected"), [
    ('https://e.example/a"b', "https://e.example/a%22b"),
    ("https://doi.org/10.1002/(SICI)1097<x>{y}|^`", "https://doi.org/10.1002/(SICI)1097%3Cx%3E%7By%7D%7C%5E%60"),
    ("https://e.example/q?a=1&b='c'", "https://e.example/q?a=1&b='c'"),  # sub-delims stay (RFC 3986 §2.2)
])
def test_safe_url_percent_encodes_what_rfc_3986_never_allows_literally(url: str, expected: str) -> None:
    assert safe_url(url) == expected


@pytest.mark.parametrize("url", ["https://e.example/\ud800", "https://e.example/\ufffe", "https://e.example/\u2066x"])
def test_safe_url_rejects_unencodable_and_bidi_characters(url: str) -> None:
    assert safe_url(url) is None


# --- display_text ----------------------------------------------------------------------------

RLO, LRI, PDF, PDI = "\u202e", "\u2066", "\u202c", "\u2069"


def test_display_text_leaves_ordinary_text_alone() -> None:
    for text in ("Attention is all you need", "Łukasz \U0001f469\u200d\U0001f52c $\\alpha$", "עברית ועוד", "tab\there\nnl"):
        assert display_text(text) is text


def test_display_text_drops_what_xml_forbids() -> None:
    assert display_text("a\x00b\x0bc\x1fd\ufffee\uffff\ud800f") == "abcdef"
    assert display_text("keeps\ttab\nand\rcr") == "keeps\ttab\nand\rcr"


@pytest.mark.parametrize(("raw", "expected"), [
    (f"evil {RLO}txt", f"evil {RLO}txt{PDF}"),
    (f"{RLO}a{PDF} b", f"{RLO}a{PDF} b"),                       # balanced: unchanged
    (f"{PDF}{PDI}stray", f"{PDF}{PDI}stray"),                  # closers without openers are inert (X6a, X7)
    (f"{LRI}{RLO}x", f"{LRI}{RLO}x{PDF}{PDI}"),                 # innermost first
    (f"{LRI}{RLO}x{PDI}", f"{LRI}{RLO}x{PDI}"),                 # PDI closes the override inside it
    (f"{RLO}{LRI}x{PDF}", f"{RLO}{LRI}x{PDF}{PDI}{PDF}"),       # a PDF cannot close past an isolate
    (f"{RLO}para one\n{LRI}two", f"{RLO}para one\n{LRI}two{PDI}"),  # a paragraph break ends embeddings
])
def test_display_text_closes_bidi_controls_left_open(raw: str, expected: str) -> None:
    assert display_text(raw) == expected


def test_display_text_drops_bidi_controls_nested_beyond_reason() -> None:
    assert display_text(RLO * 200 + "x") == "x"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", " ", "\n", RLO, LRI, PDF, PDI, "\u202a", "\u2068", "\x00", "\ud800"]),
               max_size=40))
def test_display_text_is_always_balanced_and_encodable(raw: str) -> None:
    out = display_text(raw)
    out.encode("utf-8")
    open_: list[str] = []
    for c in out:  # what is still open after the last character, per UAX #9 X1-X8
        if c == "\n":
            open_.clear()
        elif c in (RLO, "\u202a"):
            open_.append("e")
        elif c in (LRI, "\u2068"):
            open_.append("i")
        elif c == PDF and open_ and open_[-1] == "e":
            open_.pop()
        elif c == PDI and "i" in open_:
            while open_.pop() != "i":
                pass
    assert not open_


# --- publishers' formulas and tables --------------------------------------------------------------

@pytest.mark.parametrize(("markup", "text"), [
    # APS: presentation MathML, escaped once in the RSS description like the rest of the HTML.
    ('<p>period <math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><mi>T</mi><mo>=</mo>'
     '<mn>2</mn><mi>π</mi><mo>/</mo><mi>ω</mi></mrow></math> where <math><mi>N</mi><mo>&lt;</mo>'
     '<msup><mn>10</mn><mn>5</mn></msup></math>.</p>', "period T=2π/ω where N<10^5."),
    # Elsevier/JATS: prefixed MathML; the TeX annotation repeats the formula and is dropped.
    ('a <mml:math><mml:semantics><mml:msub><mml:mi>E</mml:mi><mml:mn>0</mml:mn></mml:msub>'
     '<mml:annotation encoding="application/x-tex">E_0</mml:annotation></mml:semantics></mml:math> b', "a E_0 b"),
    # IEEE: JATS formula elements without a prefix.
    ('We achieve <inline-formula><tex-math notation="LaTeX">$O(\\sqrt{n})$</tex-math></inline-formula> regret.',
     "We achieve $O(\\sqrt{n})$ regret."),
    # Table cells are separate values, rows separate lines.
    ("<table><tr><th>Study</th><th>N</th><th>d</th></tr><tr><td>1</td><td>2141</td><td>0.04</td></tr></table>",
     "Study N d\n1 2141 0.04"),
])
def test_formulas_and_tables_become_readable_text(markup: str, text: str) -> None:
    assert to_text(markup) == text


def test_words_that_look_like_formula_tags_stay_text() -> None:
    # MathML's element names are tags only inside a formula: "Cd<Zn<Cu<Mn" is a sequence of metals.
    assert to_text("mean <mean> and <m> and m<n, <mi> alone") == "mean <mean> and <m> and m<n, <mi> alone"


def test_stray_lt_before_element_symbols_keeps_the_rest_of_the_abstract() -> None:
    """MathML's names (mn, mo, mi, ms) are tags only inside a formula: "<Mn in ..." is text."""
    text = "Metal mobility followed Cd<Zn<Cu<Mn in all soils, while sorption of Pb exceeded that of Cd."
    assert to_text(text) == text
    assert to_text("Yields rose for Cu<Mo and W catalysts.") == "Yields rose for Cu<Mo and W catalysts."


def test_mathml_fraction_keeps_its_meaning() -> None:
    """The 5/2 fractional quantum Hall state is not fifty-two."""
    out = to_text("<p>the <math><mi>ν</mi><mo>=</mo><mfrac><mn>5</mn><mn>2</mn></mfrac></math> state</p>")
    assert out == "the ν=5/2 state"


def test_mathml_negative_exponent_keeps_its_mark() -> None:
    """An exponent of several symbols keeps its mark and its brackets, not "10−5" (a range)."""
    out = to_text("<p>a rate of <math><msup><mn>10</mn><mrow><mo>−</mo><mn>5</mn></mrow></msup></math> per year</p>")
    assert out in ("a rate of 10^−5 per year", "a rate of 10^(−5) per year")


def test_mathml_square_root_keeps_its_sign() -> None:
    """APS HEP abstracts: "√s = 13 TeV", not "s=13 TeV"."""
    assert to_text("<p>at <math><msqrt><mi>s</mi></msqrt><mo>=</mo><mn>13</mn></math> TeV</p>").startswith("at √")


def test_a_formula_element_without_its_end_tag_is_left_to_the_cleaner() -> None:
    # Nothing is scanned twice: the rest of the text is kept as it is.
    assert to_text("a <math><mi>x</mi> and " + "<annotation>x" * 50 + " end").endswith("end")
