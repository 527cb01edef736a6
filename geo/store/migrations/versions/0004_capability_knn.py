"""Capabilities carry their point's UTM 48N position and their load id, under one GiST index per procedure.

Revision ID: 0004_capability_knn
Revises: 0003_staff
Create Date: 2026-12-01

The nearest statement walked the GiST index of all ``service_points`` and probed ``capabilities`` for
every point it met: for a procedure few points handle, it walked most of the index. Each capability row
now holds a copy of its point's ``geom_utm`` and the ``load_id`` of the load that wrote it, under a GiST
index on ``(boundary_set, procedure_code, geom_utm)`` (``btree_gist`` for the two text columns): the KNN
walk meets only the points of the procedure asked, in distance order, and the row says which load
answered. Both columns are written by `geo.store.load.load_index`; this migration fills them for rows
loaded before it. ``btree_gist`` is a trusted extension: `gandan db create` (or a superuser) creates it
beside ``postgis``; the migration creates it only if it is missing and the loader may.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0004_capability_knn"
down_revision: str | None = "0003_staff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTM48N = 32648


def upgrade() -> None:
    """Add, fill and index ``capabilities.geom_utm`` and ``capabilities.load_id``."""
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.add_column("capabilities", sa.Column("geom_utm", Geometry("POINT", srid=UTM48N, spatial_index=False)))
    op.add_column("capabilities", sa.Column("load_id", sa.Uuid, nullable=True))
    op.execute(
        """
        UPDATE capabilities c
        SET geom_utm = p.geom_utm, load_id = b.load_id
        FROM service_points p, boundary_sets b
        WHERE p.boundary_set = c.boundary_set AND p.id = c.point_id AND b.id = c.boundary_set
        """
    )
    op.create_index(
        "ix_capabilities_knn", "capabilities", ["boundary_set", "procedure_code", "geom_utm"], postgresql_using="gist"
    )


def downgrade() -> None:
    """Drop the index and the two columns."""
    op.drop_index("ix_capabilities_knn", table_name="capabilities")
    op.drop_column("capabilities", "load_id")
    op.drop_column("capabilities", "geom_utm")
