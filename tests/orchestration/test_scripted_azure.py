"""The scripted Azure checks what the runbook tests rely on; these tests show those checks can fail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bluegreen import contract
from bluegreen.config import DEFAULT_SYSTEM_NAMESPACES
from local.clock import VirtualClock
from tests.orchestration.conftest import (
    BLUE_ID,
    BLUE_ORIGIN,
    EXTENSION,
    FLUX_CONFIGURATION,
    GREEN_ID,
    GREEN_ORIGIN,
    GROUP,
    FakeAzure,
    Kind,
    make_plan,
)


@pytest.fixture
def fake() -> FakeAzure:
    return FakeAzure(VirtualClock())


def test_front_door_records_a_write_that_leaves_no_origin_enabled(fake):
    fake.front_door.set(GROUP, BLUE_ORIGIN, False)  # break before make
    assert fake.front_door.live() == []
    assert [(w.origin, w.enabled_after) for w in fake.front_door.dark_writes()] == [(BLUE_ORIGIN, ())]


def test_front_door_write_is_undeployed_until_the_delay_has_passed(fake):
    clock = fake.clock
    fake.front_door.set(GROUP, GREEN_ORIGIN, True)
    assert not fake.front_door.snapshot().groups[0].deployed
    clock.advance(fake.front_door.deploy_delay.total_seconds() - 1)
    assert not fake.front_door.snapshot().groups[0].deployed
    clock.advance(1)
    assert fake.front_door.snapshot().groups[0].deployed
    # Setting an origin to what it already is writes nothing (as set_origin_enabled answers changed=False).
    assert fake("set_origin_enabled", {"group": GROUP, "origin": GREEN_ORIGIN, "enabled": True}) == (
        contract.OriginChanged(changed=False)
    )
    assert len(fake.front_door.writes) == 1


def test_faults_are_a_permanent_error_returned_or_a_temporary_one_raised(fake):
    denied = contract.ErrorInfo(code="AuthorizationFailed", message="no role")
    fake.fail_activity("read_traffic", denied, TimeoutError("429"))
    assert fake("read_traffic", {}) == contract.ActivityFailure(permanent_error=denied)
    with pytest.raises(TimeoutError):
        fake("read_traffic", {})
    assert isinstance(fake("read_traffic", {}), contract.TrafficSnapshot)  # the faults are used up


def test_nth_operation_of_a_kind_fails_after_its_in_progress_polls(fake):
    fake.fail_operation(Kind.UPGRADE_POOL, nth=2, code="Boom")
    handles = [fake("start_pool_upgrade", {"cluster_id": GREEN_ID, "pool": p, "version": "1.31.8"}) for p in "ab"]

    def statuses(handle: contract.OperationHandle) -> list[contract.OperationState]:
        check = {"cluster_id": GREEN_ID, "operation": contract.wire(handle)}
        return [fake("check_cluster_operation", check).status for _ in range(2)]

    assert statuses(handles[0]) == [contract.OperationState.IN_PROGRESS, contract.OperationState.SUCCEEDED]
    assert statuses(handles[1]) == [contract.OperationState.IN_PROGRESS, contract.OperationState.FAILED]


def test_green_stops_taking_traffic_once_its_origin_is_disabled(fake):
    measure = {"window_minutes": 1}
    fake.front_door.set(GROUP, GREEN_ORIGIN, True)
    assert fake("measure_error_rate", measure).green_enabled
    fake.clock.advance(timedelta(minutes=1).total_seconds())
    fake.front_door.set(GROUP, GREEN_ORIGIN, False)
    rate = fake("measure_error_rate", measure)
    assert (rate.verdict, rate.green_enabled) == (contract.BakeVerdict.TOO_LITTLE_TRAFFIC, False)


def copy(fake: FakeAzure, kind: str, name: str) -> contract.ConfigurationsCopied:
    return fake("copy_configurations", {"blue_id": BLUE_ID, "green_id": GREEN_ID, "kind": kind, "names": [name]})


def check(fake: FakeAzure, kind: str, name: str) -> contract.ConfigurationState:
    (state,) = fake("check_configurations", {"cluster_id": GREEN_ID, "kind": kind, "names": [name]}).states
    return state


def test_plans_bring_blues_applications_through_flux_by_default():
    workloads = make_plan().settings.workloads
    assert (workloads.mode, workloads.extensions, workloads.flux_configurations, workloads.timeout_minutes) == (
        "gitops",
        [EXTENSION],
        [FLUX_CONFIGURATION],
        30,
    )
    assert workloads.system_namespaces == list(DEFAULT_SYSTEM_NAMESPACES)


def test_a_configuration_is_not_found_until_copied_then_not_ready_for_its_checks_then_ready(fake):
    assert check(fake, "flux_configurations", FLUX_CONFIGURATION).provisioning_state == "NotFound"
    assert copy(fake, "flux_configurations", FLUX_CONFIGURATION).started == [FLUX_CONFIGURATION]
    assert check(fake, "flux_configurations", FLUX_CONFIGURATION).compliance_state == "Pending"
    assert check(fake, "flux_configurations", FLUX_CONFIGURATION).compliance_state == "Compliant"
    # A repeated copy finds it there.
    assert copy(fake, "flux_configurations", FLUX_CONFIGURATION).existing == [FLUX_CONFIGURATION]


def test_a_configuration_with_a_delay_is_ready_only_once_that_virtual_time_has_passed(fake):
    fake.configuration(EXTENSION, checks=0, delay=timedelta(minutes=10))
    copy(fake, "extensions", EXTENSION)
    fake.clock.advance(timedelta(minutes=10).total_seconds() - 1)
    assert check(fake, "extensions", EXTENSION).provisioning_state == "Creating"
    fake.clock.advance(1)
    assert check(fake, "extensions", EXTENSION).provisioning_state == "Succeeded"


def test_flux_copied_before_its_extension_is_installed_is_recorded_as_such(fake):
    copy(fake, "extensions", EXTENSION)
    copy(fake, "flux_configurations", FLUX_CONFIGURATION)  # break: the extension was still Creating
    assert [r.extensions_installed for r in fake.copy_requests] == [(), ()]


def test_a_failed_extension_is_never_installed_and_a_gone_green_answers_not_found(fake):
    fake.configuration(EXTENSION, checks=0, failed="helm timed out")
    copy(fake, "extensions", EXTENSION)
    assert check(fake, "extensions", EXTENSION) == contract.ConfigurationState(
        name=EXTENSION, provisioning_state="Failed", message="helm timed out"
    )
    assert fake.extensions_installed() == ()
    fake.green_gone = True
    assert check(fake, "extensions", EXTENSION).provisioning_state == "NotFound"
    assert isinstance(copy(fake, "extensions", "other"), contract.ActivityFailure)


def test_a_parity_problem_fails_a_verification_that_would_otherwise_pass(fake):
    verify = {"blue_id": BLUE_ID}
    assert fake("verify_green", verify).passed
    fake.parity = contract.ParityReport(compared=3, missing=["shop/Deployment/checkout"])
    report = fake("verify_green", verify)
    assert (report.passed, report.problems) == (False, ["missing on green (blue runs them): shop/Deployment/checkout"])
