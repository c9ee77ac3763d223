"""Three indexes every command wrote and no read needed

`ix_audit_event_instance_id` repeated the stream: an instance's events carry its id as their stream and
as their instance id, the system's events neither, and the stream leads the (stream, seq) key. Its
random keys cost each command a page of its own in the write-ahead log. `ix_process_instance_status`
is the first column of `ix_process_instance_status_started`, which answers whatever it answered, and
cost a start and an end two pages each. `ix_human_task_business_key` answered nothing: the inbox
matches a business key anywhere in it (LIKE '%...%'), which no B-tree serves. A command wrote 33.9
pages on average before, 30.7-30.9 after.

Revision ID: 0013_redundant_indexes
Revises: 0012_missed_deadline_indexes
Create Date: 2026-12-07 11:00:00
"""

from alembic import op

revision = "0013_redundant_indexes"
down_revision = "0012_missed_deadline_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_instance_id")
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_process_instance_status")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_business_key")


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.create_index("ix_human_task_business_key", ["business_key"], unique=False)
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.create_index("ix_process_instance_status", ["status"], unique=False)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_instance_id", ["instance_id"], unique=False)
