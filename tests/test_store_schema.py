"""The migrations produce exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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
