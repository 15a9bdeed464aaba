"""installation: the random namespace of this installation's OSCAL identifiers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:50:00

OSCAL UUIDs were a fixed namespace plus local row ids, so "assessment 2" had the same UUID on
every server. The namespace is now random per installation, made here once (uuid4).
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    installation = op.create_table(
        'installation',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('namespace', sa.String(length=36), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_installation_one_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_installation')),
    )
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == 'sqlite':
        now = now.replace(tzinfo=None)  # stored in UTC without an offset, as UTCDateTime does
    op.bulk_insert(installation, [{'id': 1, 'namespace': str(uuid.uuid4()), 'created_at': now}])


def downgrade() -> None:
    op.drop_table('installation')
