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


# --- formulas: hidden content, the scan, structure -----------------------------------------------


@pytest.mark.parametrize("markup", [
    "We study <math><mtext><script>stealth()</script></mtext></math> ok",
    "We study <math><mi>x</mi><style>.stealth{}</style></math> ok",
    "We study <mml:math><mml:mtext><template>stealth()</template></mml:mtext></mml:math> ok",
    # A self-closing formula element pairs with the next formula's end tag: the script between is "inside".
    "We study <math/> x <script>stealth()</script> <math><mi>y</mi></math> ok",
])
def test_script_style_and_template_content_inside_a_formula_stays_dropped(markup: str) -> None:
    """to_text's contract: script/style/template content never becomes text, inside a formula too."""
    assert "stealth" not in to_text(markup)


# --- the scan's indices --------------------------------------------------------------------------


def test_text_before_a_formula_with_dotted_capital_i_does_not_shift_the_scan() -> None:
    """'İ'.lower() is two characters: nothing may be located in a lower-cased copy."""
    assert to_text("<p>İzmir group: <math><mi>x</mi></math> and the rest</p>") == "İzmir group: x and the rest"
    assert to_text("İİİİİ <math><mi>x</mi></math> and more") == "İİİİİ x and more"


def test_formula_attribute_with_a_greater_than_sign() -> None:
    """alttext holds the formula as text; '>' is legal unquoted-escaped in an XML attribute."""
    assert to_text('p <math alttext="p > 0.05"><mi>p</mi><mo>&gt;</mo><mn>0.05</mn></math> ok') == "p p>0.05 ok"


def test_self_closing_formula_does_not_swallow_the_paragraphs_up_to_the_next_formula() -> None:
    assert to_text("<p>1 <math/> two</p><p>three <math><mi>y</mi></math></p>") == "1 two\nthree y"


@pytest.mark.parametrize(("markup", "text"), [
    # An opener without its end tag does not stop the scan: later formulas are still rendered.
    ("the <inline-formula> tag. Then <math><msup><mi>x</mi><mn>2</mn></msup></math> end",
     "the <inline-formula> tag. Then x^2 end"),
    # A comment holding the end tag.
    ("a <math><mi>x</mi><!-- </math> --><mi>y</mi></math> b", "a xy b"),
    # A formula inside a token.
    ("a <math><mi><math><mi>x</mi></math></mi></math> b", "a x b"),
])
def test_formula_markup_never_leaks_into_the_text(markup: str, text: str) -> None:
    out = to_text(markup)
    assert "<mi>" not in out and "</mi>" not in out and "<msup>" not in out and "-->" not in out
    assert out == text


# --- structure ------------------------------------------------------------------------------------


def test_ieee_springer_alternatives_write_the_formula_once() -> None:
    markup = ('f <inline-formula><alternatives><tex-math>\\alpha</tex-math>'
              '<mml:math><mml:mi>α</mml:mi></mml:math></alternatives></inline-formula> end')
    assert to_text(markup) in ("f α end", "f \\alpha end")


def test_springer_tex_math_preamble_is_not_text() -> None:
    """Springer/BMC JATS wrap each tex-math in a whole LaTeX document."""
    markup = ('for <inline-formula><tex-math id="M1">\\documentclass[12pt]{minimal}\\usepackage{amsmath}'
              '\\setlength{\\oddsidemargin}{-69pt}\\begin{document}$$\\alpha$$\\end{document}</tex-math>'
              '</inline-formula> end')
    out = to_text(markup)
    assert "documentclass" not in out and "usepackage" not in out and "\\alpha" in out


@pytest.mark.parametrize(("markup", "text"), [
    # Elsevier writes brackets as mfenced (open/close default to "(" and ")", separators to ",").
    ("<math><msup><mfenced><mrow><mi>a</mi><mo>+</mo><mi>b</mi></mrow></mfenced><mn>2</mn></msup></math>",
     "(a+b)^2"),
    ("<math><mi>f</mi><mfenced><mi>x</mi><mi>y</mi></mfenced></math>", "f(x,y)"),
    # A script's base of several symbols needs brackets as much as its script does.
    ("<math><msup><mfrac><mi>a</mi><mi>b</mi></mfrac><mn>2</mn></msup></math>", "(a/b)^2"),
    ("<math><msup><mrow><mi>a</mi><mo>+</mo><mi>b</mi></mrow><mn>2</mn></msup></math>", "(a+b)^2"),
])
def test_brackets_and_script_bases_keep_the_meaning(markup: str, text: str) -> None:
    assert to_text(markup) == text


def test_sums_limits_and_prescripts_keep_their_limits() -> None:
    total = to_text("<math><munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi>"
                    "</munderover><msub><mi>x</mi><mi>i</mi></msub></math>")
    assert "∑_(i=1)^n" in total
    limit = to_text("<math><munder><mo>lim</mo><mrow><mi>x</mi><mo>→</mo><mn>0</mn></mrow></munder></math>")
    assert limit == "lim_(x→0)"
    isotope = to_text("<math><mmultiscripts><mi>U</mi><mprescripts/><none/><mn>235</mn></mmultiscripts></math>")
    assert isotope in ("^235U", "²³⁵U")


