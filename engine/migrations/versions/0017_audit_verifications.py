"""Verifications of the audit trail run in the background: an auditor asks, `govflow worker` replays

A city's 2.5 million audit events take a minute or more to replay, longer than a page or a proxy waits for
a request. `audit_verification` holds each one asked for: its scope (an instance, or the org paths the
requester reached when asking), the claim of the worker running it, its progress and its result.

Revision ID: 0017_audit_verifications
Revises: 0016_city_wide_task_orders
Create Date: 2026-12-07 18:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_audit_verifications"
down_revision = "0016_city_wide_task_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_verification",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("paths", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("broken", sa.JSON(), nullable=False),
        sa.Column("broken_total", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["user_account.username"],
            name=op.f("fk_audit_verification_requested_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verification")),
    )
    with op.batch_alter_table("audit_verification", schema=None) as batch_op:
        batch_op.create_index("ix_audit_verification_status", ["status", "requested_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_verification_requested_by"), ["requested_by"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_verification")
