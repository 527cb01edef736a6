"""The PostGIS schema of a built index: one GeoAlchemy2 model per layer, keyed by its boundary set.

Every layer of a built `geo.index.Index` is a table keyed by its boundary set: ``boundary_sets``
(manifest, column layout, ``load_id``), ``communes``, ``legacy_units``, ``crosswalk``,
``service_points``, ``procedures``, ``capabilities`` (point ↔ procedure), ``calendar_days``,
``procedure_details`` (the catalogue's detail pages) and
``service_area_parts`` (the 1 km buffer of Hanoi, subdivided). Geometries are EPSG:4326; service points
also keep a stored UTM 48N copy (``geom_utm``, a generated column) with the GiST index the nearest
query walks, communes have a GiST index for ``ST_Covers``. Columns the models do not know go to a
JSONB ``extra`` column and every row keeps its ``position``, so the index read back from the database
equals the one loaded, row order included (`LAYERS` says how each layer maps to its table).

The tables are created by the Alembic migrations in ``geo/store/migrations`` (`geo.store.load.migrate`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.geodesy import METRIC_CRS

__all__ = [
    "LAYERS",
    "METRIC_SRID",
    "WGS84_SRID",
    "Base",
    "BoundarySet",
    "CalendarDay",
    "Capability",
    "Commune",
    "Crosswalk",
    "Layer",
    "LegacyUnit",
    "Procedure",
    "ProcedureDetailRow",
    "ServiceAreaPart",
    "ServicePoint",
    "StaffAudit",
    "StaffChange",
    "StaffToken",
]

WGS84_SRID = 4326
METRIC_SRID = int(str(METRIC_CRS).rsplit(":", 1)[-1])  # UTM 48N, the embedded engine's metric CRS


class Base(DeclarativeBase):
    """Declarative base of the gandan schema (constraint names follow a fixed convention)."""

    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def _set_fk() -> Any:
    return sa.ForeignKey("boundary_sets.id", ondelete="CASCADE")


class BoundarySet(Base):
    """One loaded index: its boundary set id, manifest, column layout and load identity."""

    __tablename__ = "boundary_sets"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    title: Mapped[str | None] = mapped_column(sa.Text)
    built_at: Mapped[str | None] = mapped_column(sa.Text)
    loaded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    load_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONB)
    layout: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Commune(Base):
    """A unit of the boundary set (ward or commune) with its polygon."""

    __tablename__ = "communes"
    __table_args__ = (sa.Index("ix_communes_geom", "geom", postgresql_using="gist"),)

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str | None] = mapped_column(sa.Text)
    full_name: Mapped[str | None] = mapped_column(sa.Text)
    name_ascii: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str | None] = mapped_column(sa.Text)
    area_km2: Mapped[float | None] = mapped_column(sa.Double)
    population: Mapped[int | None] = mapped_column(sa.BigInteger)
    former_units: Mapped[str | None] = mapped_column(sa.Text)
    seat_address: Mapped[str | None] = mapped_column(sa.Text)
    area_km2_polygon: Mapped[float | None] = mapped_column(sa.Double)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84_SRID, spatial_index=False), nullable=True)


class LegacyUnit(Base):
    """A pre-merger (before 2025-07-01) commune-level unit, as a point."""

    __tablename__ = "legacy_units"

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str | None] = mapped_column(sa.Text)
    full_name: Mapped[str | None] = mapped_column(sa.Text)
    name_ascii: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str | None] = mapped_column(sa.Text)
    district: Mapped[str | None] = mapped_column(sa.Text)
    district_ascii: Mapped[str | None] = mapped_column(sa.Text)
    district_code: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=WGS84_SRID, spatial_index=False), nullable=True)


class Crosswalk(Base):
    """Legacy unit → new commune, ``whole`` or ``part``."""

    __tablename__ = "crosswalk"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["boundary_set", "legacy_code"], ["legacy_units.boundary_set", "legacy_units.code"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["boundary_set", "new_code"], ["communes.boundary_set", "communes.code"], ondelete="CASCADE"
        ),
        sa.Index("ix_crosswalk_boundary_set_new_code", "boundary_set", "new_code"),
    )

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    legacy_code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    new_code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    legacy_name: Mapped[str | None] = mapped_column(sa.Text)
    legacy_full_name: Mapped[str | None] = mapped_column(sa.Text)
    legacy_district: Mapped[str | None] = mapped_column(sa.Text)
    new_name: Mapped[str | None] = mapped_column(sa.Text)
    new_full_name: Mapped[str | None] = mapped_column(sa.Text)
    relation: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ServicePoint(Base):
    """A public-service location (city centre, branch, commune centre, ...), with its UTM 48N copy."""

    __tablename__ = "service_points"
    __table_args__ = (sa.Index("ix_service_points_geom_utm", "geom_utm", postgresql_using="gist"),)

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    address: Mapped[str | None] = mapped_column(sa.Text)
    commune_code: Mapped[str | None] = mapped_column(sa.Text)
    commune_name: Mapped[str | None] = mapped_column(sa.Text)
    location_precision: Mapped[str | None] = mapped_column(sa.Text)
    location_method: Mapped[str | None] = mapped_column(sa.Text)
    location_detail: Mapped[str | None] = mapped_column(sa.Text)
    opening_hours: Mapped[str | None] = mapped_column(sa.Text)
    hours_source: Mapped[str | None] = mapped_column(sa.Text)
    services: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
    confidence: Mapped[str | None] = mapped_column(sa.Text)
    name_ascii: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=WGS84_SRID, spatial_index=False), nullable=False)
    # Stored, never written by hand: the KNN statement orders by `geom_utm <-> origin` on its GiST index.
    geom_utm: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=METRIC_SRID, spatial_index=False),
        sa.Computed(sa.func.ST_Transform(sa.column("geom"), METRIC_SRID), persisted=True),
    )


class Procedure(Base):
    """An administrative procedure of the catalog."""

    __tablename__ = "procedures"

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str | None] = mapped_column(sa.Text)
    field: Mapped[str | None] = mapped_column(sa.Text)
    level: Mapped[str | None] = mapped_column(sa.Text)
    agency: Mapped[str | None] = mapped_column(sa.Text)
    handled_at: Mapped[str | None] = mapped_column(sa.Text)
    boundary_free: Mapped[str | None] = mapped_column(sa.Text)
    online_full: Mapped[str | None] = mapped_column(sa.Text)
    in_person: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.Text)
    confidence: Mapped[str | None] = mapped_column(sa.Text)
    name_ascii: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Capability(Base):
    """Service point ``point_id`` handles procedure ``procedure_code`` (primary key leads with the code)."""

    __tablename__ = "capabilities"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["boundary_set", "point_id"], ["service_points.boundary_set", "service_points.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["boundary_set", "procedure_code"], ["procedures.boundary_set", "procedures.code"], ondelete="CASCADE"
        ),
        sa.Index("ix_capabilities_boundary_set_point_id", "boundary_set", "point_id"),
        # The nearest statement's index: a KNN walk over the points of one procedure only (btree_gist).
        sa.Index("ix_capabilities_knn", "boundary_set", "procedure_code", "geom_utm", postgresql_using="gist"),
    )

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    procedure_code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    point_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Written by the load beside the layer's own columns (not part of the index read back): the point's
    # `geom_utm` and the load that wrote the row (migration 0004_capability_knn).
    geom_utm: Mapped[Any] = mapped_column(Geometry("POINT", srid=METRIC_SRID, spatial_index=False), nullable=True)
    load_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)


class ProcedureDetailRow(Base):
    """The parsed detail page of a catalogue procedure (list fields as JSON text, as in the index)."""

    __tablename__ = "procedure_details"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["boundary_set", "code"], ["procedures.boundary_set", "procedures.code"], ondelete="CASCADE"
        ),
    )

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    shape: Mapped[str | None] = mapped_column(sa.Text)
    title: Mapped[str | None] = mapped_column(sa.Text)
    levels: Mapped[str | None] = mapped_column(sa.Text)
    applicants: Mapped[str | None] = mapped_column(sa.Text)
    agencies: Mapped[str | None] = mapped_column(sa.Text)
    channels: Mapped[str | None] = mapped_column(sa.Text)
    documents: Mapped[str | None] = mapped_column(sa.Text)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    legal_basis: Mapped[str | None] = mapped_column(sa.Text)
    decision: Mapped[str | None] = mapped_column(sa.Text)
    source_file: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)


class CalendarDay(Base):
    """A public holiday or extra day off (``closed``), or a make-up working day (not ``closed``)."""

    __tablename__ = "calendar_days"

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    closed: Mapped[bool | None] = mapped_column(sa.Boolean)
    kind: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ServiceAreaPart(Base):
    """A piece of the service area (communes' union buffered by 1 km, in UTM 48N), from ``ST_Subdivide``."""

    __tablename__ = "service_area_parts"
    __table_args__ = (sa.Index("ix_service_area_parts_geom", "geom", postgresql_using="gist"),)

    boundary_set: Mapped[str] = mapped_column(sa.Text, _set_fk(), primary_key=True)
    part: Mapped[int] = mapped_column(sa.Integer, sa.Identity(), primary_key=True)
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=METRIC_SRID, spatial_index=False), nullable=False)


