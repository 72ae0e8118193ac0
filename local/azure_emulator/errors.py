"""ARM error responses: every failure leaves the emulator as {"error": {"code", "message"}}."""

from __future__ import annotations

from datetime import datetime


class ArmError(Exception):
    """An error the handler turns into an ARM error body with this status."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None, target: str | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.target = target  # the property the error is about, as ARM's error body names it

    def body(self) -> dict[str, dict[str, str]]:
        error = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


def not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found.",
    )


def bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


# AKS's 409 for a write while another operation runs, in the three wordings of "Symptoms" on
# learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/operationnotallowed
# (the operation named as the provisioning state it gives: Creating, Upgrading, Updating, ...).
_PENDING = (
    "please wait for it to finish before starting a new operation. "
    "See https://aka.ms/aks-pending-operation for more details."
)


def busy(operation: str, running_pool: str | None = None, pool_write: bool = False) -> ArmError:
    """Another operation runs on the cluster, or on one of its agent pools (`running_pool`)."""
    if running_pool is None:
        text = f"Operation is not allowed: Another operation ({operation}) is in progress, {_PENDING}"
    elif pool_write:
        text = f"Operation is not allowed: Another agentpool operation ({operation}) is in progress, {_PENDING}"
    else:
        text = (
            f"Managed cluster operation is not allowed: Another operation ({operation}) is in progress "
            f"on agent pool ({running_pool}), {_PENDING}"
        )
    return ArmError(409, "OperationNotAllowed", text)


def power_busy(action: str, provisioning: str, power: str, started: datetime, now: datetime) -> ArmError:
    """Start or stop while another operation runs: the same page's "Solution 1" shows this wording for
    `az aks start` during an update ("... starting cannot be performed The previous operation ...")."""
    seconds = max(int((now - started).total_seconds()), 0)
    elapsed = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return ArmError(
        409,
        "OperationNotAllowed",
        f"managed cluster is in Provisioning State({provisioning}) and Power State({power}), {action} cannot be "
        f"performed The previous operation started at '{started.strftime('%Y-%m-%dT%H:%M:%SZ')}' and elapsed "
        f"time is: '{elapsed}' (RFC3339 format)",
    )


def not_running(action: str) -> ArmError:
    """Stop of a stopped cluster: the same page's "Solution 2" ("managed cluster is not currently running,
    stopping cannot be performed"). Waiting does not fix this one.

    The same answer, naming the action, for any other write to a stopped cluster: "You can only perform start or
    delete operations on a stopped AKS cluster. To perform other operations, like scaling or upgrading, you need to
    start your cluster first" (learn.microsoft.com/azure/aks/start-stop-cluster, "About the cluster stop/start
    feature"). AKS documents no other wording for those, so this is the documented refusal of a cluster that is
    not running, with the action it refuses (updating, upgrading, scaling, ...)."""
    return ArmError(
        409, "OperationNotAllowed", f"managed cluster is not currently running, {action} cannot be performed"
    )


def already_in_power_state(action: str, provisioning: str, power: str) -> ArmError:
    """Start of a running cluster: "If you're executing an operation on a cluster that's already in the desired
    state, the "OperationNotAllowed" error can occur" (the same page's "Solution 2"). AKS's wording for a power
    action the cluster's power state refuses, as AKS answered a stop of a stopped cluster: "managed cluster is in
    Provisioning State(Succeeded) and Power State(Stopped), stopping cannot be performed" (github.com/MicrosoftDocs/
    azure-docs/issues/85161); "Solution 1" shows the same form, with the running operation added, for `az aks
    start`. Waiting does not fix this one either."""
    return ArmError(
        409,
        "OperationNotAllowed",
        f"managed cluster is in Provisioning State({provisioning}) and Power State({power}), {action} cannot be "
        "performed",
    )
