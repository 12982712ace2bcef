"""The migrations produce exactly the schema the models describe, on both backends."""

from __future__ import annotations

from datetime import datetime, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from digest.models import PaperRecord
from digest.store import Store
from digest.store.schema import Base


def test_migrations_match_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []


def test_sqlite_pragmas(sqlite_store: Store) -> None:
    with sqlite_store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_open_is_idempotent(sqlite_url: str) -> None:
    Store.open(sqlite_url).close()
    Store.open(sqlite_url).close()


def test_migration_0003_fills_title_hashes_and_recomputes_title_keys(store: Store) -> None:
    from alembic import command
    from sqlalchemy import text

    from digest.store.engine import alembic_config, upgrade
    from digest.store.merge import title_hash, title_key

    command.downgrade(alembic_config(store.engine), "0002")
    titles = {"arxiv:1": ("α-Divergences for Variational Inference", "a divergences for variational inference"),
              "arxiv:0": ("Search for Widgets at 13 TeV", "search for widgets at 13 tev"),
              "arxiv:2": ("基于BERT的中文文本分类方法研究", "bert"),
              "arxiv:3": ("Fuzzing C++ Compilers", "fuzzing c compilers"),
              "arxiv:4": ("Plain ASCII Title", "plain ascii title")}
    with store.engine.begin() as conn:
        for pid, (title, old_key) in titles.items():
            conn.execute(text("INSERT INTO papers (id, title, title_key, first_author_key, authors, abstract, "
                              "categories, keywords, first_seen, seq) VALUES (:id, :t, :k, '', '[]', '', '[]', '[]', "
                              ":now, 0)"), {"id": pid, "t": title, "k": old_key, "now": "2026-11-23 12:00:00"})
        conn.execute(text("""UPDATE papers SET authors = '["The ATLAS Collaboration"]', """
                          "first_author_key = 'collaboration' WHERE id = 'arxiv:0'"))
    upgrade(store.engine)
    with store.engine.connect() as conn:
        keys = {pid: (key, h) for pid, key, h in conn.execute(text("SELECT id, title_key, title_hash FROM papers"))}
        authors = dict(conn.execute(text("SELECT id, first_author_key FROM papers")).all())
    expected = {pid: title_key(title) for pid, (title, _) in titles.items()}
    assert keys == {pid: (key, title_hash(key)) for pid, key in expected.items()}
    assert expected["arxiv:1"].startswith("alpha divergences") and expected["arxiv:3"] == "fuzzing cplusplus compilers"
    assert expected["arxiv:4"] == titles["arxiv:4"][1]
    assert authors["arxiv:0"] == "atlas collaboration" and authors["arxiv:1"] == ""


def test_alembic_downgrade_keeps_every_via_label_and_match(sqlite_url: str) -> None:
    """Rolling the schema back a revision (0003 -> 0002) keeps the papers' vias, the users' labels, the
    matches and the paper events: on SQLite the batch copy of `papers` must not cascade to the tables
    that reference it (foreign keys are off while migrating)."""
    from alembic import command
    from sqlalchemy import text

    from digest.match.run import match_new
    from digest.store.engine import alembic_config

    store = Store.open(sqlite_url, migrate=False)
    store.ingest_records("arxiv-cs", [
        PaperRecord(source_kind="arxiv-rss", external_id="2006.11239", arxiv_id="2006.11239",
                    title="Denoising Diffusion Probabilistic Models",
                    abstract="We present high quality image synthesis results using diffusion probabilistic models.",
                    categories=("cs.LG", "stat.ML")),
        PaperRecord(source_kind="arxiv-rss", external_id="1609.02907", arxiv_id="1609.02907",
                    title="Semi-Supervised Classification with Graph Convolutional Networks",
                    abstract="Graph neural networks for semi-supervised node classification.", categories=("cs.LG",))],
        now=datetime(2026, 11, 24, 3, tzinfo=timezone.utc))
    store.upsert_user("ada@example.org")
    store.add_subscription("ada@example.org", "diffusion", query="diffusion")
    store.add_label("ada@example.org", "generative", "arxiv:2006.11239")
    match_new(store)
    tables = ("papers", "paper_sources", "paper_events", "user_labels", "matches")

    def counts() -> dict[str, int]:
        with store.engine.connect() as conn:
            return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0) for t in tables}

    before = counts()
    assert before["paper_sources"] == 2 and before["user_labels"] == 1 and before["matches"] >= 1
    command.downgrade(alembic_config(store.engine), "0002")
    try:
        assert counts() == before
    finally:
        store.close()
