"""webhook revisions, secret rotation, deletion; cancelled deliveries

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 15:40:00.000000

A webhook gets a revision (its ETag), the previous secret with the end of its grace period,
updated_at and deleted_at (a deleted webhook keeps its row, so the deliveries it had stay
readable; its undelivered ones become ``cancelled``, a new delivery state).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES_BEFORE = "state IN ('pending', 'delivered', 'failed')"
STATES_AFTER = "state IN ('pending', 'delivered', 'failed', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_secret', sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True)
        )
        # existing webhooks start at revision 1; the model gives new ones theirs
        batch_op.add_column(
            sa.Column('revision', sa.Integer(), nullable=False, server_default=sa.text('1'))
        )
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.alter_column('revision', server_default=None)
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_webhook_delivery_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_webhook_delivery_state'), STATES_AFTER)


def downgrade() -> None:
    op.execute("UPDATE webhook_delivery SET state = 'failed' WHERE state = 'cancelled'")
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_webhook_delivery_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_webhook_delivery_state'), STATES_BEFORE)
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('revision')
        batch_op.drop_column('previous_secret_expires_at')
        batch_op.drop_column('previous_secret')
