"""SQLite persistence: instances, histories, inboxes, in-flight activities and durable timers.

Each instance also keeps two history counters that outlive continue_as_new and a re-creation under
the same id (a retried sub-orchestration, a new start over a finished instance); only a purge drops
them: `events_written`, every event ever appended to it, and `longest_history`, the most events one
execution of it held. Each episode replays the whole current history, so these two say what
replay cost, which the history itself (the current execution only) no longer shows.

Every state change of an instance is one transaction, so a host killed at any moment leaves either the
state before a step or the state after it. After `kill()` the store refuses all writes: whatever a
dying host still computes is lost, exactly as if the process had gone.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, input TEXT, output TEXT,
  custom_status TEXT, created TEXT NOT NULL, updated TEXT NOT NULL, parent TEXT, execution INTEGER NOT NULL,
  state TEXT NOT NULL, events_written INTEGER NOT NULL DEFAULT 0, longest_history INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS history (instance_id TEXT, seq INTEGER, event TEXT, PRIMARY KEY (instance_id, seq));
CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT, priority INTEGER,
  kind TEXT, body TEXT);
CREATE TABLE IF NOT EXISTS tasks (instance_id TEXT, task_id INTEGER, name TEXT, input TEXT, token TEXT,
  PRIMARY KEY (instance_id, task_id));
CREATE TABLE IF NOT EXISTS timers (instance_id TEXT, timer_id INTEGER, fire_at TEXT,
  PRIMARY KEY (instance_id, timer_id));
"""
INSTANCE_COLUMNS = "instance_id, name, status, input, output, custom_status, created, updated, parent, execution, state"
# Columns added after the first release: a state file written before them gets them on open.
COUNTER_COLUMNS = ("events_written", "longest_history")
# Inbox priorities: a terminate overtakes everything, a (re)start precedes events buffered for it.
PRIORITY_TERMINATE, PRIORITY_START, PRIORITY_EVENT = 0, 1, 2


