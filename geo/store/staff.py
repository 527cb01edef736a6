"""Durable staff state in SQLite: sign-in tokens, the changes staff make, and an append-only audit log.

One file in the configured data folder (``GANDAN_STATE_DIR``, default ``build/state/staff.sqlite``), in
WAL mode with ``synchronous=FULL``: a write returns only after its transaction is on disk, so a change
that got its 201 survives a crash or a SIGKILL. Every write is one ``BEGIN IMMEDIATE`` transaction, so
concurrent writers (threads, worker processes) queue instead of losing updates.

``changes`` and ``audit`` are append-only: triggers refuse every UPDATE and DELETE on them; undo is a new
change. Only a token's ``revoked_at`` is ever set after the fact, and the revocation is audited.

Tokens look like ``gdn_<id>_<secret>``; only the id and an scrypt hash of the secret are stored, so the
token is shown once, at creation. A verified token is remembered for `TOKEN_CACHE_S` seconds (scrypt is
slow on purpose); a revocation therefore takes effect within that time on every worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from geo.changes import Change, with_id
from geo.errors import BackendUnavailable, GandanError, NotFound
from geo.settings import Settings

__all__ = [
    "ROLES",
    "TOKEN_CACHE_S",
    "AuditEntry",
    "Forbidden",
    "InvalidToken",
    "Role",
    "SqliteStaffStore",
    "StaffStore",
    "StaffToken",
    "open_staff_store",
]

Role = Literal["editor", "admin"]
ROLES: tuple[Role, ...] = ("editor", "admin")
TOKEN_CACHE_S = 5.0
_TOKEN_PREFIX = "gdn"
# scrypt cost: ~30-60 ms per check on this class of machine; interactive sign-in, not bulk.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('editor', 'admin')),
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    place_id TEXT NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS changes_append_only_u BEFORE UPDATE ON changes
    BEGIN SELECT RAISE(ABORT, 'changes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS changes_append_only_d BEFORE DELETE ON changes
    BEGIN SELECT RAISE(ABORT, 'changes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_u BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_d BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class Forbidden(GandanError):
    """The token is valid but its role may not do this."""

    type = "forbidden"
    title = "Not allowed"
    status = 403


class InvalidToken(GandanError):
    """The bearer token is missing, malformed, unknown, expired or revoked."""

    type = "invalid-token"
    title = "Sign-in required"
    status = 401


@dataclass(frozen=True)
class StaffToken:
    """A sign-in token as stored (never the secret)."""

    id: str
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    created_by: str

    @property
    def active(self) -> bool:
        """True when neither expired nor revoked."""
        return self.revoked_at is None and self.expires_at > datetime.now(UTC)

    def to_json(self) -> dict[str, Any]:
        """The token's public fields."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "created_by": self.created_by,
            "active": self.active,
        }


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who did what to which target, when and why (with before/after)."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready fields."""
        return {**self.__dict__, "at": self.at.isoformat()}


