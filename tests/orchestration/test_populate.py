"""The populate phase (`orchestrators/populate.py`, the `gitops_populate` sub-orchestration): blue's
applications reach green between the clone and the upgrade.

gitops copies blue's extensions, waits until they are installed, then copies its Flux configurations
and waits until each is Compliant (or the workloads timeout); pipeline tells the team's pipeline and
waits for `GreenReady`; none brings nothing. Any failure, or an Abort, ends the run before the upgrade
with green removed and blue live. Verification then checks parity: green runs what blue runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bluegreen import contract
from bluegreen.config import DEFAULT_SYSTEM_NAMESPACES
from local.functions_host.store import Tx
from orchestrators.children import MAX_WAITS
from orchestrators.run import iso
from tests.orchestration.conftest import (
    AUTO_APPROVAL,
    BLUE_ID,
    BLUE_NAME,
    BLUE_ORIGIN,
    ENVIRONMENT,
    EXTENSION,
    FLUX_CONFIGURATION,
    GREEN_ID,
    GREEN_NAME,
    HOPS,
    OPERATOR,
    PIPELINE_CALLER,
    PIPELINE_KEY,
    PIPELINE_SECRET,
    PIPELINE_URL,
    RESOURCE_GROUP,
    RUN_ID,
    Kind,
    UpgradeRun,
    abort,
    assert_serving_only,
    awaiting_green_ready,
    children_named,
    create_at_target_plan,
    gitops_workloads,
    green_ready,
    no_workloads,
    notes,
    phases,
    pipeline_workloads,
    start_upgrade,
)

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion:UserWarning")

Outcome, Phase = contract.Outcome, contract.Phase
TIMEOUT = timedelta(minutes=30)  # the workloads timeout of the plan builders
CONFIGURATION_ACTIVITIES = ("copy_configurations", "check_configurations")
LIMIT = 400


def auto_approved(upgrade: UpgradeRun, workloads: contract.WorkloadsPlan | None = None, **settings: Any) -> None:
    """Green cloned and upgraded along the hops, approved automatically: the populate is what matters here."""
    upgrade.azure.settings(approval=AUTO_APPROVAL, **settings)
    if workloads is not None:
        upgrade.azure.workloads(workloads)


def pipeline(upgrade: UpgradeRun, **changes: Any) -> None:
    auto_approved(upgrade, pipeline_workloads(**changes))


def populating(status: contract.RunStatus) -> bool:
    return status.phase == Phase.POPULATE


def index(upgrade: UpgradeRun, name: str, last: bool = False) -> int:
    """Where the first (or last) call of activity `name` is among all the run's calls."""
    names = upgrade.harness.activity_names()
    assert name in names, names
    return len(names) - 1 - names[::-1].index(name) if last else names.index(name)


def assert_stopped_before_the_upgrade(upgrade: UpgradeRun) -> None:
    """Nothing of the upgrade or later began; green deleted (under this run's tag), blue untouched and live."""
    assert upgrade.azure.started(Kind.UPGRADE_CONTROL_PLANE) == upgrade.azure.started(Kind.UPGRADE_POOL) == []
    assert upgrade.payloads("verify_green") == []
    assert upgrade.payloads("start_cluster_delete") == [
        {"cluster_id": GREEN_ID, "only_if_run": RUN_ID, "only_if_retired_by": None}
    ]
    assert upgrade.azure.started(Kind.STOP) == []
    assert upgrade.origin_writes() == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


def populate_child(upgrade: UpgradeRun) -> dict[str, Any]:
    (child,) = children_named(upgrade, "gitops_populate")
    return child


# ---- gitops