class StoreClosed(Exception):
    """The store was killed or closed: the write did not happen."""


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)  # notified after every commit (wait_for uses it)
        self._closed = False
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._add_missing_counters()

    def _add_missing_counters(self) -> None:
        """`CREATE TABLE IF NOT EXISTS` keeps an older file's tables as they were: add the columns they lack."""
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(instances)")}
        for column in COUNTER_COLUMNS:
            if column not in present:
                self._db.execute(f"ALTER TABLE instances ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
        if "token" not in {row["name"] for row in self._db.execute("PRAGMA table_info(tasks)")}:
            self._db.execute("ALTER TABLE tasks ADD COLUMN token TEXT")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
            self.changed.notify_all()

    kill = close  # the same from the store's side: nothing more is written

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        with self._lock:
            if self._closed:
                raise StoreClosed
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self.changed.notify_all()

    def _query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            if self._closed:
                raise StoreClosed
            return self._db.execute(sql, args).fetchall()

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        rows = self._query(f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE instance_id=?", instance_id)
        return _instance(rows[0]) if rows else None

    def instances(self) -> list[dict[str, Any]]:
        rows = self._query(f"SELECT {INSTANCE_COLUMNS} FROM instances ORDER BY created, instance_id")
        return [_instance(r) for r in rows]

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT event FROM history WHERE instance_id=? ORDER BY seq", instance_id)
        return [json.loads(r["event"]) for r in rows]

    def history_counters(self, instance_id: str) -> list[dict[str, Any]]:
        """The counters of an instance and of all its descendants, found through the children's parent link."""
        rows = self._query(
            """
            WITH RECURSIVE tree(instance_id) AS (
              SELECT instance_id FROM instances WHERE instance_id = ?
              UNION  -- not UNION ALL: a (corrupt) cycle of parent links still ends
              SELECT child.instance_id FROM instances AS child
                JOIN tree ON json_extract(child.parent, '$.instance_id') = tree.instance_id)
            SELECT instance_id, events_written, longest_history FROM instances
            WHERE instance_id IN (SELECT instance_id FROM tree) ORDER BY instance_id
            """,
            instance_id,
        )
        return [dict(r) for r in rows]

    def next_inbox(self, instance_id: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT id, kind, body FROM inbox WHERE instance_id=? ORDER BY priority, id LIMIT 1", instance_id
        )
        return {"id": rows[0]["id"], "kind": rows[0]["kind"], "body": json.loads(rows[0]["body"])} if rows else None

    def instances_with_inbox(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT instance_id FROM inbox ORDER BY id")]

    def tasks(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._query("SELECT instance_id, task_id, name, input, token FROM tasks")]

    def timers(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._query("SELECT instance_id, timer_id, fire_at FROM timers")]


class Tx:
    """Writes inside one transaction (the store's lock is held)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def put_instance(self, row: dict[str, Any]) -> None:
        """Insert or update the instance's columns; an upsert, so the history counters are left as they are."""
        values = dict(row, parent=json.dumps(row.get("parent")), state=json.dumps(row["state"]))
        names = INSTANCE_COLUMNS.split(", ")
        updates = ", ".join(f"{n}=excluded.{n}" for n in names[1:])
        self._db.execute(
            f"INSERT INTO instances ({INSTANCE_COLUMNS}) VALUES ({', '.join('?' * len(names))})"
            f" ON CONFLICT(instance_id) DO UPDATE SET {updates}",
            [values.get(n) for n in names],
        )

    def reset_instance(self, instance_id: str) -> None:
        """Drop everything an earlier instance with this id left, except its history counters (a re-creation)."""
        self.clear_execution(instance_id, keep_events=False)

    def append_history(self, instance_id: str, events: list[dict[str, Any]]) -> None:
        (start,) = self._db.execute(
            "SELECT COALESCE(MAX(seq), -1) + 1 FROM history WHERE instance_id=?", (instance_id,)
        ).fetchone()
        self._db.executemany(
            "INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
            [(instance_id, start + i, json.dumps(e)) for i, e in enumerate(events)],
        )
        # seq restarts at 0 with each execution (clear_execution), so start + len(events) is this one's length.
        self._db.execute(
            "UPDATE instances SET events_written = events_written + ?, longest_history = MAX(longest_history, ?)"
            " WHERE instance_id=?",
            (len(events), start + len(events), instance_id),
        )

    def clear_execution(self, instance_id: str, keep_events: bool) -> None:
        """Forget a finished execution's history and pending work (continue_as_new, restart, purge)."""
        self._db.execute("DELETE FROM history WHERE instance_id=?", (instance_id,))
        self._db.execute("DELETE FROM tasks WHERE instance_id=?", (instance_id,))
        self._db.execute("DELETE FROM timers WHERE instance_id=?", (instance_id,))
        kinds = ("completion", "start", "terminate") if keep_events else ("completion", "start", "terminate", "event")
        self._db.execute(
            f"DELETE FROM inbox WHERE instance_id=? AND kind IN ({','.join('?' * len(kinds))})", (instance_id, *kinds)
        )

    def end_execution(self, instance_id: str) -> None:
        """A terminal instance keeps its history but no pending work (late results are dropped)."""
        for table in ("tasks", "timers", "inbox"):
            self._db.execute(f"DELETE FROM {table} WHERE instance_id=?", (instance_id,))

    def delete_instance(self, instance_id: str) -> None:
        self.clear_execution(instance_id, keep_events=False)
        self._db.execute("DELETE FROM instances WHERE instance_id=?", (instance_id,))

    def add_inbox(self, instance_id: str, kind: str, body: Any, priority: int = PRIORITY_EVENT) -> None:
        self._db.execute(
            "INSERT INTO inbox (instance_id, priority, kind, body) VALUES (?, ?, ?, ?)",
            (instance_id, priority, kind, json.dumps(body)),
        )

    def delete_inbox(self, item_id: int) -> None:
        self._db.execute("DELETE FROM inbox WHERE id=?", (item_id,))

    def add_task(self, instance_id: str, task_id: int, name: str, input_text: str | None) -> str:
        """Record an in-flight activity; its token tells it apart from a later execution's task with the same id.

        Task ids restart at 0 in every execution (continue_as_new, a re-created sub-orchestration), so
        without the token a result from an earlier execution would complete the new one's task.
        """
        token = uuid.uuid4().hex
        self._db.execute(
            "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?)", (instance_id, task_id, name, input_text, token)
        )
        return token

    def take_task(self, instance_id: str, task_id: int, token: str | None) -> bool:
        """Remove an in-flight activity; False if it no longer belongs to a live execution."""
        cur = self._db.execute(
            "DELETE FROM tasks WHERE instance_id=? AND task_id=? AND token IS ?", (instance_id, task_id, token)
        )
        return cur.rowcount > 0

    def add_timer(self, instance_id: str, timer_id: int, fire_at: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO timers VALUES (?, ?, ?)", (instance_id, timer_id, fire_at))

    def take_timer(self, instance_id: str, timer_id: int) -> bool:
        cur = self._db.execute("DELETE FROM timers WHERE instance_id=? AND timer_id=?", (instance_id, timer_id))
        return cur.rowcount > 0


def _instance(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["parent"] = json.loads(out["parent"]) if out["parent"] else None
    out["state"] = json.loads(out["state"])
    return out
