"""the four procedures: rule tables, the committee legal-person registry, the delegation catalogue,
the lists of assisted matters and their monitoring reports, and dissolved org units; seeded

Revision ID: 0004_procedures
Revises: 0003
Create Date: 2026-12-01 22:48:06
"""

import sqlalchemy as sa
from alembic import op

from engine.reference_data import assist_list_rows, rule_rows, service_item_rows

revision = "0004_procedures"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    assist_matter = op.create_table(
        "assist_matter",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope_code", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("requesting_dept", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("funding_amount", sa.Integer(), nullable=False),
        sa.Column("funding_source", sa.String(length=200), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("next_review_on", sa.Date(), nullable=True),
        sa.Column("since_version", sa.Integer(), nullable=False),
        sa.Column("until_version", sa.Integer(), nullable=True),
        sa.Column("exit_reason", sa.Text(), nullable=True),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("assumed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assist_matter")),
    )
    with op.batch_alter_table("assist_matter", schema=None) as batch_op:
        batch_op.create_index("ix_assist_matter_scope_code", ["scope_code", "code", "until_version"], unique=False)

    assist_matter_list = op.create_table(
        "assist_matter_list",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope_code", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assist_matter_list")),
        sa.UniqueConstraint("scope_code", "version", name=op.f("uq_assist_matter_list_scope_code_version")),
    )
    rule_set = op.create_table(
        "rule_set",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("law", sa.String(length=200), nullable=False),
        sa.Column("article", sa.String(length=100), nullable=False),
        sa.Column("legal_basis_version", sa.String(length=40), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("assumed", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_set")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_rule_set_key_version")),
    )
    with op.batch_alter_table("rule_set", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_set_key"), ["key"], unique=False)

    service_item = op.create_table(
        "service_item",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("competent_level", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("decision_rule", sa.String(length=40), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("catalogue_version", sa.String(length=40), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("assumed", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_item")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_service_item_code_version")),
    )
    with op.batch_alter_table("service_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_item_code"), ["code"], unique=False)

    op.create_table(
        "committee_legal_person",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("org_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("legal_representative", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_code"], ["org_unit.code"], name=op.f("fk_committee_legal_person_org_code_org_unit")
        ),
        sa.PrimaryKeyConstraint("uscc", name=op.f("pk_committee_legal_person")),
    )
    with op.batch_alter_table("committee_legal_person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_committee_legal_person_org_code"), ["org_code"], unique=False)

    op.create_table(
        "monitoring_report",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("monitoring_point", sa.String(length=64), nullable=False),
        sa.Column("matter_code", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("unlisted_tasks", sa.JSON(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitoring_point"], ["org_unit.code"], name=op.f("fk_monitoring_report_monitoring_point_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_report")),
    )
    with op.batch_alter_table("monitoring_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitoring_report_matter_code"), ["matter_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_monitoring_report_monitoring_point"), ["monitoring_point"], unique=False)

    with op.batch_alter_table("org_unit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), server_default="active", nullable=False))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("successor_code", sa.String(length=64), nullable=True))

    # The reference data this release ships; `govflow init` adds what a newer release knows later.
    op.bulk_insert(rule_set, rule_rows())
    op.bulk_insert(service_item, service_item_rows())
    header, matters = assist_list_rows()
    op.bulk_insert(assist_matter_list, [header])
    op.bulk_insert(assist_matter, matters)


def downgrade() -> None:
    with op.batch_alter_table("org_unit", schema=None) as batch_op:
        batch_op.drop_column("successor_code")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("status")

    with op.batch_alter_table("monitoring_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_report_monitoring_point"))
        batch_op.drop_index(batch_op.f("ix_monitoring_report_matter_code"))

    op.drop_table("monitoring_report")
    with op.batch_alter_table("committee_legal_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_legal_person_org_code"))

    op.drop_table("committee_legal_person")
    with op.batch_alter_table("service_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_item_code"))

    op.drop_table("service_item")
    with op.batch_alter_table("rule_set", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_set_key"))

    op.drop_table("rule_set")
    op.drop_table("assist_matter_list")
    with op.batch_alter_table("assist_matter", schema=None) as batch_op:
        batch_op.drop_index("ix_assist_matter_scope_code")

    op.drop_table("assist_matter")
