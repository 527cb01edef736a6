"""The staff stores (SQLite and PostGIS): tokens hashed and shown once, append-only changes and audit, durable writes.

Every test runs on both stores (`make_store` is parametrized); PostGIS through tests/conftest.py's
``postgis_url`` (the loader role writes, as a deployment's staff role does).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from geo.changes import Change
from geo.hours import TZ
from geo.store.staff import InvalidToken, SqliteStaffStore, StaffStore

STARTS = datetime(2026, 12, 1, 13, tzinfo=TZ)
MakeStore = Callable[[], StaffStore]


def _closure(place: str = "p1", reason: str = "Họp") -> Change:
    return Change(id="", kind="closure", place_id=place, reason=reason, starts=STARTS, ends=STARTS + timedelta(hours=4))


def migrated_staff_url(postgis_url: Any) -> str:
    """The loader URL of the test database, migrated, with the staff tables emptied (by the superuser)."""
    from geo.store.load import migrate
    from geo.store.staff_pg import libpq_url

    migrate(postgis_url.loader_url)
    with psycopg.connect(libpq_url(postgis_url.admin_url), autocommit=True) as conn:
        for table in ("staff_changes", "staff_audit"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        conn.execute("TRUNCATE staff_changes, staff_audit, staff_tokens RESTART IDENTITY")
        for table in ("staff_changes", "staff_audit"):
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    return str(postgis_url.loader_url)


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """A factory of stores on one fresh backing (each call: a new store object, as another process opens)."""
    if request.param == "sqlite":
        yield lambda: SqliteStaffStore(tmp_path / "staff.sqlite")
        return
    from geo.store.staff_pg import PostgisStaffStore

    url = migrated_staff_url(request.getfixturevalue("postgis_url"))
    yield lambda: PostgisStaffStore(url)


@pytest.fixture()
def store(make_store: MakeStore) -> StaffStore:
    return make_store()


def _raw_execute(store: StaffStore, statement: str) -> None:
    """Run ``statement`` outside the store's API (as an intruder with the store's own rights would)."""
    if isinstance(store, SqliteStaffStore):
        conn = sqlite3.connect(store.path)
        try:
            conn.execute(statement)
        finally:
            conn.close()
        return
    with psycopg.connect(store.url, autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute(statement.replace("changes", "staff_changes").replace("audit", "staff_audit"))


def test_token_is_shown_once_and_stored_hashed(store: StaffStore, tmp_path: Path) -> None:
    secret, record = store.create_token("Nguyễn An", "editor")
    assert secret.startswith(f"gdn_{record.id}_")
    assert store.verify(secret).name == "Nguyễn An"
    if isinstance(store, SqliteStaffStore):
        raw = (tmp_path / "staff.sqlite").read_bytes() + (tmp_path / "staff.sqlite-wal").read_bytes()
    else:
        rows = store._conn().execute("SELECT * FROM {tokens}").fetchall()
        raw = repr([dict(r) for r in rows]).encode()
    assert secret.split("_", 2)[2].encode() not in raw
    with pytest.raises(InvalidToken) as info:
        store.verify(secret[:-2] + "xx")
    assert secret not in str(info.value)


@pytest.mark.parametrize("bearer", [None, "", "abc", "gdn_nope_secret", "gdn__"])
def test_malformed_and_unknown_tokens_are_refused(store: StaffStore, bearer: str | None) -> None:
    with pytest.raises(InvalidToken):
        store.verify(bearer)


def test_expired_and_revoked_tokens_are_refused(store: StaffStore) -> None:
    expired, _ = store.create_token("cũ", "editor", days=0)
    with pytest.raises(InvalidToken, match="expired"):
        store.verify(expired)
    secret, record = store.create_token("an", "admin")
    store.verify(secret)
    store.revoke_token(record.id, actor="root", reason="rời đơn vị")
    with pytest.raises(InvalidToken, match="revoked"):
        store.verify(secret)
    assert [e.action for e in store.audit(target=f"token:{record.id}")] == ["token.revoke", "token.create"]


def test_changes_get_ids_and_survive_reopening(store: StaffStore, make_store: MakeStore) -> None:
    first = store.add_change(_closure(), actor="an")
    second = store.add_change(_closure(reason="'; DROP TABLE changes; -- <script>"), actor="an")
    assert (first.id, second.id) == ("chg-000001", "chg-000002")
    reopened = make_store()
    assert [c.reason for c in reopened.changes()] == ["Họp", "'; DROP TABLE changes; -- <script>"]
    assert reopened.version() == 2
    assert reopened.change("chg-000001").created_at is not None


def test_changes_and_audit_are_append_only(store: StaffStore) -> None:
    store.add_change(_closure(), actor="an")
    for statement in (
        "UPDATE changes SET body = 'x'",
        "DELETE FROM changes",
        "UPDATE audit SET actor = 'x'",
        "DELETE FROM audit",
    ):
        with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="append-only"):
            _raw_execute(store, statement)
    assert len(store.changes()) == 1


def test_audit_records_undo_with_before_and_after(store: StaffStore) -> None:
    first = store.add_change(_closure(), actor="an")
    store.add_change(Change(id="", kind="undo", place_id="p1", reason="nhầm", undoes=first.id), actor="admin")
    undo_entry = store.audit(action="change.undo")[0]
    assert undo_entry.actor == "admin" and undo_entry.reason == "nhầm"
    assert undo_entry.before is not None and undo_entry.before["id"] == first.id
    assert undo_entry.after is not None and undo_entry.after["undoes"] == first.id
    assert len(store.audit(since=datetime.now(UTC) - timedelta(minutes=1))) == 2
    assert store.audit(actor="nobody") == []


def test_concurrent_writers_lose_nothing(make_store: MakeStore) -> None:
    make_store()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        store = make_store()
        try:
            for i in range(50):
                store.add_change(_closure(place=f"p{n}", reason=f"{n}-{i}"), actor=f"w{n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = make_store()
    changes = store.changes()
    assert len(changes) == 400 and len({c.id for c in changes}) == 400
    assert len(store.audit(action="change.", limit=1000)) == 400


def test_every_acknowledged_write_survives_sigkill(store: StaffStore, make_store: MakeStore, tmp_path: Path) -> None:
    acks = tmp_path / "acks.txt"
    if isinstance(store, SqliteStaffStore):
        path = str(store.path)
        opener = f"from geo.store.staff import SqliteStaffStore as S; store = S(__import__('pathlib').Path({path!r}))"
    else:
        opener = f"from geo.store.staff_pg import PostgisStaffStore as S; store = S({store.url!r})"  # type: ignore[attr-defined]
    script = textwrap.dedent(f"""
        import sys
        from datetime import datetime, timedelta
        from geo.changes import Change
        from geo.hours import TZ
        {opener}""")
    script += textwrap.dedent(f"""
        starts = datetime(2026, 12, 1, 13, tzinfo=TZ)
        with open({str(acks)!r}, "a", buffering=1) as out:
            for i in range(100000):
                c = store.add_change(Change(id="", kind="closure", place_id="p", reason=str(i), starts=starts,
                                            ends=starts + timedelta(hours=1)), actor="k")
                out.write(c.id + "\\n")
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not acks.exists() or len(acks.read_text().split()) < 30):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acknowledged = acks.read_text().split()
    assert len(acknowledged) >= 30
    stored = {c.id for c in make_store().changes()}
    assert set(acknowledged) <= stored


@pytest.mark.postgis
def test_postgis_store_answers_unavailable_when_cut_off_and_recovers(postgis_url: Any, postgis_outage: Any) -> None:
    """Lost database: `BackendUnavailable` (503), never a crash; back: the next write works on a new connection."""
    from geo.errors import BackendUnavailable
    from geo.store.staff_pg import PostgisStaffStore

    with pytest.raises(BackendUnavailable):
        PostgisStaffStore("postgresql://nobody@127.0.0.1:1/none")
    store = PostgisStaffStore(migrated_staff_url(postgis_url))
    store.add_change(_closure(), actor="an")
    with postgis_outage.down("gandan_loader"):
        with pytest.raises(BackendUnavailable):
            store.add_change(_closure(), actor="an")
        with pytest.raises(BackendUnavailable):
            store.version()
    assert store.add_change(_closure(), actor="an").id == "chg-000002"
    assert store.version() == 2