@dataclass(frozen=True)
class Layer:
    """How one layer of `geo.index.Index` maps to its table."""

    name: str  # attribute of geo.index.Index
    model: type[Base]
    geometry: bool = False
    multi: bool = False  # polygons are stored as MultiPolygon

    @property
    def table(self) -> sa.Table:
        """The layer's SQLAlchemy table."""
        return self.model.__table__  # type: ignore[return-value]

    @property
    def typed(self) -> list[str]:
        """Index columns with a column of their own (the rest go to ``extra``)."""
        return [c.name for c in self.table.columns if c.name not in _META_COLUMNS]


_META_COLUMNS = frozenset({"boundary_set", "position", "extra", "geom", "geom_utm", "load_id"})


# ---------------------------------------------------------------------------------------------- staff state
# Written by `geo.store.staff_pg` (times as ISO 8601 text, as in the SQLite store); changes and audit are
# append-only by triggers (migration 0003_staff). Not part of a load: a new load leaves them as they are.
class StaffToken(Base):
    """A staff sign-in token: its id, holder, role, scrypt salt and hash, expiry and revocation."""

    __tablename__ = "staff_tokens"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    role: Mapped[str] = mapped_column(sa.Text)
    salt: Mapped[bytes] = mapped_column(sa.LargeBinary)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[str] = mapped_column(sa.Text)
    expires_at: Mapped[str] = mapped_column(sa.Text)
    revoked_at: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[str] = mapped_column(sa.Text)


class StaffChange(Base):
    """One staff change as stored (``body``: `geo.changes.Change` as JSON)."""

    __tablename__ = "staff_changes"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(sa.Text, unique=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    place_id: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    author: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[str] = mapped_column(sa.Text)


class StaffAudit(Base):
    """One line of the staff audit log: who did what to which target, when and why (before/after as JSON)."""

    __tablename__ = "staff_audit"

    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    at: Mapped[str] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.Text, index=True)
    action: Mapped[str] = mapped_column(sa.Text)
    target: Mapped[str] = mapped_column(sa.Text, index=True)
    before: Mapped[str | None] = mapped_column(sa.Text)
    after: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text, server_default="")


# Insertion order respects the foreign keys (capabilities and crosswalk last).
LAYERS = (
    Layer("communes", Commune, geometry=True, multi=True),
    Layer("legacy_units", LegacyUnit, geometry=True),
    Layer("service_points", ServicePoint, geometry=True),
    Layer("procedures", Procedure),
    Layer("crosswalk", Crosswalk),
    Layer("capabilities", Capability),
    Layer("calendar", CalendarDay),
    Layer("procedure_details", ProcedureDetailRow),
)
