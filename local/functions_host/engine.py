"""The Durable Task side of an episode: which events go into an episode, and what its actions schedule.

One inbox item (a completion, a fired timer, a raised event, a start) is delivered per episode. That
keeps the host's sequence numbers equal to the SDK's: the SDK numbers a retry's timer and re-attempt,
and a long timer's next segment, while it processes the *first* new event, before user code resumes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local.functions_host import history as h
from local.functions_host import replay
from local.functions_host.app_index import AppIndex
from local.functions_host.store import PRIORITY_START, PRIORITY_TERMINATE, Store, Tx

log = logging.getLogger("functions_host")
TERMINAL = ("Completed", "Failed", "Terminated", "Canceled")
RUNNING = ("Pending", "Running", "ContinuedAsNew", "Suspended")


def new_state() -> dict[str, Any]:
    return {"slots": [], "next_id": 0, "retries": [], "retry_task": {}, "retry_timer": {}}


@dataclass
class Effects:
    """What the scheduler does after a commit: run activities, arm or drop timers, queue instances."""

    # (instance, task id, activity name, input JSON text, token of this scheduling)
    activities: list[tuple[str, int, str, str | None, str | None]] = field(default_factory=list)
    timers: list[tuple[str, int, str]] = field(default_factory=list)
    dropped_timers: list[tuple[str, int]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)  # executions that ended: drop all their timers
    enqueue: list[str] = field(default_factory=list)


def track_timers(timers: dict[tuple[str, int], tuple[datetime, str]], fx: Effects) -> None:
    """A driver's armed timers after a commit: the ended executions' go first, then the dropped, then the new.

    Timer ids restart in every execution, so an ended execution's timers must be forgotten before a
    later execution's with the same ids are armed.
    """
    for iid in fx.ended:
        for key in [k for k in timers if k[0] == iid]:
            del timers[key]
    for key in fx.dropped_timers:
        timers.pop(key, None)
    for iid, timer_id, fire_at in fx.timers:
        timers[(iid, timer_id)] = (h.parse_time(fire_at), fire_at)


class Engine:
    def __init__(self, store: Store, index: AppIndex, clock: Any) -> None:
        self.store, self.index, self.clock = store, index, clock
        replay.cache_history_timestamps()

    # ---- instance creation and control (called from the management API and for sub-orchestrations)

    def create(self, tx: Tx, name: str, instance_id: str, input_text: str | None, parent: Any, fx: Effects) -> None:
        """A new instance, Pending until its first episode. `input_text` is ExecutionStarted.Input (JSON text).

        An instance re-created under an id already used (a sub-orchestration's retry, a start over a
        finished instance) keeps that id's history counters: those events were written all the same.
        """
        now = h.ts(self.clock.now())
        tx.reset_instance(instance_id)
        tx.put_instance(
            {
                "instance_id": instance_id,
                "name": name,
                "status": "Pending",
                "input": input_text,
                "output": None,
                "custom_status": None,
                "created": now,
                "updated": now,
                "parent": parent,
                "execution": 0,
                "state": new_state(),
            }
        )
        tx.add_inbox(instance_id, "start", {}, PRIORITY_START)
        fx.enqueue.append(instance_id)

    def request_terminate(self, tx: Tx, instance_id: str, reason: str | None, fx: Effects) -> None:
        tx.add_inbox(instance_id, "terminate", {"reason": reason}, PRIORITY_TERMINATE)
        fx.enqueue.append(instance_id)

    # ---- one episode

    def step(self, instance_id: str) -> Effects:
        fx = Effects()
        inst = self.store.instance(instance_id)
        item = self.store.next_inbox(instance_id)
        if item is None:
            return fx
        if inst is None or inst["status"] in TERMINAL:
            with self.store.tx() as tx:
                tx.delete_inbox(item["id"])
            return fx
        now = self.clock.now()
        if item["kind"] == "terminate":
            reason = item["body"].get("reason")
            with self.store.tx() as tx:
                self._finish(tx, inst, "Terminated", reason, [h.execution_terminated(now, reason)], fx)
            log.info("orchestration %s (%s) terminated", inst["name"], instance_id)
            return fx
        fx.enqueue.append(instance_id)  # there may be more inbox items; the scheduler drops it when empty
        if item["kind"] == "start":
            past: list[h.Event] = []
            parent = inst["parent"]
            new = h.execution_started(now, inst["name"], inst["input"], instance_id, parent)
        else:
            past, new = self.store.history(instance_id), item["body"]
        with self.store.tx() as tx:
            extra = self._retry_bookkeeping(tx, inst, new, now, fx)
            started = h.orchestrator_started(now)
            orchestrator = self.index.orchestrator(inst["name"])
            if orchestrator is None:
                episode = replay.Episode(
                    done=True, error=f"The function '{inst['name']}' doesn't exist or is not an orchestrator function."
                )
            else:
                token = json.loads(inst["input"]) if inst["input"] else None
                parent_id = (inst["parent"] or {}).get("instance_id")
                body = replay.context_json(instance_id, token, past, [started, new], parent_id)
                episode = replay.run_episode(orchestrator.user_function, body)
            tx.delete_inbox(item["id"])
            tx.append_history(instance_id, [started, new, *extra])
            inst["custom_status"] = _text(episode.custom_status)
            self._apply(tx, inst, episode, now, fx)
        return fx

    def _apply(self, tx: Tx, inst: dict[str, Any], episode: replay.Episode, now: Any, fx: Effects) -> None:
        iid, state = inst["instance_id"], inst["state"]
        slots = state["slots"]
        unsupported = [a for a in episode.actions if a.get("actionType") not in replay.SUPPORTED]
        if episode.error is not None or unsupported:
            error = (
                episode.error or f"action type {unsupported[0].get('actionType')} is not supported by the local host"
            )
            log.warning("orchestration %s (%s) failed: %s", inst["name"], iid, error.splitlines()[0] if error else "")
            self._finish(tx, inst, "Failed", error, [h.orchestrator_completed(now)], fx)
            return
        for slot, action in zip(slots, episode.actions, strict=False):
            if action.get("isCanceled") and not slot.get("c"):
                slot["c"] = True  # a cancelled timer never fires, so it cannot hold the virtual clock back
                if tx.take_timer(iid, slot["id"]):
                    fx.dropped_timers.append((iid, slot["id"]))
        if episode.done:
            follow_up = episode.continue_as_new
            if follow_up is not None:
                self._continue_as_new(tx, inst, follow_up.get("input"), now, fx)
            else:
                self._finish(tx, inst, "Completed", episode.output, [h.orchestrator_completed(now)], fx)
            return
        events = []
        for action in episode.actions[len(slots) :]:
            slots.append(self._schedule(tx, inst, action, now, events, fx))
        events.append(h.orchestrator_completed(now))
        tx.append_history(iid, events)
        inst.update(status="Running", updated=h.ts(now))
        tx.put_instance(inst)

    def _schedule(
        self, tx: Tx, inst: dict[str, Any], action: dict[str, Any], now: Any, events: list, fx: Effects
    ) -> dict:
        kind = action["actionType"]
        if kind not in replay.NUMBERED:
            return {"t": kind, "id": None}
        state = inst["state"]
        task_id = state["next_id"]
        state["next_id"] += 1
        if kind == replay.CREATE_TIMER:
            fire_at = h.parse_time(action["fireAt"])
            events.append(h.timer_created(now, task_id, fire_at))
            if not action.get("isCanceled"):
                tx.add_timer(inst["instance_id"], task_id, h.ts(fire_at))
                fx.timers.append((inst["instance_id"], task_id, h.ts(fire_at)))
            return {"t": kind, "id": task_id, "c": bool(action.get("isCanceled"))}
        is_sub = kind in (replay.CALL_SUB, replay.CALL_SUB_RETRY)
        if kind in (replay.CALL_ACTIVITY_RETRY, replay.CALL_SUB_RETRY):
            options = action.get("retryOptions") or {}
            state["retries"].append(
                {
                    "sub": is_sub,
                    "name": action["functionName"],
                    "input": action.get("input"),
                    "instance_id": action.get("instanceId"),
                    "attempts": 1,
                    "max": int(options.get("maxNumberOfAttempts") or 1),
                    "interval_ms": int(options.get("firstRetryIntervalInMilliseconds") or 0),
                }
            )
            state["retry_task"][str(task_id)] = len(state["retries"]) - 1
        self._call(
            tx,
            inst,
            task_id,
            is_sub,
            action["functionName"],
            action.get("input"),
            action.get("instanceId"),
            now,
            events,
            fx,
        )
        return {"t": kind, "id": task_id}

    def _call(
        self,
        tx: Tx,
        inst: dict,
        task_id: int,
        is_sub: bool,
        name: str,
        input_text: str | None,
        child_id: str | None,
        now: Any,
        events: list,
        fx: Effects,
    ) -> None:
        iid = inst["instance_id"]
        if not is_sub:
            events.append(h.task_scheduled(now, task_id, name, input_text))
            token = tx.add_task(iid, task_id, name, input_text)
            fx.activities.append((iid, task_id, name, input_text, token))
            return
        child_id = child_id or f"{iid}:{task_id}"
        events.append(h.sub_created(now, task_id, name, child_id, input_text))
        existing = self.store.instance(child_id)
        if existing is not None and existing["status"] in RUNNING:
            reason = f"An orchestration with instance ID '{child_id}' already exists."
            tx.add_inbox(iid, "completion", h.sub_failed(now, task_id, reason, reason))
            return
        parent = {"instance_id": iid, "task_id": task_id, "execution": inst["execution"], "name": name}
        # The child's input token is the action's JSON text, so the child's get_input() decodes it once.
        self.create(tx, name, child_id, json.dumps(input_text), parent, fx)

    def _retry_bookkeeping(self, tx: Tx, inst: dict, event: h.Event, now: Any, fx: Effects) -> list[h.Event]:
        """The host's retry sequence: TaskFailed -> TimerCreated ... TimerFired -> TaskScheduled (again).

        As in DTFx, a timer follows every failure, the last one included; the SDK reports the
        failure when that final timer fires.
        """
        state, iid, extra = inst["state"], inst["instance_id"], []
        kind = event.get("EventType")
        failed = (h.T.TASK_FAILED, h.T.SUB_ORCHESTRATION_INSTANCE_FAILED)
        if kind in failed and str(event.get("TaskScheduledId")) in state["retry_task"]:
            retry = state["retry_task"][str(event["TaskScheduledId"])]
            timer_id = state["next_id"]
            state["next_id"] += 1
            fire_at = now + timedelta(milliseconds=state["retries"][retry]["interval_ms"])
            extra.append(h.timer_created(now, timer_id, fire_at))
            tx.add_timer(iid, timer_id, h.ts(fire_at))
            fx.timers.append((iid, timer_id, h.ts(fire_at)))
            state["retry_timer"][str(timer_id)] = retry
        elif kind == h.T.TIMER_FIRED and str(event.get("TimerId")) in state["retry_timer"]:
            record = state["retries"][state["retry_timer"][str(event["TimerId"])]]
            if record["attempts"] < record["max"]:
                record["attempts"] += 1
                task_id = state["next_id"]
                state["next_id"] += 1
                state["retry_task"][str(task_id)] = state["retry_timer"][str(event["TimerId"])]
                self._call(
                    tx,
                    inst,
                    task_id,
                    record["sub"],
                    record["name"],
                    record["input"],
                    record["instance_id"],
                    now,
                    extra,
                    fx,
                )
        return extra

    def _continue_as_new(self, tx: Tx, inst: dict, input_text: str | None, now: Any, fx: Effects) -> None:
        tx.clear_execution(inst["instance_id"], keep_events=True)  # raised events not yet delivered carry over
        inst.update(
            status="ContinuedAsNew",
            input=json.dumps(input_text),
            output=None,
            updated=h.ts(now),
            execution=inst["execution"] + 1,
            state=new_state(),
        )
        tx.put_instance(inst)
        tx.add_inbox(inst["instance_id"], "start", {}, PRIORITY_START)
        fx.ended.append(inst["instance_id"])
        fx.enqueue.append(inst["instance_id"])

    def _finish(self, tx: Tx, inst: dict, status: str, output: Any, events: list, fx: Effects) -> None:
        now = self.clock.now()
        output_text = _text(output)
        events.append(h.execution_completed(now, status, output_text))
        tx.append_history(inst["instance_id"], events)
        tx.end_execution(inst["instance_id"])
        fx.ended.append(inst["instance_id"])
        inst.update(status=status, output=output_text, updated=h.ts(now))
        tx.put_instance(inst)
        self._notify_parent(tx, inst, status, output, fx)

    def _notify_parent(self, tx: Tx, child: dict, status: str, output: Any, fx: Effects) -> None:
        link = child.get("parent")
        if not link:
            return
        parent = self.store.instance(link["instance_id"])
        if parent is None or parent["status"] in TERMINAL or parent["execution"] != link["execution"]:
            return
        now = self.clock.now()
        if status == "Completed":
            event = h.sub_completed(now, link["task_id"], _text(output))
        else:
            reason = f"Sub-orchestration '{link.get('name', child['name'])}' {status.lower()}: {output}"
            event = h.sub_failed(now, link["task_id"], reason, str(output))
        tx.add_inbox(parent["instance_id"], "completion", event)
        fx.enqueue.append(parent["instance_id"])


def _text(value: Any) -> str | None:
    """A payload token as JSON text (None stays None: no output, no custom status)."""
    return None if value is None else json.dumps(value)
