"""Drop ix_human_task_org, which no query reads

Every statement the inbox, its tab counts and the statistics send (73 distinct ones: mine, candidate and
all, open and completed, each sort, with and without a process or a search text, for a committee's and a
subdistrict's official and the city's auditor) was explained on the city databases (1,000,000 tasks):
none used `ix_human_task_org` (org_code, status, created_at), on SQLite or PostgreSQL. SQLite reads a
lane's tasks from `ix_human_task_candidate` (status, role, org_code, created_at), role-less steps included
(`role IS NULL` is an equality to an index), and PostgreSQL from `ix_human_task_org_path`. Each task
created or completed still wrote an entry of it.

Revision ID: 0014_unread_task_index
Revises: 0013_redundant_indexes
Create Date: 2026-12-07 12:30:00
"""

from alembic import op

revision = "0014_unread_task_index"
down_revision = "0013_redundant_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_org")


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.create_index("ix_human_task_org", ["org_code", "status", "created_at"], unique=False)
