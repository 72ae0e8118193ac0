"""The Durable HTTP management API, driven by the real DurableOrchestrationClient and by plain HTTP."""

import asyncio
from datetime import timedelta

import azure.durable_functions as df
from azure.durable_functions.models.utils import http_utils

from tests.host.conftest import MGMT, call, start


def run_client(host, scenario):
    """Run `scenario(client)` with the real client; close the SDK's global session on the way out."""

    async def main():
        try:
            return await scenario(df.DurableOrchestrationClient(host.binding_json))
        finally:
            await http_utils._close_session()

    return asyncio.run(main())


def test_real_client_starts_watches_raises_and_reads_output(make_host):
    host = make_host(clock=None)  # real clock: the approval timer is an hour away

    async def scenario(client):
        iid = await client.start_new("approval", "run-1", None)
        running = await client.get_status(iid)
        while running.runtime_status != df.OrchestrationRuntimeStatus.Running or not running.custom_status:
            await asyncio.sleep(0.01)
            running = await client.get_status(iid)
        await client.raise_event(iid, "Approval", {"by": "carol"})
        for _ in range(500):
            done = await client.get_status(iid)
            if done.runtime_status == df.OrchestrationRuntimeStatus.Completed:
                return running, done
            await asyncio.sleep(0.01)
        raise AssertionError("never completed")

    running, done = run_client(host, scenario)
    assert running.custom_status == {"stage": "waiting"}
    # The client double-encodes: the host records the body text, the app decodes the str once.
    assert done.output == {"approved": {"by": "carol"}}
    raised = next(e for e in host.history("run-1") if e["EventType"] == 15)
    assert raised["Input"] == '"{\\"by\\": \\"carol\\"}"'


def test_real_client_lists_filters_terminates_and_purges(make_host):
    host = make_host()

    async def scenario(client):
        a = await client.start_new("waiter", "keep-a")
        b = await client.start_new("waiter", "other-b")
        for _ in range(500):
            statuses = [await client.get_status(i) for i in (a, b)]
            if all(s.runtime_status == df.OrchestrationRuntimeStatus.Running for s in statuses):
                break
            await asyncio.sleep(0.01)
        everything = await client.get_status_all()
        prefixed = await client.get_status_by(instance_id_prefix="keep-")
        await client.terminate(a, "operator said stop")
        for _ in range(500):
            if (await client.get_status(a)).runtime_status == df.OrchestrationRuntimeStatus.Terminated:
                break
            await asyncio.sleep(0.01)
        terminated = await client.get_status(a)
        running_only = await client.get_status_by(runtime_status=[df.OrchestrationRuntimeStatus.Running])
        purged = await client.purge_instance_history(a)
        gone = await client.get_status(a)
        return everything, prefixed, terminated, running_only, purged, gone

    everything, prefixed, terminated, running_only, purged, gone = run_client(host, scenario)
    assert {s.instance_id for s in everything} == {"keep-a", "other-b"}
    assert [s.instance_id for s in prefixed] == ["keep-a"]
    assert terminated.output == "operator said stop"
    assert [s.instance_id for s in running_only] == ["other-b"]
    assert purged.instances_deleted == 1
    assert not gone


def test_status_codes_follow_the_host(make_host):
    host = make_host()
    base = f"{host.base_url}{MGMT}"
    assert call("GET", f"{base}/instances/nope")[0] == 404
    assert call("POST", f"{base}/instances/nope/raiseEvent/X", {})[0] == 404
    assert call("POST", f"{base}/instances/nope/terminate?reason=x")[0] == 404
    assert call("POST", f"{base}/orchestrators/not_a_function")[0] == 400
    iid = start(host, "waiter", instance_id="busy")
    status, headers, body = call("GET", f"{base}/instances/{iid}")
    assert status == 202 and headers["Location"].endswith(f"/instances/{iid}?taskHub=TestHubName&connection=Storage")
    assert headers["Retry-After"] == "10" and body["runtimeStatus"] in ("Pending", "Running")
    assert call("POST", f"{base}/orchestrators/waiter/busy")[0] == 409
    assert call("DELETE", f"{base}/instances/{iid}")[0] == 412
    assert (
        call(
            "POST",
            f"{base}/instances/{iid}/raiseEvent/X",
            raw=b"x=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )[0]
        == 400
    )
    assert call("POST", f"{base}/instances/{iid}/terminate?reason=enough")[0] == 202
    final = host.wait_for(iid)
    assert final["runtimeStatus"] == "Terminated" and final["output"] == "enough"
    status, _, body = call("GET", f"{base}/instances/{iid}?showHistory=true")
    assert status == 200 and body["historyEvents"][-1]["EventType"] == "ExecutionCompleted"
    assert call("POST", f"{base}/instances/{iid}/raiseEvent/X", {})[0] == 410
    assert call("POST", f"{base}/instances/{iid}/terminate")[0] == 410
    # A finished id may be started again.
    assert call("POST", f"{base}/orchestrators/chain/busy")[0] == 202
    assert host.wait_for("busy")["output"][0] == "Hello Tokyo!"


def test_list_filters_by_created_time_and_shows_input_on_request(make_host):
    host = make_host()
    first = start(host, "chain", {"tag": "early"})
    host.wait_for(first)
    host.clock.advance(3600)
    second = start(host, "chain", {"tag": "late"})
    host.wait_for(second)
    cutoff = (host.clock.now() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    _, _, late = call("GET", f"{host.base_url}{MGMT}/instances/?createdTimeFrom={cutoff}&showInput=true")
    assert [(s["instanceId"], s["input"]) for s in late] == [(second, {"tag": "late"})]
    _, _, plain = call("GET", f"{host.base_url}{MGMT}/instances/?runtimeStatus=Completed")
    assert {s["instanceId"] for s in plain} == {first, second} and plain[0]["input"] is None
