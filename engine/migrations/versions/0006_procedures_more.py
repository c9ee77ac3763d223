"""the deliberation's convention filings and the benefits granted through delegated service items;
rule versions a database migrated before this release lacks

Revision ID: 0006_procedures_more
Revises: 0005_task_copy
Create Date: 2026-12-01 23:40:00
"""

import sqlalchemy as sa
from alembic import op

from engine.reference_data import rule_rows

revision = "0006_procedures_more"
down_revision = "0005_task_copy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "convention_filing",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_code", sa.String(length=64), nullable=False),
        sa.Column("filed_to", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("resolution", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("review_opinion", sa.Text(), nullable=True),
        sa.Column("correction_items", sa.Text(), nullable=True),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["filed_to"], ["org_unit.code"], name=op.f("fk_convention_filing_filed_to_org_unit")),
        sa.ForeignKeyConstraint(["org_code"], ["org_unit.code"], name=op.f("fk_convention_filing_org_code_org_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_convention_filing")),
    )
    with op.batch_alter_table("convention_filing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_convention_filing_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_convention_filing_org_code"), ["org_code"], unique=False)

    op.create_table(
        "service_benefit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_code", sa.String(length=100), nullable=False),
        sa.Column("item_name", sa.String(length=200), nullable=False),
        sa.Column("applicant_name", sa.String(length=50), nullable=False),
        sa.Column("applicant_id_no", sa.String(length=18), nullable=False),
        sa.Column("org_code", sa.String(length=64), nullable=False),
        sa.Column("decided_level", sa.String(length=20), nullable=False),
        sa.Column("monthly_amount", sa.Integer(), nullable=True),
        sa.Column("subsidy_share", sa.String(length=20), nullable=True),
        sa.Column("start_month", sa.String(length=7), nullable=False),
        sa.Column("review_due_on", sa.Date(), nullable=False),
        sa.Column("decision_doc_no", sa.String(length=50), nullable=False),
        sa.Column("basis", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_code"], ["org_unit.code"], name=op.f("fk_service_benefit_org_code_org_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_benefit")),
    )
    with op.batch_alter_table("service_benefit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_benefit_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_benefit_item_code"), ["item_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_benefit_org_code"), ["org_code"], unique=False)

    # Rule versions this release adds (a database migrated to 0004 by an earlier release lacks them;
    # one migrated now got them from 0004, which seeds from the shipped file).
    rule_set = sa.table(
        "rule_set",
        sa.column("key", sa.String),
        sa.column("version", sa.Integer),
        sa.column("value", sa.JSON),
        sa.column("unit", sa.String),
        sa.column("description", sa.String),
        sa.column("law", sa.String),
        sa.column("article", sa.String),
        sa.column("legal_basis_version", sa.String),
        sa.column("valid_from", sa.Date),
        sa.column("valid_to", sa.Date),
        sa.column("assumed", sa.Boolean),
        sa.column("changed_by", sa.String),
        sa.column("changed_at", sa.DateTime(timezone=True)),
    )
    have = {(key, version) for key, version in op.get_bind().execute(sa.text("SELECT key, version FROM rule_set"))}
    missing = [row for row in rule_rows() if (row["key"], row["version"]) not in have]
    if missing:
        op.bulk_insert(rule_set, missing)


def downgrade() -> None:
    with op.batch_alter_table("service_benefit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_benefit_org_code"))
        batch_op.drop_index(batch_op.f("ix_service_benefit_item_code"))
        batch_op.drop_index(batch_op.f("ix_service_benefit_instance_id"))
    op.drop_table("service_benefit")
    with op.batch_alter_table("convention_filing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_convention_filing_org_code"))
        batch_op.drop_index(batch_op.f("ix_convention_filing_instance_id"))
    op.drop_table("convention_filing")
