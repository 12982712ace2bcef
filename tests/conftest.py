"""Shared fixtures: real SQLite files and a real PostgreSQL server, test data paths.

PostgreSQL: ``DIGEST_TEST_POSTGRES_URL`` points at a server (``python3 tasks.py test`` starts a
throwaway one when the Debian package is installed). Without it the PostgreSQL half of the store
suite is skipped, except when ``DIGEST_REQUIRE_POSTGRES=1`` (CI), where it fails instead.

Chromium: ``browser`` is Debian's /usr/bin/chromium driven by Playwright, skipped without it unless
``DIGEST_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from digest.store import Store
from digest.store.engine import make_engine, upgrade

# CI runs the property tests on fixed examples (derandomize: the same inputs every run, so what fails
# there fails again, and a push is not blocked by an input found by chance); a developer's run keeps
# drawing new ones, with the local example database replaying any failure found.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DATA = Path(__file__).parent / "data"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (``playwright install`` cannot download browsers here: Debian's is used)."""
    if not CHROMIUM.exists():
        if os.environ.get("DIGEST_REQUIRE_BROWSER") == "1":
            pytest.fail("DIGEST_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing")
        pytest.skip("no Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """tests/data: copies of ../shared/fixtures (see tests/data/SOURCES.md)."""
    return DATA


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """URL of a fresh, migrated SQLite file."""
    path = tmp_path / "digest.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


def _postgres_admin_url() -> str | None:
    url = os.environ.get("DIGEST_TEST_POSTGRES_URL")
    if not url and os.environ.get("DIGEST_REQUIRE_POSTGRES") == "1":
        pytest.fail("DIGEST_REQUIRE_POSTGRES=1 but DIGEST_TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str | None]:
    admin = _postgres_admin_url()
    if not admin:
        yield None
        return
    name = f"digest_tpl_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    tpl = make_engine(make_url(admin).set(database=name).render_as_string(hide_password=False))
    upgrade(tpl)
    tpl.dispose()
    yield name
    with engine.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def postgres_url(_postgres_template: str | None) -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database (cloned from a migrated template)."""
    admin = _postgres_admin_url()
    if not admin or not _postgres_template:
        pytest.skip("no PostgreSQL server (set DIGEST_TEST_POSTGRES_URL)")
    name = f"digest_t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_postgres_template}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on each backend: tests using it run twice."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A Store on SQLite and on PostgreSQL."""
    s = Store.open(db_url, migrate=False)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """A Store on SQLite only, for tests where the backend does not matter."""
    s = Store.open(sqlite_url, migrate=False)
    yield s
    s.close()
