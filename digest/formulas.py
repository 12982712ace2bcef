"""Formulas in outside HTML as readable text, for :mod:`digest.sanitize` (its only caller).

Publishers put MathML in abstracts (APS, Elsevier, MDPI; ``mml:``-prefixed or not) and JATS formula
elements (IEEE's ``<inline-formula><tex-math>``). An HTML parser files ``<math>`` content under the
MathML namespace, which the sanitizer's cleaner drops whole, and the bare text of its tokens loses
the structure: ``ν=5/2`` would read "ν=52", ``10^(−5)`` "10−5" and ``√s`` "s". So each formula
element is rendered here first, the way one would type it: fractions with "/", scripts with "^"
and "_", roots with "√", brackets around what has several symbols; annotations (the same formula
again in TeX or content MathML) are left out.

The scan is linear: each formula element is found once, and one without its end tag is left as it
is (the sanitizer then treats it as any other markup).
"""

from __future__ import annotations

import html
import re

import lxml.html
from lxml import etree

__all__ = ["formulas_as_text"]

#: The elements whose content is one formula (MathML's root and the JATS containers).
_FORMULA_OPEN = re.compile(r"<((?:[A-Za-z][\w.-]*:)?(?:math|inline-formula|disp-formula))(?=[\s/>])[^<>]*>",
                           re.IGNORECASE)
_SKIPPED = frozenset({"annotation", "annotation-xml", "mprescripts", "none", "mspace", "malignmark"})
_SCRIPTS = {"msup": "^", "msub": "_"}


def formulas_as_text(markup: str) -> str:
    """``markup`` with each formula element replaced by its text (escaped as markup again)."""
    lowered = markup.lower()
    if "math" not in lowered and "formula" not in lowered:
        return markup
    out: list[str] = []
    pos = 0
    while (m := _FORMULA_OPEN.search(markup, pos)) is not None:
        close = lowered.find(f"</{m.group(1).lower()}", m.end())
        end = lowered.find(">", close) if close >= 0 else -1
        if end < 0:
            break
        out.append(markup[pos:m.start()])
        text = _formula_text(markup[m.end():close])
        out.append(html.escape(text, quote=False))
        pos = end + 1
    out.append(markup[pos:])
    return "".join(out)


def _formula_text(inner: str) -> str:
    try:
        root = lxml.html.fragment_fromstring(inner, create_parent="math")
    except (etree.ParserError, ValueError):  # nothing but whitespace, or markup the parser refuses
        return " ".join(inner.split()) if "<" not in inner else ""
    return " ".join(_render(root).split())


def _name(el: etree._Element) -> str:
    return el.tag.rpartition(":")[2].lower() if isinstance(el.tag, str) else ""


def _render(el: etree._Element) -> str:
    name = _name(el)
    if name in _SKIPPED:
        return ""
    kids = [k for k in el if isinstance(k.tag, str) and _name(k) not in _SKIPPED]
    if name == "mfrac" and len(kids) == 2:
        return f"{_group(kids[0])}/{_group(kids[1])}"
    if name == "msqrt":
        return f"√{_grouped(''.join(_render(k) for k in kids))}"
    if name == "mroot" and len(kids) == 2:
        return f"{_group(kids[1])}√{_group(kids[0])}"
    if name in _SCRIPTS and len(kids) == 2:
        return f"{_render(kids[0])}{_SCRIPTS[name]}{_group(kids[1])}"
    if name == "msubsup" and len(kids) == 3:
        return f"{_render(kids[0])}_{_group(kids[1])}^{_group(kids[2])}"
    if name == "tex-math":
        return "".join(el.itertext())
    # Tokens (mi, mn, mo, mtext) and rows: their text and their children's, in order.
    parts = [el.text or ""]
    for kid in el:
        if isinstance(kid.tag, str):
            parts.append(_render(kid))
        parts.append(kid.tail or "")
    return "".join(parts)


def _group(el: etree._Element) -> str:
    return _grouped(_render(el))


def _grouped(text: str) -> str:
    """``text`` as one operand: bracketed unless it is a single symbol or a run of letters/digits."""
    text = " ".join(text.split())
    return text if len(text) <= 1 or text.replace(".", "").isalnum() else f"({text})"
