"""The designer studio: drafts (a designer's bundle in the making) and their files

Revision ID: 0009_studio
Revises: 0008_audit
Create Date: 2026-12-10 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_studio"
down_revision = "0008_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "draft",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner"], ["user_account.username"], name=op.f("fk_draft_owner_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft")),
    )
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draft_owner"), ["owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_draft_process_key"), ["process_key"], unique=False)
    op.create_table(
        "draft_file",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("draft_id", sa.String(length=36), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["draft.id"], name=op.f("fk_draft_file_draft_id_draft"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_file")),
        sa.UniqueConstraint("draft_id", "filename", name=op.f("uq_draft_file_draft_id_filename")),
    )
    with op.batch_alter_table("draft_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draft_file_draft_id"), ["draft_id"], unique=False)


def downgrade() -> None:
    op.drop_table("draft_file")
    op.drop_table("draft")
