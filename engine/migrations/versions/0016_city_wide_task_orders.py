"""Every task list order of a status is an index: a city-wide reader's first page is read, not sorted

An auditor at the root of the org tree lists tasks with no reach condition (it would hold for every row)
and so nothing but the status to bound them. Sorted by creation, the first page sorted all 900,000
completed tasks of the city (SQLite 1.3-2.7 s, PostgreSQL 0.27-0.32 s) or all 100,000 open ones
(0.14-0.29 s). `ix_human_task_created` (status, created_at, id) gives "created" and "-created" their order.
`ix_human_task_priority` was (status, priority, created_at): the list sorts priority descending and then
creation ascending, an order no scan of it yields; it is now (status, priority DESC, created_at, id).
`ix_human_task_due` (status, due_at) gains the rest of the "due" order, (created_at, id): the tasks without
a deadline (the NULLs, last) were sorted by creation, and steps without deadlines are common.
Each new task writes one entry more (SQLite: about 1.2 pages a command, `bench/wal_pages.py`).

Revision ID: 0016_city_wide_task_orders
Revises: 0015_partial_person_indexes
Create Date: 2026-12-07 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_city_wide_task_orders"
down_revision = "0015_partial_person_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_priority")
        batch_op.drop_index("ix_human_task_due")
        batch_op.create_index("ix_human_task_due", ["status", "due_at", "created_at", "id"], unique=False)
        batch_op.create_index("ix_human_task_created", ["status", "created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_human_task_priority", ["status", sa.desc("priority"), "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_priority")
        batch_op.drop_index("ix_human_task_created")
        batch_op.drop_index("ix_human_task_due")
        batch_op.create_index("ix_human_task_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_human_task_priority", ["status", "priority", "created_at"], unique=False)
