"""ingest indexes: drop the unused title_key index, block fuzzy merges on (first_author_key, arxiv_id)

Every index is written on every insert, so ingest pays for it per paper. ``title_key`` is only ever
compared in Python among the candidates a first-author lookup returns, never searched, so its index
(up to 500-byte keys in random order) cost inserts and cache for nothing. The first-author lookup of
an arXiv record asks ``first_author_key IN (...) AND arxiv_id IS NULL`` (two arXiv ids are two
papers); with ``arxiv_id`` as the second column both conditions are answered from the index, where the
one-column index made SQLite read every same-surname arXiv paper's row to discard it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:30:00
"""
from __future__ import annotations

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Index changes only: batch mode on SQLite issues them in place, no table copy.
    with op.batch_alter_table('papers', schema=None) as batch_op:
        batch_op.drop_index('ix_papers_title_key')
        batch_op.drop_index('ix_papers_first_author_key')
        batch_op.create_index('ix_papers_author_arxiv', ['first_author_key', 'arxiv_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('papers', schema=None) as batch_op:
        batch_op.drop_index('ix_papers_author_arxiv')
        batch_op.create_index('ix_papers_first_author_key', ['first_author_key'], unique=False)
        batch_op.create_index('ix_papers_title_key', ['title_key'], unique=False)
