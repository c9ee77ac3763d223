"""PostgreSQL: the trigrams of every business key, for a search by any part of one

The task list's search text matches any part of a step's name or of the case's business key. When it names
no step, the cases whose key holds it are found first and only their tasks read (engine/commands/queries.py
`_task_text`); finding them read every case's key: 70-110 ms for a city's 366,000 cases on PostgreSQL, and
more as cases pile up. A GIN index of the key's trigrams (the pg_trgm extension: part of PostgreSQL's
contrib, and trusted, so a database owner may create it) answers the key's ILIKE for a text of three
characters or more in under 2 ms. A case writes it once, when it starts: the key never changes. SQLite
keeps reading its business key index, which holds the keys alone (about 25 ms at city scale).

Revision ID: 0019_business_key_trigrams
Revises: 0018_statistics_snapshots
Create Date: 2026-12-07 21:30:00
"""

from alembic import op

revision = "0019_business_key_trigrams"
down_revision = "0018_statistics_snapshots"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_process_instance_business_key_trgm ON process_instance USING gin (business_key gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_process_instance_business_key_trgm")
