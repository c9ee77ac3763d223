"""An official's own tasks indexed only where someone holds them

`ix_human_task_assignee` and `ix_human_task_completed_by` answer `assignee = :me` and `completed_by =
:me` (the inbox's "mine" and "completed" tabs and their counts) and nothing else: the unclaimed tasks are
read from the candidate index, by a condition no index answers on SQLite. Both now leave out the rows
whose column is NULL, as an equality on the column implies it is set (SQLite and PostgreSQL both prove
that for a bound value). A new task, held by nobody, writes neither, and a completion adds entries
instead of moving them: a command's commit on SQLite writes 29.7 pages instead of 31.5
(`bench/wal_pages.py`).

Revision ID: 0015_partial_person_indexes
Revises: 0014_unread_task_index
Create Date: 2026-12-07 13:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_partial_person_indexes"
down_revision = "0014_unread_task_index"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_human_task_assignee": ["assignee", "status", "created_at"],
    "ix_human_task_completed_by": ["completed_by", "status", "completed_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            held = sa.text(f"{columns[0]} IS NOT NULL")
            batch_op.create_index(name, columns, unique=False, sqlite_where=held, postgresql_where=held)


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)
