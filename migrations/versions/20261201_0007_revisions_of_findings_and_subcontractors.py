"""revisions of findings and subcontractors, for their ETags and If-Match

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('finding', 'subcontractor'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('revision', sa.Integer(), server_default=sa.text('1'), nullable=False)
            )


def downgrade() -> None:
    for table in ('subcontractor', 'finding'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('revision')
