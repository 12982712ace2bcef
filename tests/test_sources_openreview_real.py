"""digest.sources.openreview against real API v2 (and v1) answers captured by other projects
(tests/data/SOURCES.md, "openreview/"): /notes/search pages whose notes come from many venues, and
notes imported from DBLP and ORCID that link the paper elsewhere."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from digest.models import PaperRecord
from digest.sources import openreview
from digest.store import Store

DATA = Path(__file__).parent / "data" / "openreview"


def _records(name: str) -> dict[str, PaperRecord]:
    parsed = openreview.parse((DATA / name).read_bytes())
    assert parsed.status == "ok" and not parsed.warnings
    return {r.external_id: r for r in parsed.records}


def _recorded(name: str) -> bytes:
    """A recording's response body (uw-share-lab/openproceedings keeps request and response)."""
    doc: dict[str, Any] = json.loads((DATA / name).read_bytes())
    return json.dumps(doc["response"]["json"]).encode()


def test_a_search_page_from_many_venues() -> None:
    parsed = openreview.parse((DATA / "paper-search-pro_notes_search_page1_v2.json").read_bytes())
    assert len(parsed.records) == 25 and parsed.total_results == 10000
    by_id = {r.external_id: r for r in parsed.records}
    neurips = by_id["VGv5y60sXC"]
    assert neurips.title == "Continuous Diffusion Model for Language Modeling"
    assert neurips.venue == "NeurIPS 2025 poster" and neurips.tldr  # the real key is "TLDR"
    assert neurips.openreview_id == "VGv5y60sXC" and neurips.url == "https://openreview.net/forum?id=VGv5y60sXC"
    assert neurips.pdf_url == "https://openreview.net/pdf?id=VGv5y60sXC"
    assert neurips.signals["venueid"] == "NeurIPS.cc/2025/Conference"
    # Anonymous submissions (ARR, TMLR rejections and withdrawals) name no author.
    assert by_id["xXMO5h2r1J"].authors == () and by_id["xXMO5h2r1J"].venue == "ACL ARR 2026 August Submission"
    assert by_id["zOJnGgfEtd"].venue == "Gen² 2026 Poster"
    assert {by_id[i].venue for i in ("r12Cz05mUT", "uDrayegpOx", "xoQV6kdTqG")} == {
        "ICLR 2026 Conference Withdrawn Submission", "Withdrawn by Authors", "Rejected by TMLR"}


def test_people_written_as_objects_are_authors() -> None:
    # A workshop's note lists {"username", "fullname", "institutions"}; an ORCID import {"fullname"}.
    page = _records("paper-search-pro_notes_search_page1_v2.json")
    assert page["2QpvHDULWt"].authors[0] == "Sivasharmini Ganeshamoorthy"
    imported = _records("fastpaper-cli_notes_search_v2.json")["iaA07eD0bP"]
    assert imported.authors[:2] == ("Sunil Sahu", "Efstathia Christopoulou") and len(imported.authors) == 4


def test_an_imported_note_that_repeats_its_title_as_venue_has_no_venue() -> None:
    imported = _records("fastpaper-cli_notes_search_v2.json")["iaA07eD0bP"]
    assert imported.title.startswith("Inter-sentence Relation Extraction") and imported.venue is None


def test_imported_notes_carry_the_arxiv_id_or_doi_they_link() -> None:
    page = _records("paper-search-pro_notes_search_page1_v2.json")
    corr = page["qIYb7GJMCz"]  # DBLP's CoRR entry: its "pdf" is arXiv's
    assert (corr.arxiv_id, corr.version, corr.venue) == ("2505.18456", None, "CoRR 2025")
    assert corr.pdf_url == "http://arxiv.org/pdf/2505.18456v1"
    search = _records("fastpaper-cli_notes_search_v2.json")
    journal = search["9TJMTG2bcQ"]  # "html": a doi.org page; "pdf": the publisher's
    assert journal.doi == "10.1109/mnet.2023.3336239" and journal.venue == "IEEE Netw. 2024"
    assert journal.pdf_url is not None and journal.pdf_url.startswith("https://ieeexplore.ieee.org/")
    assert search["YcgDBWhjEF"].doi == "10.1016/j.neunet.2024.106276" and search["YcgDBWhjEF"].pdf_url is None
    # arXiv's own DataCite DOI names the arXiv paper, not a DOI of its own.
    bib = _records("bibcc_notes_search_v2.json")["8Q80W3uo63"]
    assert (bib.arxiv_id, bib.doi) == ("2501.13198", None)
    # A PDF stored on OpenReview is a path: no arXiv id is read into its hash.
    assert page["xXMO5h2r1J"].arxiv_id is None and page["xXMO5h2r1J"].pdf_url == "https://openreview.net/pdf?id=xXMO5h2r1J"


def test_a_corr_import_merges_with_the_arxiv_paper(sqlite_store: Store) -> None:
    arxiv = PaperRecord(source_kind="arxiv-rss", external_id="2505.18456", arxiv_id="2505.18456", version=1,
                        title="Anchored Diffusion Language Model", authors=("Litu Rout",))
    sqlite_store.ingest_records("arxiv", [arxiv])
    sqlite_store.ingest_records("openreview", [_records("paper-search-pro_notes_search_page1_v2.json")["qIYb7GJMCz"]])
    paper = sqlite_store.get_paper("arxiv:2505.18456")
    assert {v.source_kind for v in paper.sources} == {"arxiv-rss", "openreview"}
    assert paper.venue == "CoRR 2025" and paper.openreview_id == "qIYb7GJMCz"


def test_recorded_venue_listings_v2_and_v1() -> None:
    # Real ids, dates, venue strings and structure; the recording replaced the free text.
    (rejected,) = openreview.parse(_recorded("openproceedings_iclr2024_desk_rejected_v2.json")).records
    assert rejected.venue == "ICLR 2024 Conference Desk Rejected Submission" and rejected.pdf_url is None
    assert rejected.published == datetime(2024, 3, 25, 17, 5, 9, 514000, tzinfo=timezone.utc)  # no pdate: odate
    (accepted,) = openreview.parse(_recorded("openproceedings_iclr2024_accepted_v2.json")).records
    assert accepted.venue == "ICLR 2024 poster" and accepted.tldr and len(accepted.keywords) == 5
    v1 = openreview.parse(_recorded("openproceedings_iclr2021_blind_listing_v1.json"))
    assert v1.total_results == 2594
    (blind,) = v1.records
    assert blind.external_id == "trPMYEn1FCX" and len(blind.authors) == 5 and blind.venue is None


def test_the_challenge_answer_to_an_anonymous_venue_listing_is_an_error() -> None:
    # What api2.openreview.net answered an anonymous /notes?content.venueid=... in 2026 (HTTP 403).
    body = json.loads((DATA / "paper-search-pro_challenge_403_v2.json").read_bytes())["body"]
    parsed = openreview.parse(json.dumps(body).encode())
    assert parsed.status == "error" and parsed.records == ()
    assert parsed.message == "Challenge verification required (2026-09-30-10246308)"
