"""scale: indexes for every scope and order, open-session counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "ended_at IS NULL"
OPEN_AND_ACTIVE = "ended_at IS NULL AND status = 'ACTIVE'"
ENDED = "ended_at IS NOT NULL"
PARTIAL_INDEXES = [
    ("ix_login_session_account_newest", ["account_id", "created_at", "id"], OPEN),
    ("ix_login_session_user_newest", ["user_id", "created_at", "id"], OPEN),
    ("ix_login_session_expiry_due", ["expires_at"], OPEN),
    ("ix_login_session_account_expiry", ["account_id", "expires_at"], OPEN),
    ("ix_login_session_user_expiry", ["user_id", "expires_at"], OPEN),
    ("ix_login_session_idle_due", ["last_seen_at"], OPEN_AND_ACTIVE),
    ("ix_login_session_ended", ["ended_at"], ENDED),
]
OLD_INDEXES = [
    ("ix_login_session_account_open", ["account_id", "ended_at", "created_at"]),
    ("ix_login_session_user_open", ["user_id", "ended_at", "created_at"]),
    ("ix_login_session_open_expiry", ["ended_at", "expires_at"]),
]
EVENT_INDEXES = [
    ("ix_session_event_account_id", ["account_id", "id"]),
    ("ix_session_event_account_user_id", ["account_id", "user_id", "id"]),
]


def upgrade() -> None:
    for table in ("account", "user"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('open_sessions', sa.Integer(), server_default='0', nullable=False))
    # Counts of the sessions open now; from here on kept by every transaction that opens or ends one.
    op.execute(
        'UPDATE account SET open_sessions = (SELECT count(*) FROM login_session '
        'WHERE login_session.account_id = account.id AND login_session.ended_at IS NULL)'
    )
    op.execute(
        'UPDATE "user" SET open_sessions = (SELECT count(*) FROM login_session '
        'WHERE login_session.user_id = "user".id AND login_session.ended_at IS NULL)'
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        for name, columns, where in PARTIAL_INDEXES:
            batch_op.create_index(
                name, columns, unique=False, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
            )
        for name, _columns in OLD_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table('session_event', schema=None) as batch_op:
        for name, columns in EVENT_INDEXES:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('session_event', schema=None) as batch_op:
        for name, _columns in EVENT_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        for name, columns in OLD_INDEXES:
            batch_op.create_index(name, columns, unique=False)
        for name, _columns, _where in PARTIAL_INDEXES:
            batch_op.drop_index(name)
    for table in ("user", "account"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('open_sessions')
