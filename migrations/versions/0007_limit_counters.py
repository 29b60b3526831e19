"""limit counters shared by the instances

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


import models.columns

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'limit_slot',
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('member', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('expires_at', models.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', 'member'),
    )
    with op.batch_alter_table('limit_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_limit_slot_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('limit_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_limit_slot_expires_at'))
    op.drop_table('limit_slot')
