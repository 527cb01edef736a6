"""Alembic environment of the gandan schema.

`geo.store.load.migrate` hands over an open connection (``config.attributes["connection"]``) so the
migration runs inside the caller's transaction (``gandan db load`` migrates and loads as one); otherwise
the URL comes from ``sqlalchemy.url`` or ``-x url=...``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy.pool import NullPool

from geo.store.load import engine_url
from geo.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # Ignore PostGIS's own tables (spatial_ref_sys, ...) and render spatial types when autogenerating.
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass -x url=postgresql+psycopg://... or set sqlalchemy.url")
    engine = sa.create_engine(engine_url(url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            _configure(conn)
            context.run_migrations()
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade head --sql``)."""
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=False)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
