"""抄送: steps of a case copied to officials for their information

Revision ID: 0005_task_copy
Revises: 0004_procedures
Create Date: 2026-12-02 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_task_copy"
down_revision = "0004_procedures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_copy",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("copied_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("copied_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["process_instance.id"], name=op.f("fk_task_copy_instance_id_process_instance")
        ),
        sa.ForeignKeyConstraint(["task_id"], ["human_task.id"], name=op.f("fk_task_copy_task_id_human_task")),
        sa.ForeignKeyConstraint(
            ["username"], ["user_account.username"], name=op.f("fk_task_copy_username_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_copy")),
        sa.UniqueConstraint("task_id", "username", name=op.f("uq_task_copy_task_id_username")),
    )
    with op.batch_alter_table("task_copy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_copy_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index("ix_task_copy_recipient", ["username", "copied_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_copy", schema=None) as batch_op:
        batch_op.drop_index("ix_task_copy_recipient")
        batch_op.drop_index(batch_op.f("ix_task_copy_instance_id"))
    op.drop_table("task_copy")
