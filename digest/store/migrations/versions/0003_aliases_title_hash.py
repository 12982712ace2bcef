"""paper aliases; exact-title merge blocking (papers.title_hash); title keys recomputed

``paper_aliases`` holds the names a paper is known by besides its identifier columns: a bioRxiv
preprint's published-journal DOI (the details API's ``published``), so the journal's own entry
merges with the preprint, whichever arrives first.

``papers.title_hash`` (indexed): fuzzy-merge candidates were looked up by first-author surname only,
so a source that drops, reorders or spells the first author differently ("Wang Xiaoming" /
"Xiaoming Wang", "Le Cun" / "LeCun") never met the paper. Candidates are now also looked up by a
hash of the exact title key (see ``digest.store.merge.title_hash`` for why not the key itself).

Title keys changed meaning for some titles: Greek letters are spelled out ("α-Divergences" is
"alpha divergences", as the TeX "$\\alpha$" of another source), letters of other scripts are kept
instead of dropped, and "+"/"#" ending a word are spelled out ("C++" is not "C"). The first-author
key of a collective author is its whole name ("The ATLAS Collaboration" was "collaboration", as was
every other collaboration). Rows stored before kept their old keys; as candidates are now looked up
by exact key, every title and first-author key is recomputed here (most come out as they were).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 23:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.schema

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_BATCH = 2000


def upgrade() -> None:
    op.create_table(
        'paper_aliases',
        sa.Column('alias', sa.String(length=300), nullable=False),
        sa.Column('paper_id', sa.String(length=300), nullable=False),
        sa.Column('created', digest.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['paper_id'], ['papers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('alias'),
    )
    with op.batch_alter_table('paper_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paper_aliases_paper_id'), ['paper_id'], unique=False)
    # A column with a default and an index: batch mode on SQLite adds both in place, no table copy.
    with op.batch_alter_table('papers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_hash', sa.Integer(), server_default='0', nullable=False))
    _fill_title_keys()
    with op.batch_alter_table('papers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_papers_title_hash'), ['title_hash'], unique=False)


def _fill_title_keys() -> None:
    # The key functions of the code being installed: the stored values must be what ingest computes.
    from digest.store.merge import first_author_key, title_hash, title_key

    papers = sa.table('papers', sa.column('id', sa.String), sa.column('title', sa.Text), sa.column('authors', sa.JSON),
                      sa.column('title_key', sa.String), sa.column('title_hash', sa.Integer),
                      sa.column('first_author_key', sa.String))
    update = (papers.update().where(papers.c.id == sa.bindparam('b_id'))
              .values(title_key=sa.bindparam('b_key'), title_hash=sa.bindparam('b_hash'),
                      first_author_key=sa.bindparam('b_author')))
    conn = op.get_bind()
    last = ''
    while True:  # keyset pages by id: constant memory on a million papers
        rows = conn.execute(sa.select(papers.c.id, papers.c.title, papers.c.authors)
                            .where(papers.c.id > last).order_by(papers.c.id).limit(_BATCH)).all()
        changes = []
        for pid, title, authors in rows:
            key = title_key(title or '')
            changes.append({'b_id': pid, 'b_key': key, 'b_hash': title_hash(key),
                            'b_author': first_author_key([str(a) for a in authors or ()])})
        if changes:
            conn.execute(update, changes)
        if len(rows) < _BATCH:
            break
        last = rows[-1][0]


def downgrade() -> None:
    # Recomputed title keys stay: they are valid keys for the older code as well (it only compares them).
    with op.batch_alter_table('papers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_papers_title_hash'))
        batch_op.drop_column('title_hash')
    with op.batch_alter_table('paper_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paper_aliases_paper_id'))
    op.drop_table('paper_aliases')
