"""Long-running writes of the arm_store providers (Event Grid, Network): one operation each, polled the ARM way.

A PUT answers 201 (created) or 200 (updated) with the body in a transitional provisioningState and
`Azure-AsyncOperation` pointing at the subscription-level operation status (ops_api); a DELETE answers 202 with
`Location` (operation result: 202 while running, 204 when done). "An asynchronous operation initially returns an
HTTP status code of either 201 (Created) or 202 (Accepted)" and "returns 200 (OK) ... for a PUT ... that updates"
(learn.microsoft.com/azure/azure-resource-manager/management/async-operations). The SDKs' ARMPolling then reads
the resource (PUT) or nothing (DELETE).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from local.azure_emulator.lro import Operation, iso, lro_headers
from local.azure_emulator.protocol import Request
from local.azure_emulator.world import World

Effect = Callable[[Operation], None]


def _nothing(op: Operation) -> None:
    return None


def start(
    world: World,
    resource_id: str,
    kind: str,
    sub: str,
    namespace: str,
    location: str,
    seconds: float,
    done: Effect,
    failed: Effect = _nothing,
) -> Operation:
    return world.ops.start(
        f"{resource_id}/{kind}",
        world.now(),
        seconds,
        done,
        failed,
        subscription=sub,
        namespace=namespace,
        location=location or "global",
        retry_after=1,
    )


def put_headers(op: Operation, req: Request, api: str) -> dict[str, str]:
    return lro_headers(op, req.base_url, req.query.get("api-version", api))


def delete_headers(op: Operation, req: Request, api: str) -> dict[str, str]:
    version = req.query.get("api-version", api)
    return {
        "Location": f"{req.base_url}{op.result_path()}?api-version={version}",
        "Azure-AsyncOperation": f"{req.base_url}{op.status_path()}?api-version={version}",
        "Retry-After": str(op.retry_after),
    }


def system_data(previous: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    created = (previous or {}).get("createdAt") or iso(now)
    return {
        "createdBy": (previous or {}).get("createdBy", "emulator"),
        "createdByType": "Application",
        "createdAt": created,
        "lastModifiedBy": "emulator",
        "lastModifiedByType": "Application",
        "lastModifiedAt": iso(now),
    }


def provision(
    world: World,
    stored: dict[str, Any],
    existing: dict[str, Any] | None,
    sub: str,
    namespace: str,
    location: str,
    seconds: float,
) -> Operation:
    """Store a body as Creating (or Updating) and start the operation that ends it Succeeded or Failed.

    For the resources whose PUT is a long-running operation with `properties.provisioningState` (Event Grid
    topics and subscriptions): the state is what a GET shows while the operation runs. Call with world.lock held.
    """
    stored["systemData"] = system_data((existing or {}).get("systemData"), world.settle())
    stored["properties"]["provisioningState"] = "Updating" if existing else "Creating"
    world.arm.put(stored)

    def finish(state: str) -> Effect:
        def effect(op: Operation) -> None:
            stored["properties"]["provisioningState"] = state

        return effect

    return start(world, stored["id"], "write", sub, namespace, location, seconds, finish("Succeeded"), finish("Failed"))