def test_gitops_installs_the_extensions_before_copying_flux_and_upgrades_only_once_flux_is_compliant(upgrade):
    auto_approved(upgrade)
    in_populate = upgrade.during("check_configurations")
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.COMPLETED, None)
    assert phases(output)[:3] == [Phase.CLONE, Phase.POPULATE, Phase.UPGRADE]

    # Extensions first; Flux copied only once every extension was installed on green.
    extensions, flux = upgrade.azure.copy_requests
    assert (extensions.kind, extensions.names) == ("extensions", (EXTENSION,))
    assert (flux.kind, flux.names, flux.extensions_installed) == (
        "flux_configurations",
        (FLUX_CONFIGURATION,),
        (EXTENSION,),
    )
    assert [(p["blue_id"], p["green_id"]) for p in upgrade.payloads("copy_configurations")] == [(BLUE_ID, GREEN_ID)] * 2
    # Each stage watched until ready: the extension Creating, then Succeeded; Flux Pending, then Compliant.
    checked = [(p["kind"], tuple(p["names"]), p["cluster_id"]) for p in upgrade.payloads("check_configurations")]
    assert (
        checked
        == [("extensions", (EXTENSION,), GREEN_ID)] * 2 + [("flux_configurations", (FLUX_CONFIGURATION,), GREEN_ID)] * 2
    )
    copy_flux = index(upgrade, "copy_configurations", last=True)
    assert index(upgrade, "check_configurations", last=True) > copy_flux > index(upgrade, "check_configurations")
    # The upgrade starts only after the last check said Compliant.
    assert index(upgrade, "start_control_plane_upgrade") > index(upgrade, "check_configurations", last=True)
    assert upgrade.times("start_control_plane_upgrade")[0] >= upgrade.times("check_configurations")[-1]

    populate_notes = [e.detail for e in output.timeline if e.phase == Phase.POPULATE]
    assert populate_notes == [
        f"copying 1 extension(s) and 1 Flux configuration(s) from {BLUE_NAME} to {GREEN_NAME}",
        f"{GREEN_NAME} runs blue's applications: every Flux configuration Compliant",
    ]
    (waiting,) = in_populate
    assert (waiting.phase, waiting.abortable, waiting.awaiting) == (Phase.POPULATE, True, None)
    child = populate_child(upgrade)
    assert child["runtimeStatus"] == "Completed" and child["output"]["succeeded"] is True
    assert [s["compliance_state"] for s in child["output"]["configurations"]] == ["Compliant"]


def test_verification_asks_for_parity_with_blue_and_the_note_counts_the_workloads_compared(upgrade):
    auto_approved(upgrade)
    output = upgrade.run()
    (request,) = upgrade.payloads("verify_green")
    assert request["blue_id"] == BLUE_ID
    assert request["system_namespaces"] == list(DEFAULT_SYSTEM_NAMESPACES)
    assert request["flux_configurations"] == [FLUX_CONFIGURATION]  # must be Compliant on green
    assert output.verification is not None and output.verification.parity == upgrade.azure.parity
    compared = upgrade.azure.parity.compared
    assert f"green verified: nodes Ready, blue's {compared} workload(s) running on green, smoke probe passed" in notes(
        output
    )


def test_gitops_status_shows_populate_progress_while_the_configurations_are_watched(upgrade):
    auto_approved(upgrade)
    in_populate = upgrade.during("check_configurations")
    upgrade.run()
    (waiting,) = in_populate
    assert waiting.progress == contract.PopulateProgress(mode="gitops")


def test_extension_that_fails_to_install_fails_the_run_naming_it_and_removes_green(upgrade):
    auto_approved(upgrade)
    upgrade.azure.configuration(EXTENSION, failed="helm install of microsoft.flux timed out")
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert output.reason == (
        f"PopulateFailed: green's extensions failed: {EXTENSION}: Failed (helm install of microsoft.flux timed out)"
    )
    assert [r.kind for r in upgrade.azure.copy_requests] == ["extensions"]  # no Flux without its extension
    assert output.live == BLUE_NAME
    assert f"{GREEN_NAME} deleted; {BLUE_NAME} stayed live throughout" in notes(output)
    assert_stopped_before_the_upgrade(upgrade)


def test_flux_configuration_never_compliant_fails_at_the_workloads_timeout_with_its_message(upgrade):
    auto_approved(upgrade)
    message = "kustomization web: path ./apps/prod not found"
    upgrade.azure.configuration(FLUX_CONFIGURATION, non_compliant=message)
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert output.reason == (
        f"PopulateFailed: green's Flux configurations did not get ready in time: "
        f"{FLUX_CONFIGURATION}: Non-Compliant ({message})"
    )
    began = upgrade.times("copy_configurations")[0]  # the phase began in this same moment
    assert upgrade.times("check_configurations")[-1] - began == TIMEOUT  # the last check at the deadline
    (deleted,) = upgrade.times("start_cluster_delete")
    assert deleted - began == TIMEOUT  # removed at once, not later
    assert_stopped_before_the_upgrade(upgrade)


def green_gone_while_its_extension_installs(upgrade: UpgradeRun) -> None:
    upgrade.after("copy_configurations", lambda: setattr(upgrade.azure, "green_gone", True))


