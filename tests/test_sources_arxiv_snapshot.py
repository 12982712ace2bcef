"""digest.sources.arxiv_snapshot against the real first 200 lines of the Kaggle snapshot."""

from __future__ import annotations

import io
import json
import re
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.errors import ParseError
from digest.sources.arxiv_snapshot import SnapshotStats, iter_records, parse, record_from_json

SAMPLE = Path(__file__).parent / "data" / "corpus" / "arxivSpider_mnbvc_kaggle-arxiv-metadata-oai-snapshot_first200.jsonl"


def test_the_sample_reads_whole() -> None:
    feed = parse(SAMPLE.read_bytes(), source=SAMPLE.name)
    assert feed.status == "ok" and len(feed.records) == 200 and not feed.warnings
    assert feed.records[0].arxiv_id == "0704.0001" and feed.records[-1].arxiv_id == "0704.0200"


def test_first_record_fields() -> None:
    r = parse(SAMPLE.read_bytes()).records[0]
    assert r.source_kind == "arxiv-snapshot" and r.external_id == "0704.0001"
    assert r.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    # From authors_parsed, whose ["Yuan", "C. -P.", ""] is "C.-P. Yuan" in the authors line.
    assert r.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan")
    assert r.version == 2  # versions v1, v2: the latest
    assert r.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=timezone.utc)  # v1 "created"
    # v2 "created", not update_date (2008-11-26: the day arXiv last edited the metadata).
    assert r.updated == datetime(2007, 7, 24, 20, 10, 27, tzinfo=timezone.utc)
    assert r.categories == ("hep-ph",)
    assert r.doi == "10.1103/physrevd.76.013009" and r.journal_ref == "Phys.Rev.D76:013009,2007"
    assert r.signals == {"comment": "37 pages, 15 figures; published version"}
    assert r.pdf_url == "https://arxiv.org/pdf/0704.0001v2" and r.url == "https://arxiv.org/abs/0704.0001"
    assert r.abstract.startswith("A fully differential calculation") and "\n" not in r.abstract


def test_suffix_multiple_dois_and_licence() -> None:
    recs = {r.arxiv_id: r for r in parse(SAMPLE.read_bytes()).records}
    assert "Neal J. Evans II" in recs["0704.0009"].authors
    assert recs["0704.0033"].doi == "10.1364/josaa.23.002578"  # "DOI1 DOI2": the first
    licensed = [r for r in recs.values() if r.license]
    assert len(licensed) == 19 and all(r.license and r.license.startswith("http") for r in licensed)


def test_categories_split_and_multi_category() -> None:
    recs = parse(SAMPLE.read_bytes()).records
    multi = [r for r in recs if len(r.categories) > 1]
    assert multi and all(" " not in c for r in multi for c in r.categories)


def test_bad_lines_are_skipped_and_counted() -> None:
    lines = SAMPLE.read_bytes().splitlines(keepends=True)[:5]
    broken = [lines[0], b"{not json\n", lines[1], b"[1, 2]\n", b'{"id": "nope", "title": "x"}\n', b"\n",
              b'{"id": "0704.9999"}\n', b"\xff\xfe\n", lines[2]]
    stats = SnapshotStats()
    got = [r.arxiv_id for r in iter_records(io.BytesIO(b"".join(broken)), stats=stats)]
    assert got == ["0704.0001", "0704.0002", "0704.0003"]
    assert (stats.lines, stats.records, stats.skipped) == (9, 3, 5)
    assert stats.warnings[0].startswith("line 2: not JSON")
    assert any("'nope' is not an arXiv id" in w for w in stats.warnings)
    assert any("0704.9999 has no title" in w for w in stats.warnings)
    feed = parse(b"".join(broken))
    assert len(feed.records) == 3 and feed.warnings[0] == "skipped 5 of 9 line(s)"


def test_a_file_of_nothing_but_bad_lines_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no line is a snapshot record"):
        parse(b"<rss>\n<channel/>\n</rss>\n")


def test_old_style_id_and_fallback_to_the_authors_string() -> None:
    rec = record_from_json({"id": "hep-th/9901001", "title": "A\n  title", "authors": "A. Smith and B. Jones",
                            "versions": [{"version": "v1", "created": "Fri, 1 Jan 1999 00:00:00 GMT"}],
                            "categories": "hep-th", "update_date": "1999-01-02"})
    assert (rec.arxiv_id, rec.version, rec.title) == ("hep-th/9901001", 1, "A title")
    assert rec.authors == ("A. Smith", "B. Jones")


