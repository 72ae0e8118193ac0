"""History events shaped as the Durable extension serialises DTFx events: PascalCase, int EventType, Z times.

Event-id rule (DTFx): EventId is the task's sequence number for TaskScheduled, TimerCreated and
SubOrchestrationInstanceCreated, and -1 for every other event. Payloads (Input, Result) are JSON text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as T

Event = dict[str, Any]
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # the SDK's DATETIME_STRING_FORMAT; dateutil also reads the host's 7 digits


def ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def status_time(moment: datetime) -> str:
    """The management API's createdTime/lastUpdatedTime format: yyyy-MM-ddTHH:mm:ssZ."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    # fromisoformat takes 'Z' and up to 6 fractional digits; the host writes 7, so trim the 7th.
    text = text.strip().replace("Z", "+00:00")
    if "." in text:
        head, tail = text.split(".", 1)
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _event(kind: T, when: datetime, event_id: int = -1, **fields: Any) -> Event:
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": ts(when), **fields}


def orchestrator_started(when: datetime) -> Event:
    return _event(T.ORCHESTRATOR_STARTED, when)


def orchestrator_completed(when: datetime) -> Event:
    return _event(T.ORCHESTRATOR_COMPLETED, when)


def execution_started(when: datetime, name: str, input_text: str | None, instance_id: str, parent: Any) -> Event:
    return _event(
        T.EXECUTION_STARTED,
        when,
        Name=name,
        Version="",  # read by the SDK's HistoryEvent; AttributeError without it
        Input=input_text,
        OrchestrationInstance={"InstanceId": instance_id},
        ParentInstance=parent,
    )


def execution_completed(when: datetime, status: str, result: str | None) -> Event:
    return _event(T.EXECUTION_COMPLETED, when, OrchestrationStatus=status, Result=result)


def execution_terminated(when: datetime, reason: str | None) -> Event:
    return _event(T.EXECUTION_TERMINATED, when, Input=reason)


def continue_as_new(when: datetime, input_text: str | None) -> Event:
    return _event(T.CONTINUE_AS_NEW, when, Result=input_text)


def task_scheduled(when: datetime, task_id: int, name: str, input_text: str | None) -> Event:
    return _event(T.TASK_SCHEDULED, when, task_id, Name=name, Version="", Input=input_text)


def task_completed(when: datetime, task_id: int, result: str) -> Event:
    return _event(T.TASK_COMPLETED, when, TaskScheduledId=task_id, Result=result)


def task_failed(when: datetime, task_id: int, reason: str, details: str) -> Event:
    return _event(T.TASK_FAILED, when, TaskScheduledId=task_id, Reason=reason, Details=details)


def timer_created(when: datetime, timer_id: int, fire_at: datetime) -> Event:
    return _event(T.TIMER_CREATED, when, timer_id, FireAt=ts(fire_at))


def timer_fired(when: datetime, timer_id: int, fire_at: str) -> Event:
    return _event(T.TIMER_FIRED, when, TimerId=timer_id, FireAt=fire_at)


def event_raised(when: datetime, name: str, input_text: str | None) -> Event:
    return _event(T.EVENT_RAISED, when, Name=name, Input=input_text)


def sub_created(when: datetime, task_id: int, name: str, instance_id: str, input_text: str | None) -> Event:
    return _event(
        T.SUB_ORCHESTRATION_INSTANCE_CREATED, when, task_id, Name=name, InstanceId=instance_id, Input=input_text
    )


def sub_completed(when: datetime, task_id: int, result: str | None) -> Event:
    return _event(T.SUB_ORCHESTRATION_INSTANCE_COMPLETED, when, TaskScheduledId=task_id, Result=result)


def sub_failed(when: datetime, task_id: int, reason: str, details: str) -> Event:
    return _event(T.SUB_ORCHESTRATION_INSTANCE_FAILED, when, TaskScheduledId=task_id, Reason=reason, Details=details)


def type_name(event: Event) -> str:
    """PascalCase event type name, as the management API shows it (ExecutionStarted, TaskCompleted...)."""
    return "".join(part.capitalize() for part in T(event["EventType"]).name.split("_"))
