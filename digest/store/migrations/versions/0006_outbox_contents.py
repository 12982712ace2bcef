"""outbox.contents: what each digest held when it was built, for its web page

The page of a digest (``/digest/<token>``, where an email's "N more papers did not fit" leads)
rebuilt the digest from the data as it was when the page was opened: the alerts' current names,
periods, channels and pause, the user's current "Updated" setting, matches a new arXiv version had
moved, sent records the digest itself overwrote. It drifted from the email. ``contents`` keeps, per
digest, its sections and papers in the email's order and what each card showed
(digest.digests.record), and the page lists that.

Rows recorded before have NULL: their page says it cannot be shown.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contents', sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('contents')
