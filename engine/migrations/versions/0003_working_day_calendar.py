"""working-day calendar, seeded with the published holiday schedule

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:40:00
"""

import sqlalchemy as sa
from alembic import op

from engine.calendar import published_schedule

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    calendar_year = op.create_table(
        "calendar_year",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_year")),
    )
    calendar_day = op.create_table(
        "calendar_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["year"], ["calendar_year.year"], name=op.f("fk_calendar_day_year_calendar_year")),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_day")),
    )
    with op.batch_alter_table("calendar_day", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_day_year"), ["year"], unique=False)

    # The schedule as this release knows it; `govflow init` adds years a newer package knows later.
    from datetime import UTC, datetime

    days, years = published_schedule()
    now = datetime.now(UTC)
    op.bulk_insert(calendar_year, [{"year": y, "source": "seed", "changed_by": None, "changed_at": now} for y in years])
    op.bulk_insert(
        calendar_day, [{"day": d.day, "year": d.day.year, "kind": d.kind.value, "name": d.name} for d in days]
    )


def downgrade() -> None:
    with op.batch_alter_table("calendar_day", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_day_year"))
    op.drop_table("calendar_day")
    op.drop_table("calendar_year")
