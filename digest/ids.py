"""Canonical paper identifiers.

A paper has one canonical id (issue #2): ``arxiv:<id without version>`` for anything arXiv knows
(old ids like ``hep-th/9901001`` included), else ``doi:<doi>``, else ``openreview:<forum id>``, else
``url:<normalized link>``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: arXiv's archives (https://arxiv.org/category_taxonomy): the part of a category before the dot.
ARXIV_ARCHIVES = frozenset({
    "astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math",
    "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin", "quant-ph", "stat",
})
#: The subject classes of each archive that has them (https://arxiv.org/category_taxonomy), lower-cased;
#: the other archives (hep-th, quant-ph, ...) are categories of their own.
ARXIV_SUBJECTS: dict[str, frozenset[str]] = {archive: frozenset(subjects.lower().split()) for archive, subjects in {
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA NE NI OH OS PF PL RO"
          " SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA RT SG SP ST",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph flu-dyn gen-ph"
               " geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}.items()}


def is_arxiv_category(category: str) -> bool:
    """Whether arXiv has this archive or category ("cs", "cs.LG", "cond-mat.mes-hall"; any case of the
    subject): "cs.ML" is not one (it is stat.ML)."""
    m = ARXIV_CATEGORY_RE.match(category)
    if m is None or m.group("archive") not in ARXIV_ARCHIVES:
        return False
    subject = category[m.end("archive") + 1:].lower()
    return not subject or subject in ARXIV_SUBJECTS.get(m.group("archive"), frozenset())


#: An arXiv category as written: an archive alone (cs) or with a subject class (cs.LG, astro-ph.CO,
#: cond-mat.mes-hall); not an MSC or ACM class (57M25, I.2.6).
ARXIV_CATEGORY_RE = re.compile(r"^(?P<archive>[a-z][a-z-]*)(?:\.[A-Za-z][A-Za-z-]*)?$")

# arXiv identifier schemes (https://info.arxiv.org/help/arxiv_identifier.html):
# since 2007-04 YYMM.NNNN, since 2015-01 YYMM.NNNNN; before that archive[.SUBJ]/YYMMNNN.
_NEW_ID = r"(?P<new>\d{4}\.\d{4,5})"
_OLD_ID = r"(?P<old>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})"
_VERSION = r"(?:v(?P<version>\d+))?"
ARXIV_ID_RE = re.compile(rf"^(?:arxiv:)?(?:{_NEW_ID}|{_OLD_ID}){_VERSION}$", re.IGNORECASE)

# An arXiv id inside free text or a URL: abs/, pdf/, html/ links with or without scheme and www,
# "arXiv:2401.01234v2", "oai:arXiv.org:2401.01234".
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html|format)/|arxiv[:\s]\s*|oai:arxiv\.org:"
    # Mirrors that name papers by arXiv id: Hugging Face paper pages, ar5iv renderings.
    r"|huggingface\.co/papers/|ar5iv\.org/(?:abs|html)/)"
    rf"(?:{_NEW_ID}|{_OLD_ID}){_VERSION}",
    re.IGNORECASE,
)
_BARE_NEW_ID = re.compile(rf"(?<![\d.])(?P<new>\d{{4}}\.\d{{4,5}}){_VERSION}(?![\d])")

# Crossref's recommended pattern for modern DOIs (https://www.crossref.org/blog/dois-and-matching-regular-expressions/).
_DOI_RE = re.compile(r"\b(10\.\d{4,9}/[-._;()/:A-Za-z0-9<>\[\]]+)")
_ARXIV_DOI_RE = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
#: bioRxiv/medRxiv DOIs (registrant 10.1101, and 10.64898 for newer posts) are numeric after the
#: prefix; their page links add the version and the view ("10.1101/2024.01.01.573838v2.full.pdf").
_PREPRINT_DOI = re.compile(r"^(10\.(?:1101|64898)/(?:\d{4}\.\d{2}\.\d{2}\.)?\d{6,8})(?:v\d+)?(?:\.[a-z][\w.+-]*)?$")

#: Query parameters that say how a link was reached, not what it names: analytics tags, and the
#: feed markers of Atypon (af=R: Wiley, Taylor & Francis, ACS, Science...), ScienceDirect
#: (dgcid=rss_sd_all), Cambridge Core (rft_dat), Ingenta/Microbiology Society (TRACK=RSS) and OUP (rss=1).
_TRACKING_PARAMS = frozenset({"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                              "fbclid", "gclid", "ref", "rss", "af", "dgcid", "rft_dat", "track"})
#: Parameters a host's feed links stamp each fetch with, which name nothing: PubMed's feed creation
#: (fc=20211108074834), this fetch (ff=20211214094348) and its software version (v=2.15.0).
_HOST_STAMPS = {"pubmed.ncbi.nlm.nih.gov": frozenset({"fc", "ff", "v"})}


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """``"2401.01234v2"`` -> ``("2401.01234", 2)``; old ids keep their archive; None if not an id."""
    m = ARXIV_ID_RE.match(text.strip())
    if not m:
        return None
    return _arxiv_parts(m)


def _arxiv_parts(m: re.Match[str]) -> tuple[str, int | None]:
    base = m.group("new") or m.group("old")
    version = m.group("version")
    if m.group("old"):
        archive, number = base.split("/")
        # "math.GT/0309136" (old listings, citations) names the paper arXiv knows as "math/0309136":
        # the subject class is not part of the identifier
        # (https://info.arxiv.org/help/arxiv_identifier.html), and the API and snapshot never write it.
        base = f"{archive.split('.')[0].lower()}/{number}"
    return base, int(version) if version else None


def find_arxiv_id(text: str | None, *, bare: bool = False) -> tuple[str, int | None] | None:
    """Find an arXiv id in a URL or text in any common form.

    With ``bare=True`` a lone ``2401.01234`` also counts (used for fields that are known to hold
    ids, never for free prose where such numbers are ordinary decimals).
    """
    if not text:
        return None
    m = _ARXIV_IN_TEXT.search(text)
    if m:
        return _arxiv_parts(m)
    # arXiv's DataCite DOI, bare or as a doi.org link: 10.48550/arXiv.2401.01234.
    doi = normalize_doi(text)
    m = _ARXIV_DOI_RE.match(doi) if doi else None
    if m:
        return parse_arxiv_id(m.group(1))
    if bare:
        m2 = _BARE_NEW_ID.search(text)
        if m2:
            return m2.group("new"), int(m2.group("version")) if m2.group("version") else None
    return None


def arxiv_ids_in(text: str | None) -> list[tuple[str, int | None]]:
    """Every arXiv id a text names, in order, in :func:`find_arxiv_id`'s forms (not bare numbers)."""
    if not text:
        return []
    found = [_arxiv_parts(m) for m in _ARXIV_IN_TEXT.finditer(text)]
    if not found and (one := find_arxiv_id(text)) is not None:
        found.append(one)
    return found


