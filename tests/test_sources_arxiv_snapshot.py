"""digest.sources.arxiv_snapshot against the real first 200 lines of the Kaggle snapshot."""

from __future__ import annotations

import io
import json
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
    assert r.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")  # from authors_parsed
    assert r.version == 2  # versions v1, v2: the latest
    assert r.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=timezone.utc)  # v1 "created"
    assert r.updated == datetime(2008, 11, 26, tzinfo=timezone.utc)  # update_date
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
