"""search index: heavy terms; the index is rebuilt once

Search evaluated every paper that carries a query's word: for a common word, thousands of papers
that mention it once in the abstract and cannot reach the threshold (~1 ms each). The index now
also posts, per paper, ``h1:<key>`` and ``h2:<key>`` for the keys whose weighted hits reach 1 and 2
(digest.match.search_index.heavy_terms), from which search leaves those papers out.

Postings written before have no heavy terms, and search would take their papers for light ones:
they are removed with the search watermark, so the next `digest match` indexes every stored paper
once (~1 ms a paper, with a progress bar on a terminal); until then search checks every paper that
is not indexed yet directly, as before the index existed. Going down keeps the rebuilt postings:
the older code reads only the terms it knows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM search_postings")
    op.execute("DELETE FROM watermarks WHERE name = 'search'")


def downgrade() -> None:
    pass
