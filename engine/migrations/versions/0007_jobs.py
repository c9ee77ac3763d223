"""jobs and message subscriptions: due timers, retries, thrown messages, timer start events

Revision ID: 0007_jobs
Revises: 0006_procedures_more
Create Date: 2026-12-01 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_jobs"
down_revision = "0006_procedures_more"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("definition_id", sa.String(length=120), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"], ["process_definition.id"], name=op.f("fk_job_definition_id_process_definition")
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["process_instance.id"], name=op.f("fk_job_instance_id_process_instance")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_job_definition", ["definition_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_instance_id"), ["instance_id"], unique=False)

    op.create_table(
        "message_subscription",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["process_instance.id"], name=op.f("fk_message_subscription_instance_id_process_instance")
        ),
        sa.PrimaryKeyConstraint("instance_id", "name", name=op.f("pk_message_subscription")),
    )
    with op.batch_alter_table("message_subscription", schema=None) as batch_op:
        batch_op.create_index("ix_message_subscription_name", ["name", "business_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message_subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_message_subscription_name")
    op.drop_table("message_subscription")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_instance_id"))
        batch_op.drop_index("ix_job_definition")
        batch_op.drop_index("ix_job_due")
    op.drop_table("job")
