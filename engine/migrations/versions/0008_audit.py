"""The auditor workspace: saved searches, run-time settings, tombstones of purged audit chains

Audit rows stay append-only: UPDATE is always refused, and DELETE is refused unless a tombstone that
covers the row's stream and seq was written first (the retention purge writes it, and records it on the
system chain, in the same transaction). Tombstones themselves are never updated or deleted.

Revision ID: 0008_audit
Revises: 0007_jobs
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_audit"
down_revision = "0007_jobs"
branch_labels = None
depends_on = None

REFUSAL = "audit_event rows are append-only (only a retention purge that wrote a tombstone removes them)"
TOMBSTONED = (
    "EXISTS (SELECT 1 FROM audit_tombstone t WHERE t.stream = OLD.stream "
    "AND OLD.seq BETWEEN t.first_seq AND t.last_seq) AND OLD.stream <> 'system'"
)


def upgrade() -> None:
    op.create_table(
        "saved_search",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"], ["user_account.username"], name=op.f("fk_saved_search_username_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_search")),
        sa.UniqueConstraint("username", "name", name=op.f("uq_saved_search_username_name")),
    )
    with op.batch_alter_table("saved_search", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_search_username"), ["username"], unique=False)
    op.create_table(
        "engine_setting",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_engine_setting")),
    )
    op.create_table(
        "audit_tombstone",
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=False),
        sa.Column("process_version", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("org_code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("hashes", sa.JSON(), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_by", sa.String(length=64), nullable=False),
        sa.Column("purge_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_audit_tombstone")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION govflow_audit_append_only() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' AND {TOMBSTONED} THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION '{REFUSAL}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            """
            CREATE FUNCTION govflow_tombstone_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_tombstone rows are append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_tombstone_append_only BEFORE UPDATE OR DELETE ON audit_tombstone "
            "FOR EACH ROW EXECUTE FUNCTION govflow_tombstone_append_only()"
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
        op.execute(
            f"CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event WHEN NOT ({TOMBSTONED}) "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_tombstone_no_{verb.lower()} BEFORE {verb} ON audit_tombstone "
                "BEGIN SELECT RAISE(ABORT, 'audit_tombstone rows are append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_tombstone_append_only ON audit_tombstone")
        op.execute("DROP FUNCTION IF EXISTS govflow_tombstone_append_only()")
        op.execute(
            """
            CREATE OR REPLACE FUNCTION govflow_audit_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_event rows are append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_tombstone_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_tombstone_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
        op.execute(
            "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'audit_event rows are append-only'); END"
        )
    op.drop_table("audit_tombstone")
    op.drop_table("engine_setting")
    with op.batch_alter_table("saved_search", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_search_username"))
    op.drop_table("saved_search")