class StaffStore:
    """Tokens, changes and the audit log on a SQL database.

    `SqliteStaffStore` and `geo.store.staff_pg.PostgisStaffStore` say which and how (one connection per
    thread, and how a write transaction begins so that writers queue).

    Statements are written once, with ``?`` placeholders and ``{tokens}``, ``{changes}``, ``{audit}``
    for the table names (`_q` fills both in for the database at hand).
    """

    name = "sql"
    # Errors that mean "the storage cannot be reached now" (503), as opposed to a refused statement.
    _unavailable: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
    _tables: ClassVar[dict[str, str]] = {"tokens": "tokens", "changes": "changes", "audit": "audit"}
    _placeholder = "?"

    def __init__(self) -> None:
        self._local = threading.local()
        self._verified: dict[str, tuple[float, StaffToken]] = {}

    # ------------------------------------------------------------------ connections
    def _connect(self) -> Any:
        raise NotImplementedError

    def _begin(self, conn: Any) -> None:
        raise NotImplementedError

    def _conn(self) -> _Conn:
        conn: _Conn | None = getattr(self._local, "conn", None)
        if conn is None:
            with _unavailable_on(self._unavailable):
                conn = _Conn(self._connect(), self._q, self._unavailable)
            self._local.conn = conn
        return conn

    def _q(self, statement: str) -> str:
        return statement.format(**self._tables).replace("?", self._placeholder)

    @contextmanager
    def _write(self) -> Iterator[_Conn]:
        conn = self._conn()
        with _unavailable_on(self._unavailable):
            self._begin(conn.raw)
        try:
            yield conn
        except BaseException:
            with suppress(Exception):  # a connection that broke mid-transaction cannot roll back: it is gone
                conn.raw.execute("ROLLBACK")
            raise
        with _unavailable_on(self._unavailable):
            conn.raw.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.raw.close()
            self._local.conn = None

    # ------------------------------------------------------------------ tokens
    def create_token(self, name: str, role: Role, *, days: int = 90, created_by: str = "cli") -> tuple[str, StaffToken]:
        """Create a token; return the secret (shown once) and its stored record."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if not name.strip():
            raise ValueError("a token needs a name (who holds it)")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(24)
        salt = secrets.token_bytes(16)
        now = datetime.now(UTC).replace(microsecond=0)
        record = StaffToken(token_id, name.strip(), role, now, now + timedelta(days=days), None, created_by)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO {tokens} VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (
                    token_id,
                    record.name,
                    role,
                    salt,
                    _hash(secret, salt),
                    now.isoformat(),
                    record.expires_at.isoformat(),
                    created_by,
                ),
            )
            self._audit(conn, created_by, "token.create", f"token:{token_id}", None, record.to_json(), "")
        return f"{_TOKEN_PREFIX}_{token_id}_{secret}", record

    def tokens(self) -> list[StaffToken]:
        """Every token ever created, newest first."""
        rows = self._conn().execute("SELECT * FROM {tokens} ORDER BY created_at DESC, id").fetchall()
        return [_token(row) for row in rows]

    def revoke_token(self, token_id: str, *, actor: str, reason: str = "") -> StaffToken:
        """Revoke a token (audited); raise `NotFound` for an unknown id."""
        with self._write() as conn:
            row = conn.execute("SELECT * FROM {tokens} WHERE id = ?", (token_id,)).fetchone()
            if row is None:
                raise NotFound(f"no token has the id {token_id!r}")
            before = _token(row)
            if before.revoked_at is None:
                now = datetime.now(UTC).replace(microsecond=0).isoformat()
                conn.execute("UPDATE {tokens} SET revoked_at = ? WHERE id = ?", (now, token_id))
            after = _token(conn.execute("SELECT * FROM {tokens} WHERE id = ?", (token_id,)).fetchone())
            self._audit(conn, actor, "token.revoke", f"token:{token_id}", before.to_json(), after.to_json(), reason)
        self._verified.clear()
        return after

    def verify(self, bearer: str | None) -> StaffToken:
        """The active token behind a bearer string; raise `InvalidToken` (never echoing the token)."""
        if not bearer:
            raise InvalidToken("sign in: send Authorization: Bearer <token>")
        now = time.monotonic()
        key = hashlib.sha256(bearer.encode()).hexdigest()
        cached = self._verified.get(key)
        if cached is not None and now - cached[0] < TOKEN_CACHE_S and cached[1].expires_at > datetime.now(UTC):
            return cached[1]
        parts = bearer.split("_", 2)
        if len(parts) != 3 or parts[0] != _TOKEN_PREFIX:
            raise InvalidToken("the token is malformed")
        row = self._conn().execute("SELECT * FROM {tokens} WHERE id = ?", (parts[1],)).fetchone()
        if row is None or not hmac.compare_digest(_hash(parts[2], row["salt"]), row["hash"]):
            raise InvalidToken("the token is not valid")
        token = _token(row)
        if token.revoked_at is not None:
            raise InvalidToken("the token was revoked")
        if token.expires_at <= datetime.now(UTC):
            raise InvalidToken("the token has expired")
        self._verified[key] = (now, token)
        return token

    # ------------------------------------------------------------------ changes
    def add_change(self, change: Change, *, actor: str) -> Change:
        """Store a validated change with the next id; committed to disk when this returns."""
        now = datetime.now(UTC).replace(microsecond=0)
        with self._write() as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM {changes}").fetchone()[0]
            stored = with_id(change, f"chg-{seq:06d}", actor, now)
            body = json.dumps(stored.to_json(), ensure_ascii=False, sort_keys=True)
            conn.execute(
                "INSERT INTO {changes} (seq, id, kind, place_id, body, author, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, stored.id, stored.kind, stored.place_id, body, actor, now.isoformat()),
            )
            before = None
            if stored.kind == "undo":
                row = conn.execute("SELECT body FROM {changes} WHERE id = ?", (stored.undoes,)).fetchone()
                before = json.loads(row["body"]) if row else None
            self._audit(
                conn,
                actor,
                f"change.{stored.kind}",
                f"place:{stored.place_id}",
                before,
                stored.to_json(),
                stored.reason,
            )
        return stored

    def changes(self) -> list[Change]:
        """Every change ever stored, oldest first (undone ones included)."""
        rows = self._conn().execute("SELECT body FROM {changes} ORDER BY seq").fetchall()
        return [Change.from_json(json.loads(row["body"])) for row in rows]

    def change(self, change_id: str) -> Change:
        """One stored change; raise `NotFound`."""
        row = self._conn().execute("SELECT body FROM {changes} WHERE id = ?", (change_id,)).fetchone()
        if row is None:
            raise NotFound(f"no change has the id {change_id!r}")
        return Change.from_json(json.loads(row["body"]))

    def version(self) -> int:
        """A number that grows with every stored change (cheap: workers poll it)."""
        return int(self._conn().execute("SELECT COALESCE(MAX(seq), 0) FROM {changes}").fetchone()[0])

    # ------------------------------------------------------------------ audit
    def _audit(
        self,
        conn: _Conn,
        actor: str,
        action: str,
        target: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        reason: str,
    ) -> None:
        conn.execute(
            "INSERT INTO {audit} (at, actor, action, target, before, after, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                datetime.now(UTC).isoformat(timespec="milliseconds"),
                actor,
                action,
                target,
                None if before is None else json.dumps(before, ensure_ascii=False, sort_keys=True),
                None if after is None else json.dumps(after, ensure_ascii=False, sort_keys=True),
                reason,
            ),
        )

    def audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Audit entries, newest first, filtered by actor, action prefix, target and time."""
        where, args = [], []
        if actor:
            where.append("actor = ?")
            args.append(actor)
        if action:
            where.append("action LIKE ?")
            args.append(action.replace("%", "") + "%")
        if target:
            where.append("target = ?")
            args.append(target)
        if since:
            where.append("at >= ?")
            args.append(since.astimezone(UTC).isoformat(timespec="milliseconds"))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM {audit} " + clause + " ORDER BY seq DESC LIMIT ? OFFSET ?",
                (*args, limit, offset),
            )
            .fetchall()
        )
        return [_audit_entry(row) for row in rows]


