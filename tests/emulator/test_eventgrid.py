"""Microsoft.EventGrid through azure-mgmt-eventgrid: a cluster's system topic, its event subscriptions and the
WebHook validation handshake."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.eventgrid import EventGridManagementClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.arm_helpers import FUNCTION_ID, echo_validation, webhook
from tests.emulator.conftest import RG, SUB, StaticToken, begin, client_kwargs, finish, fixture, status_document

AKS_TOPIC = "Microsoft.ContainerService.ManagedClusters"
ENDING = "Microsoft.ContainerService.ClusterSupportEnding"


@pytest.fixture
def eg(emu: AzureEmulator, clock: VirtualClock) -> EventGridManagementClient:
    return EventGridManagementClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


@pytest.fixture
def blue(emu: AzureEmulator) -> str:
    body = fixture("managed-cluster-blue.json")
    body["properties"].pop("identityProfile", None)
    emu.seed(body)
    return str(body["id"])


def topic(source: str, location: str = "eastus2", topic_type: str = AKS_TOPIC) -> dict[str, object]:
    return {"location": location, "properties": {"source": source, "topicType": topic_type}}


def webhook_subscription(url: str, **filters: object) -> dict[str, object]:
    return {
        "properties": {
            "destination": {"endpointType": "WebHook", "properties": {"endpointUrl": url}},
            "filter": {"includedEventTypes": [ENDING], **filters},
        }
    }


def _code(exc: pytest.ExceptionInfo[HttpResponseError]) -> str:
    return str(exc.value.error.code if exc.value.error else "")


def test_a_clusters_system_topic_is_created_long_running_and_listed(
    emu: AzureEmulator, clock: VirtualClock, eg: EventGridManagementClient, blue: str
) -> None:
    url = begin(eg.system_topics.begin_create_or_update, RG, "aks-nod-prod-blue-events", topic(blue))
    assert status_document(emu, url)["status"] == "InProgress"
    assert eg.system_topics.get(RG, "aks-nod-prod-blue-events").provisioning_state == "Creating"
    finish(emu, clock)
    made = eg.system_topics.get(RG, "aks-nod-prod-blue-events")
    assert made.provisioning_state == "Succeeded"
    # The service echoes the topic type and the source's provider in lower case: compare case-insensitively.
    assert made.topic_type == AKS_TOPIC.lower()
    assert made.source.lower() == blue.lower() and made.source != blue
    assert made.metric_resource_id
    assert [t.name for t in eg.system_topics.list_by_resource_group(RG)] == ["aks-nod-prod-blue-events"]
    assert [t.name for t in eg.system_topics.list_by_subscription()] == ["aks-nod-prod-blue-events"]


def test_only_one_system_topic_per_source_and_other_refusals(eg: EventGridManagementClient, blue: str) -> None:
    eg.system_topics.begin_create_or_update(RG, "blue-events", topic(blue)).result()
    with pytest.raises(HttpResponseError) as exc:
        eg.system_topics.begin_create_or_update(
            RG, "blue-events-2", topic(blue.upper().replace("SUBSCRIPTIONS", "subscriptions"))
        )
    assert _code(exc) == "InvalidRequest"
    assert "Only one system topic is allowed per source." in exc.value.error.message
    refused = [
        topic(blue, topic_type="Microsoft.Storage.StorageAccounts"),  # not the source's type
        topic(blue, topic_type="Microsoft.Nope.Things"),  # unknown
        topic(blue.replace("blue", "gone")),  # no such cluster
        topic(blue, location="westeurope"),  # not the source's region
    ]
    for body in refused:
        with pytest.raises(HttpResponseError) as exc:
            eg.system_topics.begin_create_or_update(RG, "other-events", body)
        assert _code(exc) == "InvalidRequest", body
    with pytest.raises(HttpResponseError) as exc:
        eg.system_topics.begin_create_or_update(RG, "other-events", topic(blue, topic_type="Microsoft.Nope.Things"))
    assert "Unrecognized topic type Microsoft.Nope.Things in system topic properties." in exc.value.error.message


def test_a_webhook_subscription_proves_the_endpoint_and_never_shows_its_key(
    emu: AzureEmulator, eg: EventGridManagementClient, blue: str
) -> None:
    eg.system_topics.begin_create_or_update(RG, "blue-events", topic(blue)).result()
    with webhook(echo_validation, tls=True) as receiver:
        emu.trust_webhook_ca(receiver.ca_file)
        full = f"{receiver.url}/runtime/webhooks/eventgrid?functionName=aks_lifecycle_events&code=s3cr3t"
        made = eg.system_topic_event_subscriptions.begin_create_or_update(
            RG, "blue-events", "bluegreen", webhook_subscription(full, subjectBeginsWith="aks-nod")
        ).result()
    assert made.provisioning_state == "Succeeded"
    [event] = receiver.received[0]
    assert event["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent"
    assert event["topic"].lower().endswith("/providers/microsoft.eventgrid/systemtopics/blue-events")
    assert set(event) >= {"id", "subject", "data", "eventTime", "metadataVersion", "dataVersion"}
    assert receiver.headers[0]["aeg-event-type"] == "SubscriptionValidation"
    got = eg.system_topic_event_subscriptions.get(RG, "blue-events", "bluegreen")
    assert got.destination.endpoint_base_url == f"{receiver.url}/runtime/webhooks/eventgrid"
    assert "s3cr3t" not in str(got.serialize())
    assert got.filter.included_event_types == [ENDING] and got.filter.subject_begins_with == "aks-nod"
    assert (got.event_delivery_schema, got.retry_policy.max_delivery_attempts) == ("EventGridSchema", 30)
    assert got.retry_policy.event_time_to_live_in_minutes == 1440
    assert eg.system_topic_event_subscriptions.get_full_url(RG, "blue-events", "bluegreen").endpoint_url == full
    assert [s.name for s in eg.system_topic_event_subscriptions.list_by_system_topic(RG, "blue-events")] == [
        "bluegreen"
    ]


def test_a_cloud_events_subscription_uses_the_options_handshake(
    emu: AzureEmulator, eg: EventGridManagementClient, blue: str
) -> None:
    eg.system_topics.begin_create_or_update(RG, "blue-events", topic(blue)).result()
    with webhook(tls=True) as receiver:
        emu.trust_webhook_ca(receiver.ca_file)
        body = webhook_subscription(receiver.url + "/api/events")
        body["properties"]["eventDeliverySchema"] = "CloudEventSchemaV1_0"  # type: ignore[index]
        made = eg.system_topic_event_subscriptions.begin_create_or_update(
            RG, "blue-events", "cloud-events", body
        ).result()
    assert made.provisioning_state == "Succeeded" and made.event_delivery_schema == "CloudEventSchemaV1_0"
    assert receiver.received == [] and receiver.headers[0]["webhook-request-origin"] == "eventgrid.azure.net"


@pytest.mark.parametrize(
    "answer",
    [lambda body: (200, {"validationResponse": "not-the-code"}), lambda body: (500, None), None],
    ids=["wrong-code", "error", "no-answer"],
)
def test_an_endpoint_that_does_not_answer_the_handshake_leaves_the_subscription_failed(
    emu: AzureEmulator, eg: EventGridManagementClient, blue: str, answer: object
) -> None:
    eg.system_topics.begin_create_or_update(RG, "blue-events", topic(blue)).result()
    if answer is None:
        url = "https://127.0.0.1:9/api/events"  # nothing listens there
        ca = None
    else:
        context = webhook(answer, tls=True)  # type: ignore[arg-type]
        receiver = context.__enter__()
        url, ca = receiver.url + "/api/events", receiver.ca_file
    try:
        if ca:
            emu.trust_webhook_ca(ca)
        with pytest.raises(HttpResponseError) as exc:
            eg.system_topic_event_subscriptions.begin_create_or_update(
                RG, "blue-events", "bluegreen", webhook_subscription(url)
            ).result()
    finally:
        if answer is not None:
            context.__exit__(None, None, None)
    assert "The attempt to validate the provided endpoint" in str(exc.value)
    assert "https://aka.ms/esvalidation" in str(exc.value)
    assert eg.system_topic_event_subscriptions.get(RG, "blue-events", "bluegreen").provisioning_state == "Failed"


def test_an_azure_function_destination_needs_no_handshake(
    emu: AzureEmulator, eg: EventGridManagementClient, blue: str
) -> None:
    eg.system_topics.begin_create_or_update(RG, "blue-events", topic(blue)).result()
    body = {
        "properties": {
            "destination": {"endpointType": "AzureFunction", "properties": {"resourceId": FUNCTION_ID}},
            "filter": {"includedEventTypes": [ENDING]},
        }
    }
    with pytest.raises(HttpResponseError) as exc:  # the function must exist
        eg.system_topic_event_subscriptions.begin_create_or_update(RG, "blue-events", "bluegreen", body)
    assert _code(exc) == "InvalidRequest"
    emu.seed({"type": "emulator/resource", "id": FUNCTION_ID})
    made = eg.system_topic_event_subscriptions.begin_create_or_update(RG, "blue-events", "bluegreen", body).result()
    assert made.provisioning_state == "Succeeded"
    assert made.destination.resource_id == FUNCTION_ID
    assert made.destination.max_events_per_batch == 1


def test_what_a_subscription_refuses(eg: EventGridManagementClient, blue: str) -> None:
    eg.system_topics.begin_create_or_update(RG, "blue-events", topic(blue)).result()
    refused = [
        webhook_subscription("http://127.0.0.1:7071/runtime/webhooks/eventgrid"),  # HTTPS only
        {"properties": {"destination": {"endpointType": "WebHook", "properties": {}}}},
    ]
    bad_type = webhook_subscription("https://example.invalid/x")
    bad_type["properties"]["filter"] = {"includedEventTypes": ["Microsoft.Storage.BlobCreated"]}  # type: ignore[index]
    for body in [*refused, bad_type]:
        with pytest.raises(HttpResponseError) as exc:
            eg.system_topic_event_subscriptions.begin_create_or_update(RG, "blue-events", "bluegreen", body)
        assert _code(exc) == "InvalidRequest", body
    with pytest.raises(HttpResponseError) as exc:
        eg.system_topic_event_subscriptions.begin_create_or_update(RG, "nope", "bluegreen", bad_type)
    assert _code(exc) == "ParentResourceNotFound"


def test_deleting_a_topic_takes_its_subscriptions_and_a_topic_outlives_its_cluster(
    emu: AzureEmulator, eg: EventGridManagementClient, aks: ContainerServiceClient, blue: str
) -> None:
    emu.seed({"type": "emulator/resource", "id": FUNCTION_ID})
    body = {"properties": {"destination": {"endpointType": "AzureFunction", "properties": {"resourceId": FUNCTION_ID}}}}
    eg.system_topics.begin_create_or_update(RG, "blue-events", topic(blue)).result()
    eg.system_topic_event_subscriptions.begin_create_or_update(RG, "blue-events", "bluegreen", body).result()
    eg.system_topic_event_subscriptions.begin_delete(RG, "blue-events", "bluegreen").result()
    assert list(eg.system_topic_event_subscriptions.list_by_system_topic(RG, "blue-events")) == []
    eg.system_topic_event_subscriptions.begin_create_or_update(RG, "blue-events", "bluegreen", body).result()
    # The cluster goes; its topic stays (the emulator's documented choice), still holding the source.
    aks.managed_clusters.begin_delete(RG, "aks-nod-prod-blue").result()
    assert eg.system_topics.get(RG, "blue-events").provisioning_state == "Succeeded"
    again = fixture("managed-cluster-blue.json")
    again["properties"].pop("identityProfile", None)
    emu.seed(again)
    with pytest.raises(HttpResponseError) as exc:
        eg.system_topics.begin_create_or_update(RG, "blue-events-new", topic(blue))
    assert "Only one system topic is allowed per source." in exc.value.error.message
    eg.system_topics.begin_delete(RG, "blue-events").result()
    with pytest.raises(ResourceNotFoundError):
        eg.system_topics.get(RG, "blue-events")
    assert not emu.world.arm.under(
        f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.EventGrid/systemTopics/blue-events"
    )
