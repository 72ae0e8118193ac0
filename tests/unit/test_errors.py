"""Which Azure failures are worth retrying: one table."""

import json

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.core.pipeline.transport import HttpResponse

from bluegreen.errors import PermanentError, TemporaryError, classify, is_temporary_status


@pytest.mark.parametrize(
    ("status", "temporary"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (412, False),
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (None, True),
    ],
)
def test_status_table(status, temporary):
    assert is_temporary_status(status) is temporary


class _Response(HttpResponse):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(None, None)  # type: ignore[arg-type]
        self.status_code = status
        self.reason = "reason"
        self._body = body
        self.headers = {"Content-Type": "application/json"}
        self.content_type = "application/json"

    def body(self) -> bytes:
        return self._body


IN_PROGRESS = (
    "Operation is not allowed: Another operation (Upgrading) is in progress, please wait for it to finish "
    "before starting a new operation. See https://aka.ms/aks-pending-operation for more details."
)
ALREADY_STOPPED = "managed cluster is not currently running, stopping cannot be performed"


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (400, IN_PROGRESS, PermanentError),
        (409, ALREADY_STOPPED, PermanentError),  # waiting changes nothing
        (409, IN_PROGRESS, TemporaryError),  # AKS: wait for the running operation, then try again
        (409, "managed cluster is in Provisioning State(Updating) and Power State(Running)", TemporaryError),
        (429, IN_PROGRESS, TemporaryError),
        (503, IN_PROGRESS, TemporaryError),
    ],
)
def test_arm_error_body_gives_code_and_kind(status, message, kind):
    body = json.dumps({"error": {"code": "OperationNotAllowed", "message": message}}).encode()
    error = classify(HttpResponseError(response=_Response(status, body)))
    assert isinstance(error, kind)
    assert error.code == "OperationNotAllowed"
    assert error.message == message
    assert error.status == status


def test_not_found_is_permanent_and_connection_errors_are_temporary():
    assert isinstance(classify(ResourceNotFoundError("gone")), PermanentError)
    assert isinstance(classify(ServiceRequestError("reset")), TemporaryError)
    assert isinstance(classify(ValueError("bug")), PermanentError)
