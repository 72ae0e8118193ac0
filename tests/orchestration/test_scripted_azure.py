"""The scripted Azure checks what the runbook tests rely on; these tests show those checks can fail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bluegreen import contract
from local.clock import VirtualClock
from tests.orchestration.conftest import BLUE_ORIGIN, GREEN_ID, GREEN_ORIGIN, GROUP, FakeAzure, Kind


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
