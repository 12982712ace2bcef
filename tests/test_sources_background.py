"""digest.sources.background: a snapshot read in a real helper process gives exactly what reading it
here gives (records, skipped-line counts, errors), and the helper never outlives its importer."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.errors import ParseError
from digest.ingest import ingest_file
from digest.models import PaperRecord
from digest.sources import arxiv_snapshot
from digest.sources.arxiv_snapshot import SnapshotStats, read_path
from digest.sources.background import ReaderDied, records_in_background
from digest.store import Store

SAMPLE = Path(__file__).parent / "data" / "corpus" / "arxivSpider_mnbvc_kaggle-arxiv-metadata-oai-snapshot_first200.jsonl"


@pytest.fixture
def broken_snapshot(tmp_path: Path) -> Path:
    """The real sample with bad lines among the good ones (more than one message's worth)."""
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    bad = [b"{not json\n", b"[1, 2]\n", b'{"id": "nope", "title": "x"}\n', b"\xff\xfe\n", b'{"id": "0704.9999"}\n']
    mixed: list[bytes] = []
    for i, line in enumerate(lines):
        mixed.append(line)
        if i % 40 == 7:
            mixed.append(bad[i % len(bad)])
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(b"".join(mixed))
    return path


def test_the_helper_yields_the_same_records_and_stats(broken_snapshot: Path) -> None:
    here, there = SnapshotStats(), SnapshotStats()
    expected = list(read_path(broken_snapshot, here))
    # 64 records per message: several messages and a partial last one.
    got = list(records_in_background(read_path, broken_snapshot, there, kind=arxiv_snapshot.KIND, batch=64))
    assert got == expected and len(got) == 200
    assert all(type(r) is PaperRecord for r in got)
    assert (there.lines, there.records, there.skipped, there.warnings) == (here.lines, here.records, here.skipped,
                                                                           here.warnings)
    assert there.skipped == 5


def test_a_missing_file_is_a_parse_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone.jsonl"
    with pytest.raises(ParseError, match=r"gone\.jsonl: cannot read as file: No such file or directory"):
        list(records_in_background(read_path, missing, SnapshotStats(), kind=arxiv_snapshot.KIND))


# Readers the helper imports by name from this module (pytest puts tests/ on the import path,
# which the helper inherits).
def failing_reader(path: Path, stats: Any) -> Iterator[PaperRecord]:
    yield PaperRecord(source_kind="arxiv-snapshot", external_id="1", title="first")
    raise ParseError("arxiv-snapshot", "line 2 is broken beyond repair")


def dying_reader(path: Path, stats: Any) -> Iterator[PaperRecord]:
    yield PaperRecord(source_kind="arxiv-snapshot", external_id="1", title="first")
    os._exit(3)  # as if killed: no message, no clean-up


def endless_reader(path: Path, stats: Any) -> Iterator[PaperRecord]:
    n = 0
    while True:
        n += 1
        yield PaperRecord(source_kind="arxiv-snapshot", external_id=str(n), title=f"paper {n}")


def test_an_error_in_the_reader_is_raised_with_its_reason(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="cannot read as arxiv-snapshot: line 2 is broken beyond repair"):
        list(records_in_background(failing_reader, tmp_path / "x.jsonl", SnapshotStats(), kind="arxiv-snapshot"))


def test_a_helper_that_dies_is_reported_with_its_exit_code(tmp_path: Path) -> None:
    with pytest.raises(ReaderDied, match=r"the reader process stopped \(exit code 3\)"):
        list(records_in_background(dying_reader, tmp_path / "x.jsonl", SnapshotStats(), kind="arxiv-snapshot"))


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """The helper processes started during the test."""
    processes: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        processes.append(real_popen(*args, **kwargs))
        return processes[-1]

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    return processes


def test_closing_early_stops_the_helper(tmp_path: Path, started: list[subprocess.Popen[bytes]]) -> None:
    records = records_in_background(endless_reader, tmp_path / "x.jsonl", SnapshotStats(), kind="arxiv-snapshot")
    assert next(records).title == "paper 1"
    records.close()  # what happens when the store fails mid-import
    assert len(started) == 1 and started[0].poll() is not None  # stopped and reaped


def test_ingest_file_stores_the_same_either_way_and_reports_skipped_lines(tmp_path: Path, broken_snapshot: Path,
                                                                          sqlite_url: str) -> None:
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    store = Store.open(sqlite_url)
    try:
        there = ingest_file(store, broken_snapshot, kind="arxiv-snapshot", background=True)
        here = ingest_file(other, broken_snapshot, kind="arxiv-snapshot", background=False)
        assert (there.seen, there.new) == (here.seen, here.new) == (200, 200)
        assert there.warnings == here.warnings
        assert there.warnings[0] == "skipped 5 of 205 line(s)" and there.warnings[1] == "line 9: id 'nope' is not an arXiv id; skipped"

        def stored(s: Store) -> list[tuple[Any, ...]]:
            return [(p.id, p.title, p.authors, p.abstract, p.version, p.doi, p.published, p.updated, p.categories,
                     [v.external_id for v in p.sources]) for p in s.iter_papers()]

        assert stored(store) == stored(other)
        again = ingest_file(store, broken_snapshot, kind="arxiv-snapshot", background=True)
        assert (again.seen, again.new, again.unchanged) == (200, 0, 200)  # nothing twice
    finally:
        store.close()
        other.close()


def test_a_snapshot_of_only_bad_lines_is_an_error_either_way(tmp_path: Path, sqlite_store: Store) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"{not json\n[1]\n")
    for background in (True, False):
        with pytest.raises(ParseError, match="no line is a snapshot record"):
            ingest_file(sqlite_store, path, kind="arxiv-snapshot", background=background)


