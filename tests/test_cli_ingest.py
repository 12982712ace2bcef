"""CLI: init, ingest --file on every capture, papers list/show JSON, status --json, bad files (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli

DATA = Path(__file__).parent / "data"
# Real captures (SOURCES.md) digest reads as feeds; the arxiv.py-2026 files are a test-harness JSON
# wrapper around the raw API body and are unwrapped first.
CAPTURES = sorted(p for sub in ("arxiv-rss", "arxiv-atom/arxiv.py-2016", "hf-daily", "biorxiv", "generic-rss")
                  for p in (DATA / sub).iterdir() if p.is_file()) + [  # generic-rss/relative-links/: see SOURCES.md
    DATA / "arxiv-atom" / "sotawhat_arxiv_transformer_cs.LG_2026-06-14.xml",
    *sorted((DATA / "openreview").glob("*_notes_search*_v2.json")),  # real API answers; the rest wrapped or synthetic
    DATA / "corpus" / "arxivSpider_mnbvc_kaggle-arxiv-metadata-oai-snapshot_first200.jsonl"]  # last: tests below use it
WRAPPED = sorted((DATA / "arxiv-atom" / "arxiv.py-2026").glob("*.json"))


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE__URL", f"sqlite:///{tmp_path / 'digest.db'}")
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_init_is_idempotent_and_applies_feeds(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "digest.toml"
    config.write_text('[[feeds]]\nname = "cs-lg"\nkind = "arxiv-rss"\ncategories = ["cs.LG"]\ninterval = "1h"\n')
    for _ in range(2):
        code, out, _ = run("--config", str(config), "init")
        assert code == 0 and "database ready" in out and "feeds configured: 1" in out
    code, out, _ = run("--config", str(config), "status", "--json")
    feeds = json.loads(out)["feeds"]
    assert code == 0 and [(f["name"], f["health"], f["last_error"]) for f in feeds] == [("cs-lg", "never", None)]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_ingest_every_capture_then_nothing_new(run, path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run("ingest", "--file", str(path))
    if "error-bad-archive" in path.name:  # arXiv's error feed for a bad category
        assert code == 1 and err.count("\n") == 1 and "Bad archive" in err
        return
    assert code == 0, err
    code, again, _ = run("ingest", "--file", str(path))
    assert code == 0 and ("nothing new" in again or "no entries" in again)


def test_papers_show_names_the_journal_and_licence(run) -> None:  # type: ignore[no-untyped-def]
    code, _, _ = run("ingest", "--file", str(DATA / "generic-rss" / "react-native-rss-parser_elsevier_jpeds_rss1.xml"))
    assert code == 0
    code, out, _ = run("papers", "show", "doi:10.1016/j.jpeds.2018.08.009")
    assert code == 0 and "   journal: The Journal of Pediatrics 203, 68–75.e2 (2018)\n" in out
    code, _, _ = run("ingest", "--file", str(DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml"))
    code, out, _ = run("papers", "show", "2411.17700")
    assert code == 0 and "   licence: http://creativecommons.org/licenses/by/4.0/\n" in out, out


def test_one_entry_is_counted_in_the_singular(run) -> None:  # type: ignore[no-untyped-def]
    path = DATA / "generic-rss" / "zotero_mdpi_fluids_rss1.xml"
    code, out, _ = run("ingest", "--file", str(path))
    assert code == 0 and out.endswith(": 1 entry: 1 new, 0 new versions, 0 merged, 0 unchanged\n"), out
    code, out, _ = run("ingest", "--file", str(path))
    assert code == 0 and out.endswith(": nothing new (1 entry already stored)\n"), out


def test_wrapped_api_bodies_ingest_as_arxiv_atom(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    ok = 0
    for wrapped in WRAPPED:
        doc = json.loads(wrapped.read_text())
        raw = tmp_path / (wrapped.stem + ".xml")
        raw.write_text(doc["body"])
        code, out, err = run("ingest", "--file", str(raw), "--kind", "arxiv-atom")
        assert code in (0, 1) and "Traceback" not in out + err
        ok += code == 0
    assert ok >= len(WRAPPED) - 1  # the one 400 response is an API error entry


def test_papers_list_and_show_json(run) -> None:  # type: ignore[no-untyped-def]
    run("ingest", "--file", str(DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml"), "--feed-name", "all")
    run("ingest", "--file", str(DATA / "hf-daily" / "sotawhat_hf_daily_papers_2026-06-12.json"))
    code, out, _ = run("papers", "list", "--json")
    papers = json.loads(out)
    assert code == 0 and len(papers) == 1504 + 30
    code, out, _ = run("papers", "list", "--json", "--limit", "5", "--source", "all")
    listed = json.loads(out)
    assert len(listed) == 5 and all(p["sources"] == ["all"] for p in listed)
    for key in ("id", "title", "authors", "version", "sources", "categories", "abstract", "tldr", "links",
                "published", "updated", "doi", "arxiv_id", "via"):
        assert key in listed[0], key
    code, out, _ = run("papers", "show", listed[0]["id"], "--json")
    shown = json.loads(out)
    assert code == 0 and shown["id"] == listed[0]["id"] and shown["version"] >= 1
    assert shown["via"][0]["feed"] == "all" and shown["via"][0]["announce_type"] in ("new", "replace", "cross")
    code, out, _ = run("papers", "show", listed[0]["arxiv_id"])
    assert code == 0 and listed[0]["title"][:20] in out and "via:" in out


def test_papers_show_unknown_is_one_line(run) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run("papers", "show", "arxiv:9999.99999")
    assert code == 1 and err.strip().count("\n") == 0 and "no paper" in err


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00garbage", b"<html><body>nope</body></html>",
                                     b"<rss><channel><item><title>unterminated"])
def test_bad_file_exits_non_zero_with_one_line(tmp_path: Path, run, content: bytes) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    code, out, err = run("ingest", "--file", str(path))
    assert code != 0 and err.startswith("error: ") and err.strip().count("\n") == 0
    assert "Traceback" not in out + err


def test_missing_file_is_one_line(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run("ingest", "--file", str(tmp_path / "nope.xml"))
    assert code == 1 and "No such file" in err and err.strip().count("\n") == 0


def test_ingest_with_no_feeds_due(run) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("ingest")
    assert code == 0 and "no feeds due" in out


def test_skipped_snapshot_lines_are_reported_on_stderr(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    lines = CAPTURES[-1].read_bytes().splitlines(keepends=True)
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(b"".join([lines[0], b"{not json\n", *lines[1:3], *[b"[1]\n"] * 8]))
    code, out, err = run("ingest", "--file", str(path))
    assert code == 0 and "3 entries: 3 new" in out
    warnings = err.splitlines()
    assert warnings[0] == f"{path}: warning: skipped 9 of 12 line(s)"
    assert warnings[1] == f"{path}: warning: line 2: not JSON (JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); skipped"
    assert warnings[-1] == f"{path}: warning: 5 more warning(s) not shown" and len(warnings) == 6


def test_a_compressed_snapshot_ingests_and_other_compressed_files_are_refused(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    import gzip

    snapshot = tmp_path / "arxiv.json.gz"
    snapshot.write_bytes(gzip.compress(CAPTURES[-1].read_bytes()))
    code, out, err = run("ingest", "--file", str(snapshot))
    assert code == 0 and "200 entries: 200 new" in out and not err
    listing = tmp_path / "listing.xml.gz"
    listing.write_bytes(gzip.compress((DATA / "arxiv-rss" / "aioarxiv_all-archives_2024-11-28.xml").read_bytes()))
    code, _, err = run("ingest", "--file", str(listing))
    assert code == 1 and err == f"error: {listing}: cannot read as arxiv-rss: only an arXiv snapshot is read compressed; decompress this file first\n"
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(snapshot.read_bytes()[:40_000])
    code, out, err = run("ingest", "--file", str(cut), "--feed-name", "cut")
    assert code == 0 and "entries" in out
    assert "warning: the compressed file ends early, damaged after line" in err


def test_damaged_compressed_snapshots_never_show_a_traceback(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    import gzip
    import struct
    import zipfile

    plain = CAPTURES[-1].read_bytes()
    packed = gzip.compress(plain)
    crc = tmp_path / "crc.json.gz"  # the gzip's CRC-32 no longer matches what it holds
    crc.write_bytes(packed[:-8] + bytes([packed[-8] ^ 0xFF]) + packed[-7:])
    code, out, err = run("ingest", "--file", str(crc))
    assert code == 0 and "200 entries: 200 new" in out and "Traceback" not in err
    assert err.startswith(f"{crc}: warning: the compressed file ends early, damaged after line 200")
    deflate64 = tmp_path / "arxiv.zip"  # a member in a compression method Python cannot read
    with zipfile.ZipFile(deflate64, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("arxiv-metadata-oai-snapshot.json", plain)
    data = bytearray(deflate64.read_bytes())
    for at in (8, data.find(b"PK\x01\x02") + 10):
        data[at:at + 2] = struct.pack("<H", 9)
    deflate64.write_bytes(bytes(data))
    for kind in ((), ("--kind", "arxiv-snapshot")):
        code, out, err = run("ingest", "--file", str(deflate64), *kind)
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
        assert "method 9 (Deflate64)" in err and "extract it" in err


def test_a_snapshot_with_a_bad_first_line_ingests_without_kind(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(b"\xef\xbb\xbf[1]\r\n" + b"".join(
        line.rstrip(b"\n") + b"\r\n" for line in CAPTURES[-1].read_bytes().splitlines(keepends=True)[:4]))
    code, out, err = run("ingest", "--file", str(path))
    assert code == 0 and "4 entries: 4 new" in out
    assert err.splitlines() == [f"{path}: warning: skipped 1 of 5 line(s)",
                                f"{path}: warning: line 1: a line holds a JSON list, not an object; skipped"]


def test_edge_case_lines_come_out_right_in_papers_show(run) -> None:  # type: ignore[no-untyped-def]
    # Constructed lines in the snapshot's format: old-style ids, two DOIs, a collaboration, a
    # suffix, wrapped titles with double spaces, versions out of order, missing and empty.
    path = DATA / "corpus" / "arxiv-snapshot_edge-cases_constructed.jsonl"
    code, out, err = run("ingest", "--file", str(path))
    assert code == 0 and "3 entries: 3 new" in out and not err
    code, out, _ = run("papers", "show", "hep-th/9901001", "--json")
    paper = json.loads(out)
    assert paper["title"] == "Strings on orbifolds with torsion"
    assert paper["authors"] == ["J. Roe", "R. Smith Jr", "ATLAS Collaboration"]
    assert paper["doi"] == "10.1016/s0550-3213(99)00001-1" and paper["categories"] == ["hep-th", "gr-qc"]
    assert paper["version"] == 3 and paper["published"] == "1999-01-01T12:00:00+00:00"  # v1, listed second
    assert paper["links"]["pdf"] == "https://arxiv.org/pdf/hep-th/9901001v3"
    assert paper["abstract"].startswith("We study") and paper["abstract"].endswith("computed.")
    code, out, _ = run("papers", "show", "math/0309136", "--json")
    paper = json.loads(out)
    assert (paper["version"], paper["published"], paper["title"]) == (None, None, "On the Kollár conjecture")
    code, out, _ = run("papers", "show", "arxiv:1501.00001", "--json")
    assert json.loads(out)["authors"] == ["The CMS Collaboration"]
    code, again, _ = run("ingest", "--file", str(path))
    assert code == 0 and "nothing new (3 entries already stored)" in again


def test_a_preprint_and_its_journal_entry_are_one_paper(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    # The real bioRxiv answer, as the API gives it once the journal version is out, then the
    # journal's feed entry (its own title) that names the journal DOI.
    answer = json.loads((DATA / "biorxiv" / "research_bot_biorxiv_details_2026-07-15_trimmed.json").read_bytes())
    answer["collection"][0]["published"] = "10.1016/j.cell.2026.01.001"
    details = tmp_path / "details.json"
    details.write_text(json.dumps(answer))
    journal = tmp_path / "journal.xml"
    journal.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>Cell</title><item>'
                       "<title>Subcortical laterality and brain dynamics</title>"
                       "<link>https://doi.org/10.1016/j.cell.2026.01.001</link></item></channel></rss>")
    assert run("ingest", "--file", str(details))[0] == 0
    code, out, err = run("ingest", "--file", str(journal), "--kind", "rss")
    assert code == 0 and "1 merged" in out, (out, err)
    code, out, _ = run("papers", "show", "10.1016/J.CELL.2026.01.001", "--json")
    paper = json.loads(out)
    assert paper["id"] == "doi:10.64898/2026.07.13.738145" and paper["aliases"] == ["doi:10.1016/j.cell.2026.01.001"]
    assert paper["source_kinds"] == ["biorxiv", "rss"]
    code, out, _ = run("papers", "show", "doi:10.1016/j.cell.2026.01.001")
    assert code == 0 and "also: doi:10.1016/j.cell.2026.01.001" in out
