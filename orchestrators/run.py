"""The run's bookkeeping inside the orchestrator: status, timeline, typed calls, listeners and waits.

Every phase goes through `enter()`, which sets the custom status operators see (a `RunStatus`) and
appends to the timeline the output returns. Every call into an activity or a sub-orchestration goes
through `call()` / `child()`, which send and receive contract models. `notify()` tells the environment's
notification targets about a moment (docs/notifications.md), best effort; `finish()` tells them the outcome.

External events: one listener per event name for the whole span in which the event is valid
(`listener()` makes it once and hands out the same task afterwards). A fresh wait per race would
leave stale waiters behind, and the SDK hands a later event to the oldest of them, so it would be lost.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import azure.durable_functions as df

from activities.notify import send_notifications
from bluegreen.lazy import contract
from orchestrators.events import Event, parse_event, unreadable

if TYPE_CHECKING:
    from activities._activity import Activity

# Azure calls that fail temporarily (throttling, 5xx) are retried by the activity's SDK first
# (seconds); this policy adds minutes-scale retries on durable timers: 5 tries over ~2 minutes.
AZURE_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=5)
# When even that is spent (an ARM outage, a long throttling burst), the step pauses and tries again,
# for up to half an hour, before it gives up: a short outage should not fail a two-hour run.
AZURE_PATIENCE_MINUTES = 30
AZURE_PAUSE_SECONDS = 120
# A sub-orchestration that fails outright (not an Azure error: those it reports in its result) is
# started once more after a minute; it picks up the operation it was watching (starts are idempotent).
CHILD_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=60_000, max_number_of_attempts=2)

Step = Generator[Any, Any, Any]
# The notice each outcome sends; any other outcome (rejected, aborted, rolled back) is "ended".
_OUTCOME_EVENTS: dict[str, contract.NotifyEvent] = {"completed": "completed", "failed": "failed"}
In = TypeVar("In", bound="contract.Contract")
Out = TypeVar("Out", bound="contract.Contract")
Result = TypeVar("Result", bound="contract.Contract")


class StepFailed(Exception):
    """A step could not go on; `code` and `message` become the run's reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


class Aborted(Exception):
    def __init__(self, event: contract.AbortEvent) -> None:
        super().__init__(event.reason)
        self.by = event.by
        self.reason = event.reason


def _first_line(error: object) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def call(
    context: df.DurableOrchestrationContext, activity: Activity[In, Out], request: In, *, retry: bool = True
) -> Step:
    """Call an activity and return its result model; a permanent error, or Azure unavailable for longer
    than `AZURE_PATIENCE_MINUTES`, ends the step (StepFailed)."""
    payload = contract.wire(request)
    give_up = context.current_utc_datetime + timedelta(minutes=AZURE_PATIENCE_MINUTES)
    while True:
        task = (
            context.call_activity_with_retry(activity.builder, AZURE_RETRY, payload)
            if retry
            else context.call_activity(activity.builder, payload)
        )
        try:
            result = yield task
            break
        except Exception as exc:  # the retry policy is spent: Azure kept failing temporarily
            resume = context.current_utc_datetime + timedelta(seconds=AZURE_PAUSE_SECONDS)
            if not retry or resume > give_up:
                raise StepFailed("AzureUnavailable", _first_line(exc)) from None
            yield context.create_timer(resume)
    if isinstance(result, dict) and "permanent_error" in result:
        error = contract.ActivityFailure.model_validate(result).permanent_error
        raise StepFailed(error.code, error.message)
    return activity.output_type.model_validate(result)


def timer(context: df.DurableOrchestrationContext, seconds: float) -> Any:
    return context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))


