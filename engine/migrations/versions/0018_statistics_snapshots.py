"""Auditors' statistics that took long to compute are kept and refreshed in the background

A city auditor's statistics read a million tasks: 12-22 s on SQLite, 6 s on PostgreSQL, on every visit to
the page. A computation slower than two seconds is kept in `statistics_snapshot` (by its scope: org
paths, procedure, start dates); readers get it while it is fresh, and `govflow worker` refreshes the
snapshots someone read in the last day before they go stale.

Revision ID: 0018_statistics_snapshots
Revises: 0017_audit_verifications
Create Date: 2026-12-07 18:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_statistics_snapshots"
down_revision = "0017_audit_verifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statistics_snapshot",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshing_by", sa.String(length=100), nullable=True),
        sa.Column("refreshing_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_statistics_snapshot")),
    )


def downgrade() -> None:
    op.drop_table("statistics_snapshot")