def test_updated_is_the_latest_version_not_the_metadata_edit() -> None:
    """A real line (hep-th/9608091, one version of 1996, update_date 2010-11-19): arXiv edited its
    metadata in 2010, which is no new version; the API's <updated> would be 1996."""
    once = record_from_json({"id": "hep-th/9608091", "title": "T", "authors": "A. Smith",
                             "versions": [{"version": "v1", "created": "Wed, 14 Aug 1996 16:31:26 GMT"}],
                             "update_date": "2010-11-19"})
    assert once.published == datetime(1996, 8, 14, 16, 31, 26, tzinfo=timezone.utc) and once.updated is None
    # Versions listed out of order: the latest one's date, whichever comes first in the list.
    revised = record_from_json({"id": "1234.5678", "title": "T", "authors": "A. Smith", "update_date": "2020-01-01",
                                "versions": [{"version": "v3", "created": "Tue, 3 Mar 2015 10:00:00 GMT"},
                                             {"version": "v1", "created": "Sun, 1 Feb 2015 10:00:00 GMT"},
                                             {"version": "v2", "created": "Sun, 15 Feb 2015 10:00:00 GMT"}]})
    assert revised.version == 3 and revised.published == datetime(2015, 2, 1, 10, tzinfo=timezone.utc)
    assert revised.updated == datetime(2015, 3, 3, 10, tzinfo=timezone.utc)


def test_hyphenated_initials_keep_their_hyphen() -> None:
    rec = record_from_json({"id": "0704.0027", "title": "T", "authors": "J.-N. Fuchs and Z.-X. Shen",
                            "authors_parsed": [["Fuchs", "J. -N.", ""], ["Shen", "Z. -X.", ""]]})
    assert rec.authors == ("J.-N. Fuchs", "Z.-X. Shen")


def _many(n: int) -> Iterator[bytes]:
    base = SAMPLE.read_bytes().splitlines(keepends=True)
    for i in range(n):
        line = json.loads(base[i % len(base)])
        line["id"] = f"{1000 + i // 99999:04d}.{i % 99999:05d}"
        yield (json.dumps(line) + "\n").encode()


