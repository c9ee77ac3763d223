"""Indexes for the instance search at city scale: newest first within a status, and a full order key

An auditor at the root of the org tree searches every instance, newest first. `status` alone (a handful
of values) or `started_at` alone left a sort of the matching rows, or of the ties; with these indexes
both databases walk an index in the list's order and stop after one page (docs/benchmarks.md).
On PostgreSQL the business-key index becomes text_pattern_ops: the search's business-key prefix is a
LIKE 'prefix%', which a plain index under a non-C collation cannot answer.

Revision ID: 0010_city_scale_indexes
Revises: 0009_studio
Create Date: 2026-12-06 11:00:00
"""

from alembic import op

revision = "0010_city_scale_indexes"
down_revision = "0009_studio"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_process_instance_started")
        batch_op.create_index("ix_process_instance_started", ["started_at", "id"], unique=False)
        batch_op.create_index("ix_process_instance_status_started", ["status", "started_at", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_process_instance_business_key", table_name="process_instance")
        op.create_index(
            "ix_process_instance_business_key",
            "process_instance",
            ["business_key"],
            postgresql_ops={"business_key": "text_pattern_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_process_instance_business_key", table_name="process_instance")
        op.create_index("ix_process_instance_business_key", "process_instance", ["business_key"])
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_process_instance_status_started")
        batch_op.drop_index("ix_process_instance_started")
        batch_op.create_index("ix_process_instance_started", ["started_at"], unique=False)