class SqliteStaffStore(StaffStore):
    """Tokens, changes and the audit log in one SQLite file (see the module docstring)."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # executescript commits by itself; IF NOT EXISTS makes concurrent openers harmless.
        self._conn().raw.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=True)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _begin(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock now: writers queue, none loses an update


class _Conn:
    """A connection whose ``execute`` takes the store's portable statements."""

    def __init__(self, raw: Any, q: Any, unavailable: tuple[type[BaseException], ...]) -> None:
        self.raw = raw
        self._q = q
        self._unavailable = unavailable

    def execute(self, statement: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        with _unavailable_on(self._unavailable):
            return self.raw.execute(self._q(statement), tuple(args))


@contextmanager
def _unavailable_on(errors: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Turn the storage's connection errors into `geo.errors.BackendUnavailable` (HTTP 503)."""
    try:
        yield
    except errors as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BackendUnavailable(f"the staff storage cannot be reached: {first}") from exc


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


def _token(row: Any) -> StaffToken:
    return StaffToken(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        created_at=datetime.fromisoformat(row["created_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        revoked_at=datetime.fromisoformat(row["revoked_at"]) if row["revoked_at"] else None,
        created_by=row["created_by"],
    )


def _audit_entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=datetime.fromisoformat(row["at"]),
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        before=json.loads(row["before"]) if row["before"] else None,
        after=json.loads(row["after"]) if row["after"] else None,
        reason=row["reason"],
    )


def open_staff_store(settings: Settings) -> Any:
    """The configured staff store.

    PostGIS when ``GANDAN_STAFF_DATABASE_URL`` is set or the backend is postgis, else SQLite in
    `Settings.staff_dir`.

    The PostGIS store writes with ``GANDAN_STAFF_DATABASE_URL`` (default ``GANDAN_DATABASE_URL``): the
    API's reader role cannot write, so a deployment gives the API a role that may append to the staff tables.
    """
    if settings.staff_database_url or settings.backend == "postgis":
        from geo.store.staff_pg import PostgisStaffStore

        url = settings.staff_database_url or settings.database_url
        if not url:
            raise ValueError("the postgis staff store needs GANDAN_STAFF_DATABASE_URL or GANDAN_DATABASE_URL")
        return PostgisStaffStore(url)
    return SqliteStaffStore(settings.staff_dir / "staff.sqlite")