def green_gone_before_flux_is_copied(upgrade: UpgradeRun) -> None:
    upgrade.after("check_configurations", lambda: setattr(upgrade.azure, "green_gone", True), nth=2)


@pytest.mark.parametrize(
    "setup, reason",
    [
        (
            green_gone_while_its_extension_installs,
            f"green's extensions failed: {EXTENSION}: NotFound (not on the cluster)",
        ),
        (green_gone_before_flux_is_copied, f"ResourceNotFound: {GREEN_ID} was not found"),
    ],
    ids=["check answers NotFound", "copy refused NotFound"],
)
def test_green_gone_during_populate_fails_at_once_not_at_the_timeout(upgrade, setup, reason):
    auto_approved(upgrade)
    setup(upgrade)
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.FAILED, f"PopulateFailed: {reason}")
    began = upgrade.times("copy_configurations")[0]
    assert upgrade.ended_at() - began < timedelta(minutes=3)  # the delete's own poll; no waiting for the 30 min
    assert_stopped_before_the_upgrade(upgrade)


def test_abort_during_populate_aborts_removes_green_and_the_populate_child_ends(upgrade):
    auto_approved(upgrade)
    upgrade.azure.configuration(EXTENSION, checks=20)  # a long install: the Abort comes meanwhile
    at_abort = upgrade.once_waiting(populating, lambda: upgrade.raise_event("Abort", abort()))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ABORTED, f"aborted by {OPERATOR}: change freeze")
    (waiting,) = at_abort
    assert (waiting.phase, waiting.abortable) == (Phase.POPULATE, True)
    (deleted,) = upgrade.times("start_cluster_delete")
    assert deleted == upgrade.times("check_configurations")[0]  # acted on at once, not after the populate
    assert [r.kind for r in upgrade.azure.copy_requests] == ["extensions"]
    assert_stopped_before_the_upgrade(upgrade)
    # The child that lost the race (it only reads; the run does not wait for it) ended by itself once
    # green was gone.
    child = populate_child(upgrade)
    assert child["runtimeStatus"] == "Completed"
    assert child["output"]["succeeded"] is False and "NotFound" in child["output"]["detail"]
    assert upgrade.times("check_configurations")[-1] > deleted


def test_abort_during_populate_with_keep_failed_green_ends_the_run_promptly(upgrade):
    auto_approved(upgrade, keep_failed_green=True)
    upgrade.azure.configuration(EXTENSION, checks=1000)
    upgrade.once_waiting(populating, lambda: upgrade.raise_event("Abort", abort()))
    output = upgrade.run()
    assert output.outcome == Outcome.ABORTED
    began = upgrade.times("copy_configurations")[0]
    assert upgrade.ended_at() - began < timedelta(minutes=5), upgrade.ended_at() - began


def test_populate_child_that_fails_outright_fails_the_run_and_removes_green(upgrade):
    auto_approved(upgrade)
    upgrade.azure.check_configurations = lambda payload: {"states": "?"}  # not a ConfigurationsState: it crashes
    upgrade.may_fail = frozenset({"gitops_populate"})  # both attempts (CHILD_RETRY), on purpose
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert output.reason is not None and output.reason.startswith("SubOrchestrationFailed: ")
    assert [f.name for f in upgrade.harness.failed] == ["gitops_populate", "gitops_populate"]
    # Each attempt began again at the extension stage; nothing went on to Flux.
    assert [r.kind for r in upgrade.azure.copy_requests] == ["extensions", "extensions"]
    assert_stopped_before_the_upgrade(upgrade)


SECRET_REFERENCE = "https://kv-nod-prod.vault.azure.net/secrets/flux-git-token"
SECRET_VALUE = "ghp_9xQ2ZsecretTokenValue4711"


@pytest.fixture
def written(monkeypatch) -> list[tuple[str, str]]:
    """Every history event appended to any instance, as stored (continue-as-new drops earlier executions'
    histories from the store, so they are recorded as they are written)."""
    events: list[tuple[str, str]] = []
    append = Tx.append_history

    def recording(self: Tx, instance_id: str, new: list[dict[str, Any]]) -> None:
        events.extend((instance_id, json.dumps(event)) for event in new)
        append(self, instance_id, new)

    monkeypatch.setattr(Tx, "append_history", recording)
    return events