def normalize_doi(text: str | None) -> str | None:
    """``https://doi.org/10.1101/ABC`` / ``doi:10.1101/abc`` -> ``10.1101/abc`` (DOIs are case-insensitive)."""
    if not text:
        return None
    m = _DOI_RE.search(text.strip())
    if not m:
        return None
    doi = m.group(1).rstrip(".,;)]}>")
    return doi.lower()


def find_doi(text: str | None) -> str | None:
    """A DOI in text or a link; arXiv's own DataCite DOIs (10.48550) are left to the arXiv id."""
    doi = normalize_doi(text)
    if doi and _ARXIV_DOI_RE.match(doi):
        return None
    return doi


def is_preprint_doi(doi: str | None) -> bool:
    """Whether ``doi`` (lower case) is a bioRxiv/medRxiv preprint's: ``10.1101/743294``,
    ``10.1101/2023.12.16.571984``, ``10.64898/...``; not Cold Spring Harbor's journals (``10.1101/gr.…``)."""
    return bool(doi) and _PREPRINT_DOI.match(doi or "") is not None


def preprint_doi(doi: str) -> str:
    """A bioRxiv/medRxiv DOI as the preprint is known by, without the version and view a page link
    adds to it; any other DOI unchanged (expects :func:`normalize_doi`'s lower case)."""
    m = _PREPRINT_DOI.match(doi)
    return m.group(1) if m else doi


#: Medium's feed links name the feed they came through ("?source=rss-8717e15cbfc4------2",
#: "source=rss----98111c9905da---4"): one post, another link per feed. Other "source" values stay.
_MEDIUM_SOURCE = re.compile(r"source=rss[-\w]*", re.IGNORECASE).fullmatch


def _is_tracking(name: str, value: str, host: str) -> bool:
    """Whether a query parameter of a link on ``host`` only says how the link was reached."""
    key = name.lower()
    return key in _TRACKING_PARAMS or key in _HOST_STAMPS.get(host, ()) or _MEDIUM_SOURCE(f"{name}={value}") is not None


def without_tracking(url: str) -> str:
    """``url`` without its tracking parameters (utm_*, fbclid, ...) and the fetch stamps of
    :data:`_HOST_STAMPS`; the rest of it byte for byte (no re-encoding), so a link that is no valid
    URL stays one for :func:`digest.sanitize.safe_url` to refuse."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    query, hashmark, fragment = query.partition("#")
    try:
        host = (urlsplit(base).hostname or "").lower()
    except ValueError:
        return url
    kept = []
    for piece in query.split("&"):
        name, _, value = piece.partition("=")
        if piece and not _is_tracking(name, value, host):
            kept.append(piece)
    return base + ("?" + "&".join(kept) if kept else "") + hashmark + fragment


def normalize_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports and tracking parameters. The fragment stays: on
    a page that lists several papers it is what names each one (``publications#pub-101``, the id
    digest.sources.rss gives entries that share a link)."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k, v, host)])
    path = parts.path or "/"
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    return urlunsplit((scheme, netloc, path, query, parts.fragment))


def canonical_id(*, arxiv_id: str | None = None, doi: str | None = None,
                 openreview_id: str | None = None, url: str | None = None) -> str:
    """The canonical id for these identifiers, in the priority order of issue #2."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    if doi:
        return f"doi:{doi.lower()}"
    if openreview_id:
        return f"openreview:{openreview_id}"
    if url:
        return f"url:{normalize_url(url)}"
    raise ValueError("a paper needs an arXiv id, DOI, OpenReview id or URL")


def parse_paper_ref(text: str) -> str:
    """What a user types to name a paper (``2401.01234v2``, ``arxiv:…``, a DOI, a link) -> canonical id."""
    text = text.strip()
    for prefix in ("arxiv:", "doi:", "openreview:", "url:"):
        if text.lower().startswith(prefix) and prefix != "arxiv:":
            return prefix + text[len(prefix):]
    found = parse_arxiv_id(text) or find_arxiv_id(text)
    if found:
        return f"arxiv:{found[0]}"
    doi = normalize_doi(text)
    if doi:
        return f"doi:{doi}"
    if text.startswith(("http://", "https://")):
        return f"url:{normalize_url(text)}"
    return text
