"""The SQLite store on its own: history counters, task tokens, and state files written before either existed."""

import sqlite3

from local.functions_host.engine import new_state
from local.functions_host.store import Store

# The `instances` table as the first release created it, before events_written / longest_history.
OLD_INSTANCES = """CREATE TABLE instances (
  instance_id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, input TEXT, output TEXT,
  custom_status TEXT, created TEXT NOT NULL, updated TEXT NOT NULL, parent TEXT, execution INTEGER NOT NULL,
  state TEXT NOT NULL)"""


def _row(instance_id, parent=None):
    return {
        "instance_id": instance_id,
        "name": "chain",
        "status": "Running",
        "created": "2024-01-01T00:00:00.000000Z",
        "updated": "2024-01-01T00:00:00.000000Z",
        "parent": parent,
        "execution": 0,
        "state": new_state(),
    }


def _events(n):
    return [{"EventType": 12, "EventId": -1, "IsPlayed": False, "Timestamp": "2024-01-01T00:00:00.000000Z"}] * n


def test_counters_outlive_a_cleared_execution_and_an_instance_update():
    store = Store()
    with store.tx() as tx:
        tx.put_instance(_row("a"))
        tx.append_history("a", _events(5))
        tx.clear_execution("a", keep_events=True)  # what continue_as_new does
        tx.append_history("a", _events(2))
        tx.put_instance(_row("a"))  # an upsert: must not reset the counters
    assert store.history_counters("a") == [{"instance_id": "a", "events_written": 7, "longest_history": 5}]
    assert len(store.history("a")) == 2


def test_a_purge_drops_the_counters():
    store = Store()
    with store.tx() as tx:
        tx.put_instance(_row("a"))
        tx.append_history("a", _events(3))
        tx.delete_instance("a")
        tx.put_instance(_row("a"))
    assert store.history_counters("a") == [{"instance_id": "a", "events_written": 0, "longest_history": 0}]


def test_state_file_from_before_the_counters_gets_them_on_open(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(OLD_INSTANCES)
        old.execute(
            "INSERT INTO instances VALUES ('old', 'chain', 'Completed', NULL, NULL, NULL, 't', 't', 'null', 0, '{}')"
        )
    store = Store(str(path))
    assert store.history_counters("old") == [{"instance_id": "old", "events_written": 0, "longest_history": 0}]
    with store.tx() as tx:
        tx.append_history("old", _events(4))
    assert store.history_counters("old")[0]["events_written"] == 4
    store.close()


def test_an_earlier_executions_activity_result_cannot_complete_a_new_task_with_the_same_id():
    """Task ids restart at 0 in every execution: only the token of the scheduling tells them apart."""
    store = Store()
    with store.tx() as tx:
        tx.put_instance(_row("a"))
        stale = tx.add_task("a", 0, "echo", '"first"')
        tx.clear_execution("a", keep_events=True)  # continue_as_new: the first execution's work is gone
        fresh = tx.add_task("a", 0, "echo", '"second"')
    with store.tx() as tx:
        assert not tx.take_task("a", 0, stale)  # the first execution's result arrives late: dropped
        assert tx.take_task("a", 0, fresh)
    assert store.tasks() == []