def test_protected_settings_travel_as_references_and_no_secret_value_reaches_any_history(azure, written):
    protected = {FLUX_CONFIGURATION: {"httpsKey": SECRET_REFERENCE}}
    azure.settings(approval=AUTO_APPROVAL, workloads=gitops_workloads(protected_settings=protected))
    azure.secrets[SECRET_REFERENCE] = SECRET_VALUE
    upgrade = UpgradeRun(start_upgrade(azure), azure)  # after `written` is in place: from the first event on
    assert upgrade.run().outcome == Outcome.COMPLETED

    # The activity gets the reference, and reads the value itself.
    flux = next(p for p in upgrade.payloads("copy_configurations") if p["kind"] == "flux_configurations")
    assert flux["protected_settings"] == protected
    assert azure.on_green[("flux_configurations", FLUX_CONFIGURATION)].protected == {"httpsKey": SECRET_VALUE}
    # Nowhere in history: not an input, a result, an output nor a custom status, of any execution.
    assert {iid for iid, _ in written} == set(upgrade.harness.instances())
    assert any(SECRET_REFERENCE in event for _, event in written)  # the scan sees what there is
    assert [iid for iid, event in written if SECRET_VALUE in event] == []
    rows = [json.dumps(row, default=str) for row in upgrade.harness.store.instances()]
    assert not any(SECRET_VALUE in row for row in rows)


def test_pipeline_key_travels_as_a_reference_and_its_value_reaches_no_history(azure, written):
    azure.settings(approval=AUTO_APPROVAL, workloads=pipeline_workloads())
    upgrade = UpgradeRun(start_upgrade(azure), azure)
    upgrade.once_waiting(awaiting_green_ready, lambda: upgrade.raise_event("GreenReady", green_ready()))
    assert upgrade.run().outcome == Outcome.COMPLETED
    assert [p["secret"] for p in upgrade.payloads("notify_pipeline")] == [PIPELINE_SECRET]
    assert azure.signed_with == [PIPELINE_KEY]  # the fake read the key, as the activity does
    assert any(PIPELINE_SECRET in event for _, event in written)
    assert [iid for iid, event in written if PIPELINE_KEY in event] == []


# ---- none


def test_mode_none_copies_nothing_notifies_nobody_and_says_so(upgrade):
    auto_approved(upgrade, no_workloads())
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    names = set(upgrade.harness.activity_names())
    assert names.isdisjoint({*CONFIGURATION_ACTIVITIES, "notify_pipeline"})
    assert children_named(upgrade, "gitops_populate") == []
    populate_notes = [e.detail for e in output.timeline if e.phase == Phase.POPULATE]
    assert populate_notes == ["no applications to bring to green (workloads.mode = none)"]
    assert phases(output)[:3] == [Phase.CLONE, Phase.POPULATE, Phase.UPGRADE]
    (request,) = upgrade.payloads("verify_green")
    assert (request["blue_id"], request["flux_configurations"]) == (BLUE_ID, [])


# ---- pipeline


def test_pipeline_is_notified_once_with_green_and_the_deadline(upgrade):
    pipeline(upgrade)
    upgrade.once_waiting(awaiting_green_ready, lambda: upgrade.raise_event("GreenReady", green_ready()))
    upgrade.run()
    (began,) = upgrade.times("notify_pipeline")
    assert upgrade.azure.notices == [
        contract.PipelineNotice(
            url=PIPELINE_URL,
            secret=PIPELINE_SECRET,
            run_id=RUN_ID,
            environment=ENVIRONMENT,
            green_id=GREEN_ID,
            green_name=GREEN_NAME,
            resource_group=RESOURCE_GROUP,
            blue_id=BLUE_ID,
            target_version=HOPS[-1],
            deadline=iso(began + TIMEOUT),
        )
    ]
    assert set(upgrade.harness.activity_names()).isdisjoint(CONFIGURATION_ACTIVITIES)


def test_pipeline_wait_is_advertised_as_awaiting_green_ready_with_the_deadline(upgrade):
    pipeline(upgrade)
    seen = upgrade.once_waiting(awaiting_green_ready, lambda: upgrade.raise_event("GreenReady", green_ready()))
    output = upgrade.run()
    (waiting,) = seen
    (notice,) = upgrade.azure.notices
    assert (waiting.phase, waiting.awaiting, waiting.deadline, waiting.abortable, waiting.can_roll_back) == (
        Phase.POPULATE,
        contract.Awaiting.GREEN_READY,
        notice.deadline,
        True,
        False,
    )
    assert waiting.progress == contract.PopulateProgress(mode="pipeline", notified=PIPELINE_URL)
    assert f"pipeline notified (202); waiting for green-ready until {notice.deadline}" in notes(output)


