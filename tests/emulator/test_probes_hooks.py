"""Smoke-probe faults (a bad answer or none at all) and request hooks (a callback while a write is in flight)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from typing import Any

import pytest
import requests
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.cdn.models import AFDOriginUpdateParameters

from local.azure_emulator import AzureEmulator
from tests.emulator.conftest import BLUE_HOST, GREEN_HOST, GROUP, PROFILE, RG, SUB

ORIGIN_PATH = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Cdn/profiles/{PROFILE}"
    f"/originGroups/{GROUP}/origins/green"
)
WAIT = 10.0  # seconds an Event may wait for another thread; never a sleep


def probe(emu: AzureEmulator, host: str) -> int | None:
    """What the app's smoke probe sees: a status, or None when no answer came."""
    try:
        return requests.get(f"{emu.arm_endpoint}/_probe/{host}/healthz", verify=emu.ca_bundle, timeout=5).status_code
    except requests.ConnectionError:
        return None


def patch_green(emu: AzureEmulator, state: str = "Enabled") -> requests.Response:
    return requests.patch(
        emu.arm_endpoint + ORIGIN_PATH,
        params={"api-version": "2026-10-01"},
        json={"properties": {"enabledState": state}},
        headers={"Authorization": "Bearer t"},
        verify=emu.ca_bundle,
        timeout=5,
    )


def green_state(emu: AzureEmulator) -> str:
    green = next(r for r in emu.resources() if r["id"].lower() == ORIGIN_PATH.lower())
    return str(green["properties"]["enabledState"])


# -- probes ----------------------------------------------------------------------------------------------------


def test_probe_fault_answers_a_status_for_count_probes_of_one_host(afd: AzureEmulator) -> None:
    assert (probe(afd, BLUE_HOST), probe(afd, GREEN_HOST)) == (200, 200)
    afd.fail_probes(host=GREEN_HOST.upper(), status=503, count=2)
    assert [probe(afd, GREEN_HOST) for _ in range(3)] == [503, 503, 200]
    assert probe(afd, BLUE_HOST) == 200  # other hosts untouched


def test_probe_without_an_answer_until_cleared(afd: AzureEmulator) -> None:
    afd.fail_probes(status=None)  # every host, until cleared
    assert [probe(afd, GREEN_HOST) for _ in range(3)] + [probe(afd, BLUE_HOST)] == [None] * 4
    afd.clear_probe_faults()
    assert probe(afd, GREEN_HOST) == 200
    assert afd.requests() == []  # probes are not ARM: never in the request log


def test_probe_faults_through_the_control_api(afd: AzureEmulator) -> None:
    base, verify = afd.arm_endpoint + "/_emulator", afd.ca_bundle
    body = {"host": GREEN_HOST, "status": None, "count": 1}
    assert requests.post(base + "/faults/probes", json=body, verify=verify).status_code == 200
    assert [probe(afd, GREEN_HOST), probe(afd, GREEN_HOST)] == [None, 200]
    assert requests.post(base + "/faults/probes", json={"status": 500}, verify=verify).status_code == 200
    assert probe(afd, BLUE_HOST) == 500
    assert requests.post(base + "/faults/probes/clear", verify=verify).status_code == 200
    assert probe(afd, BLUE_HOST) == 200
    assert requests.post(base + "/faults/probes", json={"status": 99}, verify=verify).status_code == 400


# -- request hooks ---------------------------------------------------------------------------------------------


def test_hook_runs_after_the_write_is_applied_and_logged_before_the_answer(afd: AzureEmulator) -> None:
    entered, release, seen = threading.Event(), threading.Event(), {}

    def hook(entry: dict[str, Any]) -> None:
        seen["entry"] = entry
        entered.set()
        release.wait(WAIT)

    afd.on_request(hook, method="PATCH", path_pattern="/origins/green$")
    answer: dict[str, requests.Response] = {}
    client = threading.Thread(target=lambda: answer.setdefault("r", patch_green(afd)))
    client.start()
    assert entered.wait(WAIT)
    # The client still waits for its answer, while the write is already applied and logged.
    assert client.is_alive() and "r" not in answer
    assert green_state(afd) == "Enabled"
    assert [(r["method"], r["status"]) for r in afd.requests()] == [("PATCH", 202)]
    assert (seen["entry"]["status"], seen["entry"]["enabled_origins"]) == (202, 2)
    release.set()
    client.join(WAIT)
    assert answer["r"].status_code == 202


