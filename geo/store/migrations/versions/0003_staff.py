"""Staff state: sign-in tokens, the changes staff make, and the append-only audit log.

Revision ID: 0003_staff
Revises: 0001_initial
Create Date: 2026-12-01

The same three tables as the embedded SQLite store (`geo.store.staff`), prefixed ``staff_``. Times are
ISO 8601 text, as there, so both stores read and write the same rows. ``staff_changes`` and
``staff_audit`` are append-only: a trigger refuses every UPDATE and DELETE (and TRUNCATE) on them;
undo is a new change. Only ``staff_tokens.revoked_at`` is ever set after the fact (audited).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_staff"
down_revision: str | None = "0002_procedure_details"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = ("staff_changes", "staff_audit")


def upgrade() -> None:
    """Create the staff tables and their append-only triggers."""
    op.create_table(
        "staff_tokens",
        sa.Column("id", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, sa.CheckConstraint("role IN ('editor', 'admin')"), nullable=False),
        sa.Column("salt", sa.LargeBinary, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.Text),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff_tokens"),
    )
    op.create_table(
        "staff_changes",
        sa.Column("seq", sa.BigInteger, autoincrement=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("place_id", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_staff_changes"),
        sa.UniqueConstraint("id", name="uq_staff_changes_id"),
    )
    op.create_table(
        "staff_audit",
        sa.Column("seq", sa.BigInteger, sa.Identity()),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("seq", name="pk_staff_audit"),
    )
    op.create_index("ix_staff_audit_target", "staff_audit", ["target"])
    op.create_index("ix_staff_audit_actor", "staff_audit", ["actor"])
    op.execute(
        """
        CREATE FUNCTION staff_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
        END $$
        """
    )
    for table in _APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION staff_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION staff_append_only()"
        )


def downgrade() -> None:
    """Drop the staff tables (the audit goes with them: a downgrade is a deliberate act)."""
    for table in ("staff_audit", "staff_changes", "staff_tokens"):
        op.drop_table(table)
    op.execute("DROP FUNCTION IF EXISTS staff_append_only()")