def test_green_ready_ok_continues_to_the_upgrade(upgrade):
    pipeline(upgrade)
    upgrade.once_waiting(awaiting_green_ready, lambda: upgrade.raise_event("GreenReady", green_ready(detail="v42")))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.COMPLETED, None)
    assert f"the pipeline deployed to green ({PIPELINE_CALLER}): v42" in notes(output)
    assert index(upgrade, "start_control_plane_upgrade") > index(upgrade, "notify_pipeline")
    # Taken when it came, not at the deadline.
    (notified,) = upgrade.times("notify_pipeline")
    assert upgrade.times("start_control_plane_upgrade")[0] - notified < timedelta(minutes=1)
    (request,) = upgrade.payloads("verify_green")
    assert (request["blue_id"], request["flux_configurations"]) == (BLUE_ID, [])  # parity, no Flux to check


def test_green_ready_not_ok_fails_with_the_pipelines_detail_and_removes_green(upgrade):
    pipeline(upgrade)
    failed = green_ready(ok=False, detail="helm upgrade web failed: ImagePullBackOff")
    upgrade.once_waiting(awaiting_green_ready, lambda: upgrade.raise_event("GreenReady", failed))
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert output.reason == (
        f"PipelineFailed: the pipeline reported failure ({PIPELINE_CALLER}): helm upgrade web failed: ImagePullBackOff"
    )
    assert upgrade.times("start_cluster_delete") == upgrade.times("notify_pipeline")  # at once, not at the deadline
    assert_stopped_before_the_upgrade(upgrade)


def test_no_green_ready_before_the_deadline_fails_as_pipeline_timed_out(upgrade):
    pipeline(upgrade)
    output = upgrade.run()  # the pipeline never answers
    (notice,) = upgrade.azure.notices
    assert (output.outcome, output.reason) == (
        Outcome.FAILED,
        f"PipelineTimedOut: the pipeline did not call green-ready by {notice.deadline}",
    )
    (notified,) = upgrade.times("notify_pipeline")
    (deleted,) = upgrade.times("start_cluster_delete")
    assert deleted - notified == TIMEOUT
    assert_stopped_before_the_upgrade(upgrade)


def test_abort_while_waiting_for_green_ready_aborts_and_removes_green(upgrade):
    pipeline(upgrade)
    upgrade.once_waiting(awaiting_green_ready, lambda: upgrade.raise_event("Abort", abort("wrong target")))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ABORTED, f"aborted by {OPERATOR}: wrong target")
    assert upgrade.times("start_cluster_delete") == upgrade.times("notify_pipeline")
    assert_stopped_before_the_upgrade(upgrade)
    end = upgrade.status()
    assert (end.awaiting, end.deadline) == (None, None)


DECISIONS: dict[str, tuple[Callable[[UpgradeRun], None] | None, str]] = {
    "green ready": (lambda u: u.raise_event("GreenReady", green_ready()), "start_control_plane_upgrade"),
    "pipeline failed": (lambda u: u.raise_event("GreenReady", green_ready(ok=False)), "start_cluster_delete"),
    "aborted": (lambda u: u.raise_event("Abort", abort()), "start_cluster_delete"),
    "timed out": (None, "start_cluster_delete"),
}


@pytest.mark.parametrize("decide, next_activity", DECISIONS.values(), ids=DECISIONS.keys())
def test_status_stops_advertising_green_ready_once_decided(upgrade, decide, next_activity):
    pipeline(upgrade)
    if decide is not None:
        upgrade.once_waiting(awaiting_green_ready, lambda: decide(upgrade))
    after = upgrade.during(next_activity)  # the first thing the run does once it has decided
    upgrade.run()
    (status,) = after
    assert (status.awaiting, status.deadline) == (None, None)
    assert upgrade.status().awaiting is None


GREEN_READY_MOMENTS: dict[str, Callable[[UpgradeRun, Callable[[], None]], object]] = {
    "(a) while the notice is sent": lambda u, act: u.during("notify_pipeline", act),
    "(b) during the wait's timer": lambda u, act: u.once_waiting(awaiting_green_ready, act),
    "(c) between the notice's answer and the wait": lambda u, act: u.after("notify_pipeline", act),
}


@pytest.mark.parametrize("moment", GREEN_READY_MOMENTS.values(), ids=GREEN_READY_MOMENTS.keys())
def test_green_ready_at_every_moment_of_the_wait_is_taken(upgrade, moment):
    pipeline(upgrade)
    moment(upgrade, lambda: upgrade.raise_event("GreenReady", green_ready(id="ready-1")))
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    (notified,) = upgrade.times("notify_pipeline")
    assert upgrade.times("start_control_plane_upgrade")[0] - notified < timedelta(minutes=1)


