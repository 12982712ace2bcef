"""Formulas in outside HTML as readable text, for :mod:`digest.sanitize` (its only caller).

Publishers put MathML in abstracts (APS, Elsevier, MDPI; ``mml:``-prefixed or not) and JATS formula
elements (IEEE's and Springer's ``<inline-formula>`` with ``<tex-math>``, often both in
``<alternatives>``). An HTML parser files ``<math>`` content under the MathML namespace, which the
sanitizer's cleaner drops whole, and the bare text of its tokens loses the structure: ``ν=5/2`` would
read "ν=52", ``10^(−5)`` "10−5" and ``√s`` "s". So each formula element is rendered here first, the
way one would type it: fractions with "/", scripts and limits with "^" and "_", roots with "√",
brackets (``mfenced``'s, and around any operand of several symbols), matrices as rows of values.
Annotations (the formula again in TeX or content MathML), invisible elements and anything the
sanitizer drops (scripts, styles) are left out.

The scan is linear: each formula element is rendered once; an opening tag without its end tag is
left to the sanitizer's cleaner, and so is every later one of that name (none has an end tag).
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from functools import lru_cache

import lxml.html
from lxml import etree

from digest.text import script_operand

__all__ = ["formulas_as_text"]

_NAMES = r"(?:[A-Za-z][\w.-]*:)?(?:math|inline-formula|disp-formula)"
#: A formula element's opening tag; quoted attribute values may hold ">" (alttext="p > 0.05").
_FORMULA_OPEN = re.compile(rf"<({_NAMES})(?=[\s/>])(?:\"[^\"]*\"|'[^']*'|[^<>\"'])*>", re.IGNORECASE)
_SKIPPED = frozenset({"annotation", "annotation-xml", "mprescripts", "none", "mphantom", "malignmark", "maligngroup"})
_SCRIPTS = {"msub": ("_",), "msup": ("^",), "msubsup": ("_", "^"), "munder": ("_",), "mover": ("^",),
            "munderover": ("_", "^")}
#: Accents written over a symbol (mover accent="true") as combining characters: x̄, x̂, x̃, ẋ, x⃗.
_ACCENTS = {"¯": "\u0304", "‾": "\u0305", "^": "\u0302", "ˆ": "\u0302", "~": "\u0303", "˜": "\u0303",
            "˙": "\u0307", "¨": "\u0308", "→": "\u20d7", "⃗": "\u20d7"}
#: Function application (U+2061) reads as a space; invisible times, separator and plus as nothing.
_INVISIBLE = str.maketrans({"\u2061": " ", "\u2062": None, "\u2063": None, "\u2064": None})
_TEX_DOCUMENT = re.compile(r"\\begin\{document\}(.*?)\\end\{document\}", re.DOTALL)


def formulas_as_text(markup: str, *, drop: Collection[str] = ()) -> str:
    """``markup`` with each formula element replaced by its text (escaped as markup again); the
    content of elements named in ``drop`` (the sanitizer's scripts and styles) is left out."""
    if not _maybe_formula(markup):
        return markup
    out: list[str] = []
    pos = 0
    search_from = 0
    unclosed: set[str] = set()
    while (m := _FORMULA_OPEN.search(markup, search_from)) is not None:
        name = m.group(1).lower()
        if m.group(0).endswith("/>"):  # <math/>: an empty formula
            out.append(markup[pos:m.start()])
            pos = search_from = m.end()
            continue
        end = None if name in unclosed else _end_of(markup, name, m.end())
        if end is None:
            unclosed.add(name)
            search_from = m.end()
            continue
        inner_end, after = end
        out.append(markup[pos:m.start()])
        out.append(html.escape(_formula_text(markup[m.end():inner_end], drop), quote=False))
        pos = search_from = after
    out.append(markup[pos:])
    return "".join(out)


def _maybe_formula(markup: str) -> bool:
    lowered = markup.lower()  # only tested for containment: lower() may change lengths ("İ")
    return "math" in lowered or "formula" in lowered


@lru_cache(maxsize=64)
def _tags_of(name: str) -> re.Pattern[str]:
    """Opening and end tags of one element name, and comments (which may hold either)."""
    return re.compile(rf"<!--|<(/?){re.escape(name)}(?=[\s/>])(?:\"[^\"]*\"|'[^']*'|[^<>\"'])*>", re.IGNORECASE)


def _end_of(markup: str, name: str, start: int) -> tuple[int, int] | None:
    """(where the content ends, where the end tag ends) of the element whose content starts at
    ``start``; nested elements of the same name are paired, comments skipped. None without one."""
    depth = 1
    pos = start
    tags = _tags_of(name)
    while (m := tags.search(markup, pos)) is not None:
        if m.group(0) == "<!--":
            close = markup.find("-->", m.end())
            if close < 0:
                return None
            pos = close + 3
            continue
        pos = m.end()
        if m.group(1):
            depth -= 1
            if depth == 0:
                return m.start(), m.end()
        elif not m.group(0).endswith("/>"):
            depth += 1
    return None


def _formula_text(inner: str, drop: Collection[str]) -> str:
    try:
        root = lxml.html.fragment_fromstring(inner, create_parent="math")
    except (etree.ParserError, ValueError):  # nothing but whitespace, or markup the parser refuses
        return " ".join(inner.split()) if "<" not in inner else ""
    return " ".join(_Renderer(drop).render(root).translate(_INVISIBLE).split())


def _name(el: etree._Element) -> str:
    return el.tag.rpartition(":")[2].lower() if isinstance(el.tag, str) else ""


class _Renderer:
    def __init__(self, drop: Collection[str]) -> None:
        self.drop = drop

    def render(self, el: etree._Element) -> str:
        name = _name(el)
        if name in _SKIPPED or name in self.drop:
            return ""
        kids = [k for k in el if isinstance(k.tag, str) and _name(k) not in _SKIPPED and _name(k) not in self.drop]
        if name == "mfrac" and len(kids) == 2:
            return f"{self.group(kids[0])}/{self.group(kids[1])}"
        if name == "msqrt":
            return f"√{script_operand(self.row(kids))}"
        if name == "mroot" and len(kids) == 2:
            return f"{self.group(kids[1])}√{self.group(kids[0])}"
        if name in _SCRIPTS and len(kids) == len(_SCRIPTS[name]) + 1:
            return self.scripts(el, name, kids)
        if name == "mmultiscripts" and kids:
            return self.multiscripts(el)
        if name == "mfenced":
            return self.fenced(el, kids)
        if name == "mtable":
            return "; ".join(self.render(k) for k in kids)
        if name in ("mtr", "mlabeledtr"):
            return " ".join(self.render(k) for k in kids)
        if name == "mspace":
            return " "
        if name == "alternatives":
            # The same formula twice (TeX and MathML): MathML reads as typed text, TeX as TeX.
            chosen = next((k for k in kids if _name(k) == "math"), kids[0] if kids else None)
            return self.render(chosen) if chosen is not None else ""
        if name == "tex-math":
            tex = "".join(el.itertext())
            document = _TEX_DOCUMENT.search(tex)  # Springer/BMC: a whole LaTeX document per formula
            return (document.group(1) if document else tex).replace("$$", " ").strip()
        # Tokens (mi, mn, mo, mtext) and rows: their text and their children's, in order. A formula
        # given as TeX and again as MathML beside it (IEEE: <tex-math> then <alternatives>) is one
        # formula: its MathML is read, as in <alternatives>.
        twice = any(_name(k) == "tex-math" for k in kids) and any(_name(k) in ("alternatives", "math") for k in kids)
        parts = [el.text or ""]
        for kid in el:
            if isinstance(kid.tag, str) and not (twice and _name(kid) == "tex-math"):
                parts.append(self.render(kid))
            parts.append(kid.tail or "")
        return "".join(parts)

    def row(self, kids: list[etree._Element]) -> str:
        return "".join(self.render(k) for k in kids)

    def group(self, el: etree._Element) -> str:
        return script_operand(self.render(el))

    def scripts(self, el: etree._Element, name: str, kids: list[etree._Element]) -> str:
        base = self.render(kids[0])
        if name == "mover" and el.get("accent", "").lower() == "true":
            accent = self.render(kids[1]).strip()
            if accent in _ACCENTS and len(base.strip()) == 1:
                return base.strip() + _ACCENTS[accent]
        marks = "".join(f"{mark}{self.group(k)}" for mark, k in zip(_SCRIPTS[name], kids[1:]))
        # A base of several symbols is bracketed too: (a+b)^2 is not a+b^2. Operators taking limits
        # (∑, lim) keep theirs after them: ∑_(i=1)^n.
        return f"{base if name.startswith('mu') or name == 'mover' else script_operand(base)}{marks}"

    def multiscripts(self, el: etree._Element) -> str:
        """<mmultiscripts> base (sub sup)* [<mprescripts/> (sub sup)*]: ²³⁵U is "^235U"."""
        children = [k for k in el if isinstance(k.tag, str)]
        split = next((i for i, k in enumerate(children) if _name(k) == "mprescripts"), len(children))
        base, post, pre = children[0], children[1:split], children[split + 1:]

        def marks(pairs: list[etree._Element]) -> str:
            out = []
            for i, k in enumerate(pairs):
                if _name(k) != "none" and (text := self.group(k)):
                    out.append(("_" if i % 2 == 0 else "^") + text)
            return "".join(out)

        return f"{marks(pre)}{script_operand(self.render(base))}{marks(post)}"

    def fenced(self, el: etree._Element, kids: list[etree._Element]) -> str:
        """MathML 2's <mfenced> (Elsevier's brackets): open/close default to "(" ")", separators to ","."""
        separators = "".join(el.get("separators", ",").split())
        parts = []
        for i, kid in enumerate(kids):
            if i and separators:
                parts.append(separators[min(i - 1, len(separators) - 1)])
            parts.append(self.render(kid))
        return f"{el.get('open', '(')}{''.join(parts)}{el.get('close', ')')}"