class Run:
    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.context = context
        self.request = contract.RunRequest.model_validate(context.get_input())
        self.timeline: list[contract.TimelineEntry] = []
        self.phase: contract.Phase | None = None
        self.message = ""
        self.started_at: str | None = None
        self.abortable = True
        self.awaiting: contract.Awaiting | None = None
        self.deadline: str | None = None
        self.can_roll_back = False
        self.resources: contract.RunResources | None = None
        self.traffic: contract.TrafficPlan | None = None
        self.progress: (
            contract.UpgradeProgress
            | contract.ApprovalWait
            | contract.PopulateProgress
            | contract.StepProgress
            | contract.BakeProgress
            | None
        ) = None
        self.verification: contract.VerificationReport | None = None
        self.approval: contract.Decision | None = None
        self.rollback: contract.RollbackRecord | None = None
        self.outcome: contract.Outcome | None = None
        self.waiting_for: str | None = None
        self.can_resolve_manually = False
        self.abort: contract.AbortEvent | None = None
        self.left_behind: list[contract.LeftBehind] = []
        self.inherited: list[contract.Inherited] = []  # what the run created for green, by id
        self.traffic_moves: list[contract.TrafficMove] = []  # each traffic change and when the edge carried it
        self.traffic_changed_at: datetime | None = None  # the run's last Front Door write
        self.green_created = False
        self.poll_seconds = 30
        self.outstanding: list[Any] = []  # sub-orchestrations that lost a race: awaited before the end
        self._listeners: dict[str, Any] = {}
        self._children = 0
        self.plan: contract.Plan | None = None
        # The events the environment has notification targets for, once a notice has told (None: not known).
        self.notify_events: list[str] | None = None

    # ---- time

    @property
    def now(self) -> datetime:
        return self.context.current_utc_datetime

    def now_iso(self) -> str:
        return iso(self.now)

    # ---- status and timeline

    def enter(self, phase: contract.Phase, message: str) -> None:
        self.phase, self.message, self.progress = phase, message, None
        self.started_at = self.now_iso()
        self.note(message)

    def note(self, detail: str) -> None:
        self.timeline.append(contract.TimelineEntry(phase=self.phase, at=self.now_iso(), detail=detail))
        self.publish()

    def status(self) -> contract.RunStatus:
        return contract.RunStatus(
            kind=self.request.kind,
            phase=self.phase,
            message=self.message,
            started_at=self.started_at,
            outcome=self.outcome,
            abortable=self.abortable,
            awaiting=self.awaiting,
            deadline=self.deadline,
            can_roll_back=self.can_roll_back,
            can_resolve_manually=self.can_resolve_manually,
            waiting_for=self.waiting_for,
            abort=self.abort,
            started_by=self.request.started_by,
            resources=self.resources,
            traffic=self.traffic,
            progress=self.progress,
            verification=self.verification,
            approval=self.approval,
            rollback=self.rollback,
            traffic_moves=self.traffic_moves,
            timeline=self.timeline,
        )

    def publish(self) -> None:
        self.context.set_custom_status(contract.wire(self.status()))

    def adopt(self, plan: contract.Plan) -> None:
        """What the run publishes once it has a plan: its resources and what a rollback door must enable."""
        self.plan = plan
        self.poll_seconds = plan.settings.poll_seconds
        self.traffic = plan.traffic
        self.resources = contract.RunResources(
            front_door=plan.traffic.front_door_id, blue=plan.blue.cluster_id, green=plan.green.cluster_id
        )

    def finish(
        self, plan: contract.Plan | None, outcome: contract.Outcome, reason: str | None, *, live_known: bool = True
    ) -> Step:
        """End the run: wait for children still running, publish the outcome, return the output."""
        if self.outstanding:
            yield self.context.task_all(self.outstanding)
            self.outstanding.clear()
        self.outcome = outcome
        self.abortable = self.can_roll_back = self.can_resolve_manually = False
        self.awaiting = self.deadline = self.waiting_for = None
        self.message = outcome.value + (f": {reason}" if reason else "")
        self.publish()
        yield from self.notify(_OUTCOME_EVENTS.get(outcome, "ended"), outcome=outcome, reason=reason)
        output = contract.RunOutput(
            outcome=outcome,
            reason=reason,
            instance_id=self.context.instance_id,
            environment=self.request.environment,
            kind=self.request.kind,
            started_by=self.request.started_by,
            timeline=self.timeline,
            resources=self.resources,
            verification=self.verification,
            approval=self.approval,
            rollback=self.rollback,
            left_behind=self.left_behind,
            inherited=self.inherited,
            traffic_moves=self.traffic_moves,
        )
        if plan is not None:
            green_live = outcome == contract.Outcome.COMPLETED
            output = output.model_copy(
                update={
                    "target_version": plan.target_version,
                    "upgrade_path": plan.version_path,
                    "strategy": plan.strategy,
                    # Unknown when an operator resolved the run by hand while Front Door refused the route back.
                    "live": (plan.green.name if green_live else plan.blue.name) if live_known else None,
                    "blue": contract.ClusterVersion(cluster=plan.blue.name, version=plan.blue.version),
                    "green": contract.ClusterVersion(cluster=plan.green.name, version=plan.target_version)
                    if self.green_created
                    else None,
                }
            )
        return contract.wire(output)

    # ---- calls

    def call(self, activity: Activity[In, Out], request: In, *, retry: bool = True) -> Step:
        return (yield from call(self.context, activity, request, retry=retry))

    def notify(self, event: contract.NotifyEvent, message: str | None = None, **facts: Any) -> Step:
        """Send `event` to the environment's notification targets: one activity call, never retried on
        durable timers, and whatever goes wrong is a timeline note, never the run's failure."""
        if self.notify_events is not None and event not in self.notify_events:
            return  # no target takes it: not even a call in history
        plan = self.plan
        notice = contract.Notice(
            event=event,
            run_id=self.context.instance_id,
            environment=self.request.environment,
            kind=self.request.kind,
            at=self.now_iso(),
            message=self.message if message is None else message,
            phase=self.phase,
            blue=f"{plan.blue.name} ({plan.blue.version})" if plan else None,
            green=plan.green.name if plan else None,
            target_version=plan.target_version if plan else None,
            started_by=self.request.started_by,
            **facts,
        )
        try:
            result = yield from self.call(send_notifications, notice, retry=False)
        except StepFailed as failure:
            self.note(f"{event} notification not sent: {failure.reason}")
            return
        if result.configured is not None:
            self.notify_events = list(result.configured)
        failed = [f"{r.target} ({r.error})" for r in result.results if not r.sent]
        if result.problem or failed:
            self.note(f"{event} notification not sent: {result.problem or ', '.join(failed)}")

    def start_child(self, name: str, request: contract.Contract) -> Any:
        """Schedule a sub-orchestration (its own, bounded history) with an id derived from this run.

        Children's ids do not start with the environment's prefix, so listing an environment's runs
        never lists them.
        """
        self._children += 1
        child_id = f"sub_{self.context.instance_id}_{self._children}"
        return self.context.call_sub_orchestrator_with_retry(name, CHILD_RETRY, contract.wire(request), child_id)

    def child_result(self, task: Any, result_type: type[Result]) -> Result:
        """The result model of a finished sub-orchestration task; a child that failed ends the step."""
        if isinstance(task.result, Exception):
            raise StepFailed("SubOrchestrationFailed", _first_line(task.result))
        return result_type.model_validate(task.result)

    def child(self, name: str, request: contract.Contract, result_type: type[Result]) -> Step:
        """Run a sub-orchestration to its end, and return its result model."""
        task = self.start_child(name, request)
        try:
            value = yield task
        except Exception as exc:
            raise StepFailed("SubOrchestrationFailed", _first_line(exc)) from None
        return result_type.model_validate(value)

    # ---- events

    def listener(self, name: str) -> Any:
        """The one wait for event `name` in this run (made on first use, the same task afterwards)."""
        if name not in self._listeners:
            self._listeners[name] = self.context.wait_for_external_event(name)
        return self._listeners[name]

    def received(self, name: str, model: type[Event]) -> Event | None:
        """Event `name` as its model if it has arrived (its listener completed), else None.

        An event that arrived with a payload that does not read as `model` still counts as arrived
        (see `events.unreadable`): a listener that won a race must never be taken for nothing.
        """
        task = self._listeners.get(name)
        if task is None or not task.is_completed:
            return None
        event = parse_event(task.result, model)
        if event is None:
            fallback = unreadable(name)
            assert isinstance(fallback, model)
            return fallback
        return event

    def race(self, task: Any, *events: str) -> Step:
        """Wait for `task` or the first of `events`, whichever comes first; return the winner."""
        winner = yield self.context.task_any([task, *(self.listener(e) for e in events)])
        return winner

    def timer(self, seconds: float) -> Any:
        return timer(self.context, seconds)