def test_table_cells_are_separate_values() -> None:
    out = to_text("<math><mtable><mtr><mtd><mn>1</mn></mtd><mtd><mn>2</mn></mtd></mtr>"
                  "<mtr><mtd><mn>3</mn></mtd><mtd><mn>4</mn></mtd></mtr></mtable></math>")
    assert "1 2" in out and "3 4" in out


@pytest.mark.parametrize(("markup", "text"), [
    ("<math><mi>sin</mi><mspace width='thickmathspace'/><mi>x</mi></math>", "sin x"),
    ("<math><mi>sin</mi><mo>&#x2061;</mo><mi>x</mi></math>", "sin x"),  # ApplyFunction, invisible
    ("<math><mi>a</mi><mo>&#x2062;</mo><mi>b</mi></math>", "ab"),  # InvisibleTimes
    ("<math><mn>5</mn><mspace width='0.25em'/><mi mathvariant='normal'>K</mi></math>", "5 K"),
    ("<math><mn>1</mn><mphantom><mn>0</mn></mphantom><mn>2</mn></math>", "12"),  # mphantom is invisible
])
def test_spacing_and_invisible_elements(markup: str, text: str) -> None:
    assert to_text(markup) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("if x<a and y>b then", "if x<a and y>b then"),       # "<a and y>" has no attribute value: mathematics
    ("for 0<b and c>1 we", "for 0<b and c>1 we"),
    ("sizes n<i and j>k hold", "sizes n<i and j>k hold"),
    ("if x&lt;a and y&gt;b then", "if x<a and y>b then"),
    ("we show <b>bold</b> and <a href='https://e.org'>a link</a>", "we show bold and a link"),
])
def test_inequalities_shaped_like_tags_are_text(text: str, expected: str) -> None:
    assert to_text(text) == expected


@pytest.mark.parametrize("markup", [
    "<img/src=x onerror=alert(1)>t", "<svg/onload=alert(1)>t", "<script defer>alert(1)</script>t",
    "<a/href=javascript:alert(1)>t</a>", "<iframe srcdoc=x>t",
])
def test_tags_written_with_slashes_or_bare_attributes_are_still_tags(markup: str) -> None:
    out = to_text(markup)
    assert "alert" not in out and "<" not in out


# A "<" inside a quoted attribute value is part of the tag, not the end of its shape.
@pytest.mark.parametrize("markup", [
    '<a href="javascript:alert(1)" title="<">click</a> end',
    '<img alt="<" src=x onerror=alert(1)>end',
    "<img src=x onerror=alert(1)//<>end",
    '<img src=x alt="a<b" onerror=alert(1)/>end',
    '<script src="https://evil.example/x.js?<"></script>end',
    '<script x="<">alert(1)</script>end',
    '<iframe src="https://evil.example/?a<b"></iframe>end',
    '&lt;p&gt;&lt;a title="&lt;" href=javascript:alert(1)&gt;end',  # double-escaped, second pass
])
def test_a_less_than_sign_inside_an_attribute_does_not_turn_the_tag_into_text(markup: str) -> None:
    out = to_text(markup)
    assert "<" not in out and "alert" not in out and "evil" not in out, out
    assert out.endswith("end")


def test_real_attribute_with_a_less_than_sign_keeps_only_the_text() -> None:
    assert to_text('<span title="p<0.05">significant</span> result') == "significant result"


# A tag with attribute values cut off at the end of the text (a truncated summary) is still a tag.
@pytest.mark.parametrize("markup", ["text <img src=x onerror=alert(1)//", "text <script src=//evil.example/x.js"])
def test_a_truncated_tag_with_attributes_is_not_kept_as_text(markup: str) -> None:
    assert to_text(markup) == "text"


# Bare (boolean or legacy) attributes on elements whose names are not one letter: real markup.
@pytest.mark.parametrize(("markup", "text"), [
    ("<table border><tr><td nowrap>1</td><td nowrap>2</td></tr></table>", "1 2"),
    ("<p>a</p><hr noshade><p>b</p>", "a\nb"),
    ("<video controls><source src=x.mp4></video>Watch", "Watch"),
    ("<details open><summary>More</summary> text</details>", "More text"),
    ("<ol reversed><li>one</li></ol>", "one"),
    ("<span hidden>x</span> y", "x y"),
    ("a <svg onload> b", "a b"),
    ("<input autofocus> c", "c"),
])
def test_bare_attributes_on_longer_element_names_are_still_tags(markup: str, text: str) -> None:
    assert to_text(markup) == text


def test_to_text_leaves_out_figure_captions() -> None:
    # A blog post's photo credit ("Photo by A on Unsplash") is no text of the paper it describes.
    markup = ('<figure><img src="https://e.org/p.png"/><figcaption>Photo by <a href="https://e.org">A</a> on Unsplash'
              "</figcaption></figure><p>We study things.</p>")
    assert to_text(markup) == "We study things."
