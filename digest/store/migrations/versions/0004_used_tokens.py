"""used_tokens: a sign-in link signs in once; users.unsubscribed: a config re-apply respects it

A sign-in link was valid for its 15 minutes however often it was used, so a copy of it (a forwarded
message, a proxy's log, a shared screen) could open a second session. The SHA-256 of each sign-in
token is kept here once used, until the token expires.

``users.unsubscribed`` records that a user unsubscribed from everything themselves, so `digest init`
(which a service may run at every start) no longer makes a config-defined user active again. Users
already inactive are left as they are (not marked): nothing says who deactivated them.

``ix_outbox_sent_at``: `digest status` shows the last sent time, which without an index read every
outbox row and walked past each stored message (tens of KB) to reach ``sent_at``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.schema

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'used_tokens',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('expires', digest.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('key'),
    )
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_tokens_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribed', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_sent_at'), ['sent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_sent_at'))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('unsubscribed')
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_tokens_user_id'))
    op.drop_table('used_tokens')
