"""ARM error responses: every failure leaves the emulator as {"error": {"code", "message"}}."""

from __future__ import annotations


class ArmError(Exception):
    """An error the handler turns into an ARM error body with this status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


def not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found.",
    )


def bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def busy(resource: str, operation: str) -> ArmError:
    return ArmError(
        409,
        "OperationNotAllowed",
        f"Operation is not allowed because there's an in progress {operation} operation on {resource}.",
    )
