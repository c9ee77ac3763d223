"""Indexes that answer the missed-deadline search from themselves: the tasks' deadlines, the cases' order

"Cases under a unit with a step that missed its deadline" reads the unit's cases from the org path index
and probes each for such a step. Both reads went to rows scattered over the tables: a page read per
case and per task when the pages were not cached (a subdistrict's ~1,550 cases at city scale: 144 ms
median, 443 ms at worst after the cache was dropped; 26 ms median warm). The tasks' instance index now
holds (instance_id, due_at, completed_at, status), so the probe reads no task row; the cases' org path
index holds (org_path, started_at, id), so only the cases kept are read: 26 ms median, 213 at worst,
cold; 10 ms warm. Each replaces an index, and no column of the second changes when a command runs.

Revision ID: 0012_missed_deadline_indexes
Revises: 0011_sign_in_checks
Create Date: 2026-12-06 21:30:00
"""

from alembic import op

revision = "0012_missed_deadline_indexes"
down_revision = "0011_sign_in_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_instance_id")
        batch_op.create_index(
            "ix_human_task_instance_due", ["instance_id", "due_at", "completed_at", "status"], unique=False
        )
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_process_instance_org_path")
        batch_op.create_index("ix_process_instance_org_path", ["org_path", "started_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_process_instance_org_path")
        batch_op.create_index("ix_process_instance_org_path", ["org_path"], unique=False)
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_instance_due")
        batch_op.create_index("ix_human_task_instance_id", ["instance_id"], unique=False)
