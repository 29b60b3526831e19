"""account security: who ended a session, new devices, location

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_by_user_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
        batch_op.add_column(sa.Column('device_family', sqlmodel.sql.sqltypes.AutoString(length=250), nullable=True))
        batch_op.add_column(sa.Column('is_new_device', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('location_country_code', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True))
        batch_op.add_column(sa.Column('location_country', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column('location_city', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.create_foreign_key('fk_login_session_ended_by_user_id_user', 'user', ['ended_by_user_id'], ['id'])
        batch_op.create_index('ix_login_session_user_history', ['user_id', 'created_at'], unique=False)
        batch_op.create_index('ix_login_session_account_history', ['account_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index('ix_login_session_account_history')
        batch_op.drop_index('ix_login_session_user_history')
        batch_op.drop_constraint('fk_login_session_ended_by_user_id_user', type_='foreignkey')
        batch_op.drop_column('location_city')
        batch_op.drop_column('location_country')
        batch_op.drop_column('location_country_code')
        batch_op.drop_column('is_new_device')
        batch_op.drop_column('device_family')
        batch_op.drop_column('ended_by_user_id')