def test_dropped_response_leaves_the_write_applied_and_the_emulator_serving(afd: AzureEmulator) -> None:
    hook = afd.on_request(lambda entry: None, method="PATCH", drop_response=True)
    with pytest.raises(requests.ConnectionError):
        patch_green(afd)  # the caller never sees an answer
    assert green_state(afd) == "Enabled"
    assert afd.requests()[-1]["dropped"] is True and hook.calls == 1
    assert patch_green(afd, "Disabled").status_code == 202  # once only: the next write is answered
    assert green_state(afd) == "Disabled"


@pytest.mark.parametrize("error", [RuntimeError("host killed"), SystemExit(1)])
def test_hook_that_raises_is_reported_and_the_request_still_answered(
    afd: AzureEmulator, cdn: CdnManagementClient, capsys: pytest.CaptureFixture[str], error: BaseException
) -> None:
    def hook(entry: dict[str, Any]) -> None:
        raise error

    registered = afd.on_request(hook, method="PATCH")
    origin = cdn.afd_origins.begin_update(
        RG, PROFILE, GROUP, "green", AFDOriginUpdateParameters(enabled_state="Enabled")
    ).result()
    assert origin.enabled_state == "Enabled"
    patch = next(r for r in afd.requests() if r["method"] == "PATCH")
    assert patch["status"] == 202 and type(error).__name__ in patch["hook_error"]
    assert registered.errors and "request hook raised" in capsys.readouterr().err
    assert cdn.afd_origins.get(RG, PROFILE, GROUP, "blue").enabled_state == "Enabled"  # still serving


def test_once_hook_fires_for_exactly_one_of_concurrent_requests(afd: AzureEmulator) -> None:
    calls: list[str] = []
    hook = afd.on_request(lambda entry: calls.append(entry["path"]), method="PATCH")
    threads = [threading.Thread(target=patch_green, args=(afd,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(calls) == 1 and hook.calls == 1
    assert [r["status"] for r in afd.requests()] == [202] * 8


def test_hook_filters_by_method_and_path_and_can_repeat_or_be_removed(afd: AzureEmulator) -> None:
    paths: list[str] = []
    hook = afd.on_request(lambda entry: paths.append(entry["method"]), path_pattern="origins/green$", once=False)
    requests.get(
        afd.arm_endpoint + ORIGIN_PATH.replace("green", "blue"),
        headers={"Authorization": "Bearer t"},
        verify=afd.ca_bundle,
    )
    patch_green(afd)
    patch_green(afd, "Disabled")
    assert paths == ["PATCH", "PATCH"]
    hook.remove()
    patch_green(afd)
    assert paths == ["PATCH", "PATCH"] and hook.calls == 2


def test_client_gone_while_its_write_is_in_flight_leaves_the_emulator_serving(afd: AzureEmulator) -> None:
    tls = ssl.create_default_context(cafile=afd.ca_bundle)
    client = tls.wrap_socket(socket.create_connection(("127.0.0.1", afd.port), timeout=5), server_hostname="127.0.0.1")
    killed = threading.Event()

    def kill(entry: dict[str, Any]) -> None:  # what killing the Functions host does to its connection
        client.close()
        killed.set()

    afd.on_request(kill, method="PATCH")
    body = json.dumps({"properties": {"enabledState": "Enabled"}}).encode()
    head = (
        f"PATCH {ORIGIN_PATH}?api-version=2026-10-01 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    client.sendall(head.encode() + body)
    assert killed.wait(WAIT)
    assert green_state(afd) == "Enabled"  # applied although nobody heard the answer
    assert patch_green(afd, "Disabled").status_code == 202
    assert green_state(afd) == "Disabled"
    assert [r["status"] for r in afd.requests()] == [202, 202]