class _Lines(io.RawIOBase):
    """A stream of generated lines that never exists in memory as a whole."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines, self._buf = lines, b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        while len(self._buf) < len(b):
            nxt = next(self._lines, None)
            if nxt is None:
                break
            self._buf += nxt
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


def test_streaming_memory_does_not_grow_with_the_input() -> None:
    def peak(n: int) -> int:
        stream = io.BufferedReader(_Lines(_many(n)))
        tracemalloc.start()
        count = sum(1 for _ in iter_records(stream))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == n
        return top

    small, large = peak(500), peak(5000)
    assert large < small * 2  # 10x the records, not 10x the memory


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_bytes_raise_only_parse_error(data: bytes) -> None:
    try:
        parse(data)
    except ParseError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "title", "authors", "authors_parsed", "versions", "doi",
                                        "categories", "update_date", "license", "journal-ref", "abstract"]),
                       st.none() | st.text(max_size=20) | st.integers() | st.lists(st.text(max_size=5) | st.integers(),
                                                                                   max_size=3)))
def test_odd_field_types_never_crash(obj: dict[str, object]) -> None:
    obj.setdefault("id", "0704.0001")
    try:
        record_from_json(obj)
    except ParseError:
        pass


# --- compressed snapshots (Kaggle ships a ZIP archive; people gzip the JSON Lines) ----------------

def _zip(path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_gzip_and_zip_snapshots_read_like_the_plain_file(tmp_path: Path) -> None:
    import gzip

    from digest.sources.arxiv_snapshot import read_path

    plain = SAMPLE.read_bytes()
    gz = tmp_path / "arxiv.json.gz"
    gz.write_bytes(gzip.compress(plain))
    kaggle = _zip(tmp_path / "arxiv.zip", {"arxiv-metadata-oai-snapshot.json": plain})
    with_readme = _zip(tmp_path / "more.zip", {"data/": b"", "README.txt": b"hello",
                                               "data/arxiv-metadata-oai-snapshot.json": plain})
    expected = parse(plain).records
    for path in (gz, kaggle, with_readme):
        stats = SnapshotStats()
        assert tuple(read_path(path, stats)) == expected, path.name
        assert (stats.records, stats.skipped, stats.ended_early) == (200, 0, None)


def test_a_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    import gzip

    from digest.sources.arxiv_snapshot import read_path

    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress(SAMPLE.read_bytes())[:40_000])
    stats = SnapshotStats()
    got = list(read_path(path, stats))
    assert 0 < len(got) < 200 and got == list(parse(SAMPLE.read_bytes()).records[:len(got)])
    assert stats.ended_early and stats.ended_early.startswith(f"the compressed file ends early, damaged after line {len(got)}")
    assert stats.summary() == (stats.ended_early,)


@pytest.mark.parametrize(("members", "reason"), [
    ({"a.json": b"{}", "b.jsonl": b"{}"}, "should hold one .json or .jsonl snapshot file; it holds a.json, b.jsonl"),
    ({"docs/": b"", "a.txt": b"x", "b.txt": b"y"}, "it holds docs/, a.txt, b.txt"),
])
def test_a_zip_without_exactly_one_snapshot_is_refused(tmp_path: Path, members: dict[str, bytes], reason: str) -> None:
    from digest.sources.arxiv_snapshot import read_path

    path = _zip(tmp_path / "x.zip", members)
    with pytest.raises(ParseError, match=reason):
        list(read_path(path, SnapshotStats()))


def test_a_damaged_zip_is_refused(tmp_path: Path) -> None:
    from digest.sources.arxiv_snapshot import read_path

    path = tmp_path / "x.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ParseError, match="not a readable ZIP archive"):
        list(read_path(path, SnapshotStats()))


# --- characters a database cannot store, and lines the decoder cannot take ------------------------

def _sample_line(i: int, **fields: object) -> bytes:
    """Line ``i`` of the real sample with some fields replaced (as JSON text, escapes kept)."""
    line = SAMPLE.read_bytes().splitlines()[i]
    for name, raw in fields.items():
        obj = json.loads(line)
        obj[name] = "@@"
        line = json.dumps(obj).encode().replace(b'"@@"', b'"' + str(raw).encode() + b'"')
    return line + b"\n"


def test_unpaired_surrogate_and_nul_escapes_are_replaced_not_stored() -> None:
    # Valid JSON, but "\ud800" decodes to a lone surrogate and "\u0000" to NUL: SQLite and
    # PostgreSQL refuse both, which used to end the whole import with a traceback.
    data = (_sample_line(0, title=r"Lone \ud800 surrogate", abstract=r"NUL \u0000 here")
            + _sample_line(1, title=r"A pair \ud835\udc9c stays", comments=r"x \udfff y")
            + _sample_line(2, authors_parsed="@@").replace(b'"@@"', rb'[["Sm\udc00ith", "A.", ""]]'))
    stats = SnapshotStats()
    recs = list(iter_records(io.BytesIO(data), stats=stats))
    assert [r.title for r in recs[:2]] == ["Lone \ufffd surrogate", "A pair \U0001d49c stays"]
    assert recs[0].abstract == "NUL here" and recs[1].signals == {"comment": "x \ufffd y"}
    assert recs[2].authors == ("A. Sm\ufffdith",)
    for rec in recs:
        for value in (rec.title, rec.title_original, rec.abstract, *rec.authors, *rec.signals.values()):
            assert "\x00" not in value
            value.encode("utf-8")  # storable: no lone surrogate left
    assert stats.skipped == 0


def test_encoded_surrogate_bytes_are_not_utf8_and_skipped() -> None:
    bad = _sample_line(1).replace(b'"title":"', b'"title":"\xed\xa0\x80', 1)
    assert bad != _sample_line(1)
    stats = SnapshotStats()
    got = [r.arxiv_id for r in iter_records(io.BytesIO(_sample_line(0) + bad + _sample_line(2)), stats=stats)]
    assert got == ["0704.0001", "0704.0003"]
    assert stats.warnings[0].startswith("line 2: not valid UTF-8 (byte 0xed at column ")


def test_a_deeply_nested_line_is_skipped_not_a_crash() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000 + b"\n"
    nested = b'{"id": ' + b'{"a": ' * 200_000 + b"1" + b"}" * 200_000 + b"}\n"
    stats = SnapshotStats()
    got = [r.arxiv_id for r in iter_records(io.BytesIO(deep + nested + _sample_line(0)), stats=stats)]
    assert got == ["0704.0001"] and stats.skipped == 2
    assert stats.warnings == ["line 1: not JSON (nested too deeply); skipped",
                              "line 2: not JSON (nested too deeply); skipped"]


# --- damaged and unusual compressed snapshots -------------------------------------------------------

@pytest.mark.parametrize("damage", ["crc", "trailing garbage"])
def test_a_gzip_failing_its_check_keeps_every_line_read(tmp_path: Path, damage: str) -> None:
    import gzip

    from digest.sources.arxiv_snapshot import read_path

    data = gzip.compress(SAMPLE.read_bytes())
    if damage == "crc":  # the member's CRC-32 (last 8 bytes: CRC, size) no longer matches
        data = data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]
    else:  # something appended after the gzip member (gzip refuses it as a second member)
        data += b"garbage appended by a broken download\n"
    path = tmp_path / "arxiv.json.gz"
    path.write_bytes(data)
    stats = SnapshotStats()
    assert len(list(read_path(path, stats))) == 200
    assert stats.ended_early and stats.ended_early.startswith("the compressed file ends early, damaged after line 200")


def _patch_zip(data: bytes, *, method: int | None = None, encrypted: bool = False) -> bytes:
    """The archive with its (only) member's compression method or encryption flag changed in both
    the local and the central header, as a tool writing Deflate64 or a password would."""
    import struct

    out = bytearray(data)
    central = out.find(b"PK\x01\x02")
    for flags_at in (6, central + 8):
        if encrypted:
            out[flags_at] |= 1
        if method is not None:
            out[flags_at + 2:flags_at + 4] = struct.pack("<H", method)
    return bytes(out)


@pytest.mark.parametrize(("change", "reason"), [
    ({"method": 9}, "compressed with method 9 (Deflate64), which cannot be read here; extract it"),
    ({"encrypted": True}, "is encrypted; extract it"),
])
def test_a_zip_member_that_cannot_be_opened_is_a_parse_error(tmp_path: Path, change: dict[str, object],
                                                            reason: str) -> None:
    from digest.sources.arxiv_snapshot import read_path

    path = tmp_path / "arxiv.zip"
    plain = _zip(tmp_path / "plain.zip", {"arxiv-metadata-oai-snapshot.json": SAMPLE.read_bytes()})
    path.write_bytes(_patch_zip(plain.read_bytes(), **change))  # type: ignore[arg-type]
    with pytest.raises(ParseError, match=re.escape(reason)):
        list(read_path(path, SnapshotStats()))


def test_a_zip_cut_short_keeps_the_lines_before_the_cut(tmp_path: Path) -> None:
    # An interrupted download of Kaggle's arxiv.zip lacks the central directory at the end; its
    # one member is still readable from its local header up to the cut, like a truncated gzip.
    from digest.sources.arxiv_snapshot import read_path

    whole = _zip(tmp_path / "arxiv.zip", {"arxiv-metadata-oai-snapshot.json": SAMPLE.read_bytes()}).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[:40_000])
    stats = SnapshotStats()
    got = list(read_path(cut, stats))
    assert 0 < len(got) < 200 and got == list(parse(SAMPLE.read_bytes()).records[:len(got)])
    assert stats.ended_early and stats.ended_early.startswith(f"the compressed file ends early, damaged after line {len(got)}")
    # Only the central directory missing: every line is read, and nothing is said to be lost.
    no_directory = tmp_path / "nodir.zip"
    no_directory.write_bytes(whole[:whole.find(b"PK\x01\x02")])
    stats = SnapshotStats()
    assert len(list(read_path(no_directory, stats))) == 200 and stats.ended_early is None


@pytest.mark.parametrize("version", [
    {"version": "v\u00b2", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},  # "²".isdigit(), but int() refuses it
    {"version": "v1", "created": "Mon, 2 Apr 99999999999999999999 19:18:42 GMT"},  # OverflowError
    {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 +99999999999999999"},
    {"version": "v1", "created": "Fri, 31 Dec 9999 23:59:59 -0100"},  # year 10000 in UTC
])
def test_odd_versions_never_crash(version: dict[str, str]) -> None:
    rec = record_from_json({"id": "0704.0001", "title": "T", "versions": [version]})
    assert rec.version in (None, 1) and rec.published is None


def test_an_unexpected_failure_on_one_line_skips_that_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever goes wrong with one line (a bug included) costs that line, not the import.
    from digest.sources import arxiv_snapshot

    real = arxiv_snapshot.record_from_json

    def flaky(obj: object) -> object:
        if isinstance(obj, dict) and obj.get("id") == "0704.0002":
            raise KeyError("boom")
        return real(obj)

    monkeypatch.setattr(arxiv_snapshot, "record_from_json", flaky)
    stats = SnapshotStats()
    got = [r.arxiv_id for r in iter_records(io.BytesIO(_sample_line(0) + _sample_line(1) + _sample_line(2)), stats=stats)]
    assert got == ["0704.0001", "0704.0003"]
    assert stats.warnings == ["line 2: cannot be read (KeyError: 'boom'); skipped"]
