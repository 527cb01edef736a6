"""Initial schema: boundary sets and every layer of the built index, with the indexes the queries use.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27

Frozen copy of the models in `geo.store.postgis` as of this revision (a migration must not change when
the models do). Geometries are EPSG:4326; ``service_points.geom_utm`` is a stored UTM 48N copy for the
KNN ``<->`` walk on its GiST index; ``communes.geom`` and ``service_area_parts.geom`` have GiST indexes
for ``ST_Covers`` / ``ST_Intersects``. Every layer row belongs to a boundary set and goes with it
(``ON DELETE CASCADE``), which is how a load replaces a set in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WGS84 = 4326
UTM48N = 32648


def _set_column() -> sa.Column:
    return sa.Column("boundary_set", sa.Text, nullable=False)


def _set_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["boundary_set"], ["boundary_sets.id"], ondelete="CASCADE", name=f"fk_{table}_boundary_set_boundary_sets"
    )


def _layer_fk(table: str, column: str, parent: str, parent_key: str) -> sa.ForeignKeyConstraint:
    """``(boundary_set, column)`` of ``table`` → ``(boundary_set, parent_key)`` of ``parent``, deleted with it."""
    return sa.ForeignKeyConstraint(
        ["boundary_set", column],
        [f"{parent}.boundary_set", f"{parent}.{parent_key}"],
        ondelete="CASCADE",
        name=f"fk_{table}_boundary_set_{column}_{parent}",
    )


def _texts(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Text, nullable=True) for name in names]


def _extra() -> sa.Column:
    return sa.Column("extra", JSONB, nullable=False)


def _position() -> sa.Column:
    return sa.Column("position", sa.Integer, nullable=False)


def upgrade() -> None:
    """Create the tables and indexes."""
    op.create_table(
        "boundary_sets",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("built_at", sa.Text, nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("load_id", sa.Uuid, nullable=False),
        sa.Column("manifest", JSONB, nullable=False),
        sa.Column("layout", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_boundary_sets"),
    )
    op.create_table(
        "communes",
        _set_column(),
        sa.Column("code", sa.Text, nullable=False),
        _position(),
        *_texts("name", "full_name", "name_ascii", "kind"),
        sa.Column("area_km2", sa.Double, nullable=True),
        sa.Column("population", sa.BigInteger, nullable=True),
        *_texts("former_units", "seat_address"),
        sa.Column("area_km2_polygon", sa.Double, nullable=True),
        _extra(),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=False), nullable=True),
        sa.PrimaryKeyConstraint("boundary_set", "code", name="pk_communes"),
        _set_fk("communes"),
    )
    op.create_index("ix_communes_geom", "communes", ["geom"], postgresql_using="gist")
    op.create_table(
        "legacy_units",
        _set_column(),
        sa.Column("code", sa.Text, nullable=False),
        _position(),
        *_texts("name", "full_name", "name_ascii", "kind", "district", "district_ascii", "district_code"),
        _extra(),
        sa.Column("geom", Geometry("POINT", srid=WGS84, spatial_index=False), nullable=True),
        sa.PrimaryKeyConstraint("boundary_set", "code", name="pk_legacy_units"),
        _set_fk("legacy_units"),
    )
    op.create_table(
        "service_points",
        _set_column(),
        sa.Column("id", sa.Text, nullable=False),
        _position(),
        *_texts(
            "kind",
            "name",
            "address",
            "commune_code",
            "commune_name",
            "location_precision",
            "location_method",
            "location_detail",
            "opening_hours",
            "hours_source",
            "services",
            "source",
            "note",
            "confidence",
            "name_ascii",
        ),
        _extra(),
        sa.Column("geom", Geometry("POINT", srid=WGS84, spatial_index=False), nullable=False),
        sa.Column(
            "geom_utm",
            Geometry("POINT", srid=UTM48N, spatial_index=False),
            sa.Computed(sa.func.ST_Transform(sa.column("geom"), UTM48N), persisted=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("boundary_set", "id", name="pk_service_points"),
        _set_fk("service_points"),
    )
    op.create_index("ix_service_points_geom_utm", "service_points", ["geom_utm"], postgresql_using="gist")
    op.create_table(
        "procedures",
        _set_column(),
        sa.Column("code", sa.Text, nullable=False),
        _position(),
        *_texts(
            "name",
            "field",
            "level",
            "agency",
            "handled_at",
            "boundary_free",
            "online_full",
            "in_person",
            "note",
            "source",
            "confidence",
            "name_ascii",
        ),
        _extra(),
        sa.PrimaryKeyConstraint("boundary_set", "code", name="pk_procedures"),
        _set_fk("procedures"),
    )
    op.create_table(
        "crosswalk",
        _set_column(),
        sa.Column("legacy_code", sa.Text, nullable=False),
        sa.Column("new_code", sa.Text, nullable=False),
        _position(),
        *_texts("legacy_name", "legacy_full_name", "legacy_district", "new_name", "new_full_name", "relation"),
        _extra(),
        sa.PrimaryKeyConstraint("boundary_set", "legacy_code", "new_code", name="pk_crosswalk"),
        _set_fk("crosswalk"),
        _layer_fk("crosswalk", "legacy_code", "legacy_units", "code"),
        _layer_fk("crosswalk", "new_code", "communes", "code"),
    )
    op.create_index("ix_crosswalk_boundary_set_new_code", "crosswalk", ["boundary_set", "new_code"])
    op.create_table(
        "capabilities",
        _set_column(),
        sa.Column("procedure_code", sa.Text, nullable=False),
        sa.Column("point_id", sa.Text, nullable=False),
        _position(),
        _extra(),
        # Leads with the procedure: the KNN join probes (boundary_set, procedure_code, point_id).
        sa.PrimaryKeyConstraint("boundary_set", "procedure_code", "point_id", name="pk_capabilities"),
        _set_fk("capabilities"),
        _layer_fk("capabilities", "point_id", "service_points", "id"),
        _layer_fk("capabilities", "procedure_code", "procedures", "code"),
    )
    op.create_index("ix_capabilities_boundary_set_point_id", "capabilities", ["boundary_set", "point_id"])
    op.create_table(
        "calendar_days",
        _set_column(),
        sa.Column("date", sa.Date, nullable=False),
        _position(),
        sa.Column("closed", sa.Boolean, nullable=True),
        *_texts("kind", "name", "source"),
        _extra(),
        sa.PrimaryKeyConstraint("boundary_set", "date", name="pk_calendar_days"),
        _set_fk("calendar_days"),
    )
    op.create_table(
        "service_area_parts",
        _set_column(),
        sa.Column("part", sa.Integer, sa.Identity(), nullable=False),
        sa.Column("geom", Geometry("GEOMETRY", srid=UTM48N, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("boundary_set", "part", name="pk_service_area_parts"),
        _set_fk("service_area_parts"),
    )
    op.create_index("ix_service_area_parts_geom", "service_area_parts", ["geom"], postgresql_using="gist")


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in (
        "service_area_parts",
        "calendar_days",
        "capabilities",
        "crosswalk",
        "procedures",
        "service_points",
        "legacy_units",
        "communes",
        "boundary_sets",
    ):
        op.drop_table(table)