def test_status_awaits_green_ready_while_the_notice_is_sent(upgrade):
    pipeline(upgrade)
    sending = upgrade.during("notify_pipeline", lambda: upgrade.raise_event("GreenReady", green_ready()))
    upgrade.run()
    (status,) = sending
    assert status.awaiting == contract.Awaiting.GREEN_READY


def test_unreadable_green_ready_is_honoured_as_a_failure(upgrade):
    pipeline(upgrade)
    upgrade.once_waiting(awaiting_green_ready, lambda: upgrade.raise_event("GreenReady", {"done": True}))
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert_stopped_before_the_upgrade(upgrade)


def test_pipeline_that_refuses_the_notice_fails_the_run_and_removes_green(upgrade):
    pipeline(upgrade)
    refused = contract.ErrorInfo(code="PipelineRefused", message=f"{PIPELINE_URL} answered 403")
    upgrade.azure.fail_activity("notify_pipeline", refused)
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.FAILED, f"PipelineRefused: {PIPELINE_URL} answered 403")
    assert upgrade.azure.notices == []
    assert_stopped_before_the_upgrade(upgrade)


def test_pipeline_unreachable_for_a_while_is_retried_and_notified_once(upgrade):
    pipeline(upgrade)
    upgrade.azure.fail_activity("notify_pipeline", *[ConnectionError("PipelineUnreachable")] * 3)
    upgrade.once_waiting(awaiting_green_ready, lambda: upgrade.raise_event("GreenReady", green_ready()))
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert len(upgrade.times("notify_pipeline")) == 4  # three refused on durable timers, then the one that took
    assert len(upgrade.azure.notices) == 1


# ---- verify: parity with blue


@pytest.mark.parametrize(
    "parity, problem",
    [
        (
            contract.ParityReport(compared=12, missing=["shop/Deployment/checkout"]),
            "missing on green (blue runs them): shop/Deployment/checkout",
        ),
        (
            contract.ParityReport(compared=12, unavailable=["shop/Deployment/cart 1/3"]),
            "not available on green: shop/Deployment/cart 1/3",
        ),
    ],
    ids=["missing", "unavailable"],
)
def test_parity_problem_keeps_verify_retrying_until_the_timeout_and_fails_naming_the_workload(upgrade, parity, problem):
    auto_approved(upgrade, verify_timeout_minutes=4)
    upgrade.azure.parity = parity  # everything else about green is fine
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.FAILED, f"VerificationFailed: {problem}")
    times = upgrade.times("verify_green")
    assert times[-1] - times[0] == timedelta(minutes=4)
    assert len(times) == 4 * 2 + 1  # every poll_seconds, both ends included
    assert output.verification is not None and output.verification.parity == parity
    assert upgrade.payloads("start_cluster_delete") == [
        {"cluster_id": GREEN_ID, "only_if_run": RUN_ID, "only_if_retired_by": None}
    ]
    assert upgrade.origin_writes() == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


# ---- history stays bounded


def test_populate_that_waits_for_100_polls_continues_as_new_and_stays_under_400_events_per_instance(upgrade):
    workloads = gitops_workloads(timeout_minutes=600)
    upgrade.azure.plan = create_at_target_plan(approval=AUTO_APPROVAL, workloads=workloads)
    upgrade.azure.configuration(FLUX_CONFIGURATION, checks=100)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    store = upgrade.harness.store
    (child,) = [row for row in store.instances() if row["name"] == "gitops_populate"]
    # 1 wait for the extension, 100 for Flux: MAX_WAITS per execution
    assert child["execution"] + 1 == 1 + (1 + 100) // MAX_WAITS
    assert upgrade.harness.status(child["instance_id"])["output"]["succeeded"] is True
    # Each stage copied once: the continued executions kept watching what was copied.
    assert [r.kind for r in upgrade.azure.copy_requests] == ["extensions", "flux_configurations"]
    assert len(upgrade.payloads("check_configurations")) == 2 + 101
    counters = {row["instance_id"]: row["longest_history"] for row in store.history_counters(RUN_ID)}
    sizes = {iid: max(counters[iid], len(store.history(iid))) for iid in upgrade.harness.instances()}
    assert max(sizes.values()) <= LIMIT, sizes