def test_a_script_without_a_main_guard_can_import_in_the_background(tmp_path: Path) -> None:
    # multiprocessing's "spawn" would re-run this script in the helper; a subprocess does not.
    script = tmp_path / "import_snapshot.py"
    script.write_text(textwrap.dedent(f"""
        from digest.ingest import ingest_file
        from digest.store import Store
        store = Store.open("sqlite:///{tmp_path / 'script.db'}")
        stats = ingest_file(store, {str(SAMPLE)!r}, kind="arxiv-snapshot", background=True)
        print("stored", stats.new)
    """))
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["stored", "200"]


def test_the_helper_ignores_ctrl_c_and_stops_when_the_importer_goes_away(tmp_path: Path) -> None:
    from digest.sources import background

    helper = subprocess.Popen([sys.executable, "-c", background._HELPER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert helper.stdin is not None and helper.stdout is not None
    pickle.dump(sys.path, helper.stdin)
    pickle.dump((endless_reader, tmp_path / "x.jsonl", SnapshotStats(), 100), helper.stdin)
    helper.stdin.close()
    assert pickle.load(helper.stdout)[0] == "records"
    # Ctrl-C reaches the helper too (same process group): it leaves stopping to the importer.
    helper.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        helper.wait(timeout=0.5)
    helper.stdout.close()  # as if the importer were killed: the endless reader must not go on forever
    assert helper.wait(timeout=60) == 0
    assert helper.stderr is not None and b"Traceback" not in helper.stderr.read()


def test_a_failing_import_stops_the_helper_at_once(broken_snapshot: Path, sqlite_store: Store,
                                                   started: list[subprocess.Popen[bytes]],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_bulk_import(name: str, records: Iterator[PaperRecord], **_: Any) -> None:
        next(records)
        raise OSError("disk full")

    monkeypatch.setattr(sqlite_store, "bulk_import", failing_bulk_import)
    # 5 records per message: more than the helper can hold ready, so it is still running when the import fails.
    monkeypatch.setattr("digest.sources.background.BATCH", 5)
    try:
        ingest_file(sqlite_store, broken_snapshot, kind="arxiv-snapshot", background=True)
    except OSError as exc:
        # Checked while the traceback still holds the generator: the helper must be gone already,
        # not only once the failed frames are collected.
        assert str(exc) == "disk full"
        assert len(started) == 1 and started[0].poll() is not None
    else:
        pytest.fail("the import did not fail")


def test_the_helper_reads_a_compressed_snapshot(tmp_path: Path, broken_snapshot: Path) -> None:
    import gzip

    compressed = tmp_path / "snapshot.jsonl.gz"
    compressed.write_bytes(gzip.compress(broken_snapshot.read_bytes()))
    here, there = SnapshotStats(), SnapshotStats()
    expected = list(read_path(broken_snapshot, here))
    assert list(records_in_background(read_path, compressed, there, kind=arxiv_snapshot.KIND)) == expected
    assert there.summary() == here.summary()


@pytest.mark.parametrize(("size", "cpus", "expected"), [(16 << 20, 2, True), ((16 << 20) - 1, 2, False),
                                                        (64 << 20, 1, False)])
def test_ingest_file_chooses_the_helper_by_size_and_cpus(tmp_path: Path, sqlite_store: Store,
                                                         monkeypatch: pytest.MonkeyPatch, size: int, cpus: int,
                                                         expected: bool) -> None:
    import digest.ingest

    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(SAMPLE.read_bytes())
    with path.open("r+b") as f:  # sparse: the size decides, the content stays the 200 real lines
        f.truncate(size)
    import digest.sources.background as background  # ingest_file imports it when it runs

    used: list[bool] = []
    original = background.records_in_background

    def spy(*args: Any, **kwargs: Any) -> Iterator[PaperRecord]:
        used.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(background, "records_in_background", spy)
    monkeypatch.setattr(digest.ingest, "_usable_cpus", lambda: cpus)
    ingest_file(sqlite_store, path, kind="arxiv-snapshot")
    assert bool(used) is expected


def test_a_helper_that_cannot_start_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # starts, reads nothing, exits 1
    with pytest.raises(ReaderDied, match=r"the reader process stopped \(exit code 1\)"):
        list(records_in_background(read_path, SAMPLE, SnapshotStats(), kind=arxiv_snapshot.KIND))
