"""The staff store on PostGIS: the same tokens, changes and audit as `geo.store.staff`, in ``staff_*`` tables.

The tables come from the Alembic migration ``0003_staff`` (``gandan db load`` migrates); they are
append-only by triggers there. Every write is one transaction that first takes a transaction-level
advisory lock, so writers from every API replica queue as SQLite's ``BEGIN IMMEDIATE`` makes them do,
change ids stay gapless and in commit order, and `version` (the last sequence number) never skips a
change a poller has not seen. PostgreSQL's commit is durable (``synchronous_commit`` on): a 201 means
on disk.

Connect with a role that may insert into the staff tables (``GANDAN_STAFF_DATABASE_URL``); the API's
reader role may only read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import psycopg
from sqlalchemy.engine import make_url

from geo.store.staff import StaffStore

__all__ = ["ADVISORY_LOCK_KEY", "PostgisStaffStore"]

ADVISORY_LOCK_KEY = 0x67646E5354  # "gdnST": the staff writers' queue
_CONNECT_TIMEOUT_S = 5


class _Row(dict[str, Any]):
    """A row readable by name and by position, like `sqlite3.Row`."""

    def __init__(self, names: Sequence[str], values: Sequence[Any]) -> None:
        super().__init__(zip(names, values, strict=True))
        self._values = tuple(values)

    def __getitem__(self, key: Any) -> Any:
        return self._values[key] if isinstance(key, int) else super().__getitem__(key)


def _rows(cursor: Any) -> Callable[[Sequence[Any]], _Row]:
    names = [c.name for c in cursor.description or ()]
    return lambda values: _Row(names, values)


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://…``) as libpq takes it."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgisStaffStore(StaffStore):
    """Tokens, changes and the audit log in the ``staff_*`` tables of the PostGIS database.

    Parameters
    ----------
    database_url
        SQLAlchemy or libpq URL of a role that may read and insert into the staff tables.
    """

    name = "postgis"
    _tables: ClassVar[dict[str, str]] = {"tokens": "staff_tokens", "changes": "staff_changes", "audit": "staff_audit"}
    _placeholder = "%s"
    _unavailable = (psycopg.OperationalError, psycopg.InterfaceError)

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.url = libpq_url(database_url)
        self._conn()  # fail now (unreachable, not migrated) rather than on the first write
        self._conn().execute("SELECT 1 FROM {changes} LIMIT 1").fetchall()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(
            self.url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S, application_name="gandan-staff"
        )
        conn.row_factory = _rows  # type: ignore[assignment]
        return conn

    def _begin(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))

    def _conn(self) -> Any:
        conn = super()._conn()
        if conn.raw.closed or conn.raw.broken:  # a restarted server: connect again
            self._local.conn = None
            conn = super()._conn()
        return conn
