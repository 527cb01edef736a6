"""The national procedure catalogue: a ``procedure_details`` table beside ``procedures``.

Revision ID: 0002_procedure_details
Revises: 0001_initial
Create Date: 2026-12-01

The catalogue's procedures go to the existing ``procedures`` table (their extra columns — layer, issuer,
portal URL, place — to its JSONB ``extra``); their parsed detail pages get a table of their own, one row
per code, list fields as JSON text exactly as in the index's ``procedure_details.parquet``. Frozen copy
of `geo.store.models.ProcedureDetailRow` as of this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002_procedure_details"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXTS = (
    "shape", "title", "levels", "applicants", "agencies", "channels", "documents", "notes", "legal_basis",
    "decision", "source_file",
)  # fmt: skip


def upgrade() -> None:
    """Create ``procedure_details``."""
    op.create_table(
        "procedure_details",
        sa.Column("boundary_set", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        *[sa.Column(name, sa.Text, nullable=True) for name in _TEXTS],
        sa.Column("extra", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("boundary_set", "code", name="pk_procedure_details"),
        sa.ForeignKeyConstraint(
            ["boundary_set"],
            ["boundary_sets.id"],
            ondelete="CASCADE",
            name="fk_procedure_details_boundary_set_boundary_sets",
        ),
        sa.ForeignKeyConstraint(
            ["boundary_set", "code"],
            ["procedures.boundary_set", "procedures.code"],
            ondelete="CASCADE",
            name="fk_procedure_details_boundary_set_code_procedures",
        ),
    )


def downgrade() -> None:
    """Drop ``procedure_details``."""
    op.drop_table("procedure_details")
