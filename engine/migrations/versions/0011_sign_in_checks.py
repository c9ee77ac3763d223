"""Sign-in attempts being checked are told apart from failed ones

Every sign-in takes its place among the failures before its password is checked, so that simultaneous
guesses cannot pass the limits. Until now an attempt still being checked looked like a failure: the sixth
of six simultaneous right sign-ins of one user was told to come back in 16 minutes. `failed_at` is empty
while the check runs; the rows already there are failures.

Revision ID: 0011_sign_in_checks
Revises: 0010_city_scale_indexes
Create Date: 2026-12-06 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_sign_in_checks"
down_revision = "0010_city_scale_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE login_attempt SET failed_at = at")


def downgrade() -> None:
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
