"""search_postings, search_pending: an index of paper terms for `digest search`

`digest search` and the web's search page evaluated the query on every stored paper (~1-2 ms each:
~8 minutes on a 400,000-paper store). `digest match` now also writes, per indexing batch, the
papers' terms (digest.match.search_index); search reads the candidates from it and evaluates only
those. ``search_pending`` lists papers whose content changed without a new ingest sequence number.

The index starts empty: the next `digest match` indexes every stored paper once, and until then
search checks every paper as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 12:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'search_postings',
        # Byte order on PostgreSQL too: lookups read key ranges (see SearchPostingRow).
        sa.Column('term', sa.String(length=128).with_variant(sa.String(length=128, collation='C'), 'postgresql'),
                  nullable=False),
        sa.Column('segment', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
        sa.Column('papers', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('term', 'segment'),
        sqlite_with_rowid=False,
    )
    op.create_table(
        'search_pending',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('paper_id', sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('search_pending')
    op.drop_table('search_postings')
    op.execute("DELETE FROM watermarks WHERE name = 'search'")
