"""Shared by the tests that check how much of a big store a command reads, without timing it.

A store of a few hundred snapshot papers, imported as `digest ingest --file` does, stands in for a
bulk-imported installation (300,000 - 2,500,000 papers). Two measures tell a bounded read from a walk
over the whole store:

- how many stored papers a command loads into Python (counted at ``PaperStore._papers``, the one
  place rows become :class:`~digest.models.Paper`); and
- SQLite's ``EXPLAIN QUERY PLAN`` of the statements really run (captured from the engine): "SCAN
  <table>" reads the whole table on every call, where "SEARCH ... USING INDEX" reads what it needs.
  digest never runs ANALYZE, so the plans on a small store are the plans on a big one.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from digest.bench.ingest import generate_snapshot
from digest.ingest import ingest_file
from digest.store import Store
from digest.store.papers import PaperStore

#: Papers in the small bulk store: the 200 real snapshot lines and 100 varied copies.
N_PAPERS = 300


def bulk_store(tmp_path: Path, n: int = N_PAPERS) -> Path:
    """A SQLite file holding ``n`` snapshot papers imported as `digest ingest --file` does (nothing matched)."""
    snap = tmp_path / "snapshot.jsonl"
    generate_snapshot(snap, n)
    db = tmp_path / "digest.db"
    store = Store.open(f"sqlite:///{db}")
    try:
        result = ingest_file(store, str(snap), kind="arxiv-snapshot", feed_name="snapshot")
        assert result.new == n
    finally:
        store.close()
    return db


class PapersLoaded:
    """Counts the stored papers turned into Paper objects while it is installed."""

    def __init__(self) -> None:
        self.rows = 0


def count_loaded_papers(monkeypatch: pytest.MonkeyPatch) -> PapersLoaded:
    """Count every stored paper read into Python from now on (for the rest of the test)."""
    counter = PapersLoaded()
    original = PaperStore._papers

    def counting(self: PaperStore, conn: Any, rows: Any) -> Any:
        counter.rows += len(rows)
        return original(self, conn, rows)

    monkeypatch.setattr(PaperStore, "_papers", counting)
    return counter


class Statements:
    """SELECTs run on SQLite engines, with their parameters and database file."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, str]] = []


def capture_selects(monkeypatch: pytest.MonkeyPatch) -> Statements:
    """Capture every SELECT run by any Store opened from now on (CLI commands open their own)."""
    from digest.store import engine as engine_mod

    captured = Statements()
    original = engine_mod._sqlite_engine

    def capturing(url: Any, **kwargs: Any) -> Any:
        eng = original(url, **kwargs)

        @event.listens_for(eng, "before_cursor_execute")
        def _seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany:
                captured.seen.append((statement, parameters, str(eng.url.database)))

        return eng

    monkeypatch.setattr(engine_mod, "_sqlite_engine", capturing)
    return captured


def plans(captured: Statements) -> list[tuple[str, list[str]]]:
    """EXPLAIN QUERY PLAN of each captured SELECT, on the database it ran on."""
    out = []
    for statement, params, db in captured.seen:
        conn = sqlite3.connect(db)
        try:
            rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}", params if params is not None else ()).fetchall()
        finally:
            conn.close()
        out.append((statement, [r[-1] for r in rows]))
    return out


def _shown(statement: str, plan: list[str]) -> str:
    return " ".join(statement.split())[:300] + "  ==> " + " | ".join(plan)


def full_scans(captured: Statements, table: str) -> list[str]:
    """The captured statements whose plan reads the whole of ``table`` (a SCAN, with or without an index)."""
    pattern = re.compile(rf"^SCAN {table}\b")
    return [_shown(stmt, plan) for stmt, plan in plans(captured) if any(pattern.match(p) for p in plan)]


def row_walks(captured: Statements, table: str) -> list[str]:
    """The captured statements whose plan walks ``table``'s rows rather than an index: "SCAN t" (no
    covering index) or the bare "SEARCH t" SQLite prints for min()/max() over a column no index
    holds (every row is read)."""
    def walks(line: str) -> bool:
        return bool((re.match(rf"^SCAN {table}\b", line) and "COVERING INDEX" not in line)
                    or re.match(rf"^SEARCH {table}\s*$", line))

    return [_shown(stmt, plan) for stmt, plan in plans(captured) if any(walks(p) for p in plan)]
