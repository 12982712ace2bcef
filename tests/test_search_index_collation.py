"""The search index on a PostgreSQL database whose default collation is linguistic (en_US, ICU),
as Debian's and Ubuntu's clusters take from the system locale: prefix words and fuzzy words read
*ranges* of stored terms (``'t:optimiz' <= term < 't:optimi{'``), which only byte order keeps
together ("{" and ";" sort before letters and ":" in en_US). The term column is declared
``COLLATE "C"`` on PostgreSQL (migration 0005); the suite's own server runs with C.UTF-8, so the
fixture below makes a database with ICU's en-US collation and migrates it as ``digest init`` would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from digest.match.run import match_new
from digest.match.search import _hits, search
from digest.models import PaperRecord
from digest.store import Store
from digest.store.engine import make_engine, upgrade

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)

#: Real titles (arXiv 1503.02531, 1412.6980, 2106.09685, 1609.07061), with their arXiv ids.
PAPERS = [
    ("1503.02531", "Distilling the Knowledge in a Neural Network", ("Geoffrey Hinton", "Oriol Vinyals", "Jeff Dean"),
     "A very simple way to improve the performance of almost any machine learning algorithm is to train many "
     "different models on the same data and then to average their predictions. We show that knowledge "
     "distillation compresses the knowledge in an ensemble into a single model."),
    ("1412.6980", "Adam: A Method for Stochastic Optimization", ("Diederik P. Kingma", "Jimmy Ba"),
     "We introduce Adam, an algorithm for first-order gradient-based optimization of stochastic objective "
     "functions, based on adaptive estimates of lower-order moments."),
    ("2106.09685", "LoRA: Low-Rank Adaptation of Large Language Models", ("Edward J. Hu", "Yelong Shen"),
     "We propose Low-Rank Adaptation, or LoRA, which freezes the pre-trained model weights and injects "
     "trainable rank decomposition matrices into each layer of the Transformer architecture."),
    ("1609.07061", "Quantized Neural Networks: Training Neural Networks with Low Precision Weights and Activations",
     ("Itay Hubara", "Matthieu Courbariaux"),
     "We introduce a method to train Quantized Neural Networks (QNNs): neural networks with extremely low "
     "precision weights and activations, at run-time."),
]


@pytest.fixture
def icu_store() -> Iterator[Store]:
    """A migrated PostgreSQL database whose default collation is ICU's en-US (not "C")."""
    admin = os.environ.get("DIGEST_TEST_POSTGRES_URL")
    if not admin:
        pytest.skip("no PostgreSQL server (set DIGEST_TEST_POSTGRES_URL)")
    name = f"digest_icu_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' '
                       "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    migrator = make_engine(url)
    upgrade(migrator)
    migrator.dispose()
    store = Store.open(url, migrate=False)
    try:
        yield store
    finally:
        store.close()
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _fill(store: Store) -> None:
    store.ingest_records("arxiv", [PaperRecord("arxiv-rss", aid, title, authors, abstract=abstract, arxiv_id=aid,
                                               version=1, categories=("cs.LG",))
                                   for aid, title, authors, abstract in PAPERS], now=NOW)
    match_new(store)


def _brute(store: Store, query: str) -> list[tuple[str, float]]:
    return [(h.paper.id, h.score) for h in _hits(store, query, store.iter_papers(), None)]


def _indexed(store: Store, query: str) -> list[tuple[str, float]]:
    return [(h.paper.id, h.score) for h in search(store, query)]


@pytest.mark.postgres
@pytest.mark.parametrize("query", ["adaptaton~", "ti:distiling~1", "knowlege~ distilation~"])
def test_explicit_fuzzy_words_on_a_postgres_with_a_linguistic_collation(icu_store: Store,
                                                                                      query: str) -> None:
    """`digest search "ti:distiling~1"` finds Hinton et al.'s "Distilling the Knowledge in a Neural
    Network" as evaluating every paper does: an explicit `~` word reads the stored terms in
    ['t:', 't;'), empty in en_US order (it found nothing before the column was byte-ordered)."""
    _fill(icu_store)
    expected = _brute(icu_store, query)
    assert expected, "evaluating every paper finds the paper"
    assert _indexed(icu_store, query) == expected


@pytest.mark.postgres
@pytest.mark.parametrize("query", ["optimiz*", "optimis*", "quantiz*", "ti:quantiz*"])
def test_prefixes_ending_in_z_on_a_postgres_with_a_linguistic_collation(icu_store: Store,
                                                                                     query: str) -> None:
    """`digest search "optimis*"` (indexed as "optimiz") finds "Adam: A Method for Stochastic
    Optimization" as evaluating every paper does: the range ['t:optimiz', 't:optimi{') is empty in
    en_US order."""
    _fill(icu_store)
    expected = _brute(icu_store, query)
    assert expected, "evaluating every paper finds the paper"
    assert _indexed(icu_store, query) == expected
