"""Pydantic models for everything the triggers accept: API bodies, AKS events, the common alert schema.

Operator bodies forbid unknown fields (a typo like `targetVerison` is a 400, not silently ignored).
Azure's payloads allow extra fields: Azure adds fields over time and must not break the webhook.
Numbers in versions and query parameters are ASCII digits only: Python's `\\d` and `int()` also take
other scripts' digits (fullwidth "1.33" passed as a version), which Kubernetes and ARM do not.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from bluegreen.arm_ids import ResourceId

_VERSION = re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?")  # fullmatch: `$` would let a trailing newline through
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
# The function key may come as `?code=` (Azure's documented way); the host checks it, the query does not.
FUNCTION_KEY_PARAMETER = "code"
AKS_EVENT_PREFIX = "Microsoft.ContainerService."
MANAGED_CLUSTER_TYPE = "microsoft.containerservice/managedclusters"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


# ---- the operator API


def version_or_latest(value: str | None) -> str | None:
    if value is None or value == "latest" or _VERSION.fullmatch(value):
        return value
    raise ValueError("must be 'latest', MAJOR.MINOR or MAJOR.MINOR.PATCH")


TargetVersion = Annotated[str | None, AfterValidator(version_or_latest)]


class _Query(_Body):
    """Query parameters: unknown ones are refused by name, except the function key (checked by the host)."""

    @model_validator(mode="before")
    @classmethod
    def _ignore_function_key(cls, params: Any) -> Any:
        if not isinstance(params, dict):
            return params
        return {k: v for k, v in params.items() if not (isinstance(k, str) and k.lower() == FUNCTION_KEY_PARAMETER)}


class StartUpgrade(_Body):
    environment: str = Field(min_length=1, max_length=64)
    target_version: TargetVersion = Field(None, alias="targetVersion", max_length=32)
    strategy: Literal["clone-then-upgrade", "create-at-target"] | None = None
    reason: str | None = Field(None, max_length=500)


class RevertRequest(_Body):
    reason: str | None = Field(None, max_length=500)


class Decision(_Body):
    comment: str | None = Field(None, max_length=1000)


class RollbackRequest(_Body):
    reason: str = Field(min_length=1, max_length=500)


class AbortRequest(_Body):
    reason: str | None = Field(None, max_length=500)


class GreenReadyRequest(_Body):
    ok: bool
    detail: str | None = Field(None, max_length=1000)


class ResolveRequest(_Body):
    reason: str = Field(min_length=1, max_length=500)


class ListQuery(_Query):
    """`GET /api/upgrades`."""

    environment: str | None = Field(None, max_length=64)
    limit: int = Field(20, ge=1, le=100)

    @field_validator("limit", mode="before")
    @classmethod
    def _ascii_number(cls, value: Any) -> Any:
        # pydantic's lax int also takes "1_0" and " 12"; a query parameter is plain digits.
        if isinstance(value, str) and not _WHOLE_NUMBER.fullmatch(value):
            raise ValueError("must be a whole number written with the digits 0-9")
        return value


class PlanQuery(_Query):
    """`GET /api/environments/{name}/plan`: the run's options a plan can be asked for."""

    target_version: TargetVersion = Field(None, alias="targetVersion", max_length=32)
    strategy: Literal["clone-then-upgrade", "create-at-target"] | None = None


# ---- AKS lifecycle events (Event Grid schema and CloudEvents, normalised)


class AksEvent(BaseModel):
    """One AKS event, whichever schema carried it. `topic` is the cluster's ARM id (CloudEvents `source`)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=256)
    topic: str = Field(min_length=1, max_length=1024)
    subject: str | None = None
    event_type: str = Field(min_length=1, max_length=256)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def short_type(self) -> str:
        return self.event_type.removeprefix(AKS_EVENT_PREFIX)

    @property
    def cluster(self) -> ResourceId | None:
        """The cluster the event is about, from the topic (the subject is only its name)."""
        try:
            rid = ResourceId.parse(self.topic)
        except ValueError:
            return None
        return rid if rid.type.lower() == MANAGED_CLUSTER_TYPE else None


class EventGridEventBody(BaseModel):
    """An Event Grid schema event as posted (one element of the array)."""

    model_config = ConfigDict(extra="allow")

    id: str
    topic: str
    subject: str
    event_type: str = Field(alias="eventType")
    event_time: datetime = Field(alias="eventTime")
    data: dict[str, Any] | None = None
    data_version: str | None = Field(None, alias="dataVersion")

    def normalised(self) -> AksEvent:
        return AksEvent(
            id=self.id, topic=self.topic, subject=self.subject, event_type=self.event_type, data=self.data or {}
        )


class CloudEventBody(BaseModel):
    """A CloudEvents 1.0 event as posted."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"]
    id: str
    source: str
    type: str
    subject: str | None = None
    time: datetime | None = None
    data: dict[str, Any] | None = None

    def normalised(self) -> AksEvent:
        return AksEvent(id=self.id, topic=self.source, subject=self.subject, event_type=self.type, data=self.data or {})


# ---- Azure Monitor common alert schema


class _AzurePayload(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class AlertEssentials(_AzurePayload):
    alert_id: str = Field(alias="alertId", min_length=1, max_length=1024)
    alert_rule: str = Field(alias="alertRule", min_length=1, max_length=512)
    # Documented as `alertRuleID`; "may not appear in all alert payloads".
    alert_rule_id: str | None = Field(None, alias="alertRuleID")
    severity: str | None = None
    signal_type: str | None = Field(None, alias="signalType")
    monitor_condition: Literal["Fired", "Resolved"] = Field(alias="monitorCondition")
    monitoring_service: str | None = Field(None, alias="monitoringService")
    alert_target_ids: list[str] = Field(default_factory=list, alias="alertTargetIDs")
    configuration_items: list[str] | None = Field(None, alias="configurationItems")
    fired_date_time: datetime | None = Field(None, alias="firedDateTime")
    resolved_date_time: datetime | None = Field(None, alias="resolvedDateTime")
    description: str | None = None


class AlertData(_AzurePayload):
    essentials: AlertEssentials
    alert_context: dict[str, Any] | None = Field(None, alias="alertContext")
    custom_properties: dict[str, Any] | None = Field(None, alias="customProperties")


class CommonAlert(_AzurePayload):
    schema_id: Literal["azureMonitorCommonAlertSchema"] = Field(alias="schemaId")
    data: AlertData
