"""Notifications through the whole stack: the app's activity posts to the rehearsal's Teams, Slack and webhook
channels (local/rehearsal/notifications.py) at each moment of a real run on the local host."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bluegreen.notify import SIGNATURE_HEADER, verify_delivery
from bluegreen.pipeline import verify
from local.rehearsal.notifications import CHANNELS, PUBLIC_URL


def test_a_happy_run_tells_every_channel_awaiting_approval_then_the_switch_then_completed(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="happy")
    assert report["outcome"] == "completed"
    receiver = rehearsal.notifications
    for channel in CHANNELS:
        assert receiver.events(channel) == ["awaiting-approval", "switch", "completed"], channel
    assert receiver.refused == []
    link = f"{PUBLIC_URL}/api/ui/runs/{report['instance_id']}"
    by_channel = {(r.channel, r.event): r for r in receiver.received}
    teams = by_channel["teams", "awaiting-approval"].body["attachments"][0]["content"]
    assert teams["type"] == "AdaptiveCard" and teams["actions"][0]["url"] == link
    slack = by_channel["slack", "awaiting-approval"].body
    assert slack["blocks"][-1]["elements"][0]["url"] == link
    hook = by_channel["hook", "awaiting-approval"].body
    approval = next(e for e in report["timeline"] if e["phase"] == "approval")
    assert hook["link"] == link and approval["detail"] == f"waiting for approval until {hook['deadline']}"
    assert by_channel["hook", "completed"].body["outcome"] == "completed"


def test_an_error_spike_tells_every_channel_the_rollback_and_its_metrics_trigger(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="error-spike")
    assert report["outcome"] == "rolled_back"
    receiver = rehearsal.notifications
    for channel in CHANNELS:
        assert receiver.events(channel) == ["awaiting-approval", "switch", "rollback", "ended"], channel
    rollbacks = {r.channel: r for r in receiver.received if r.event == "rollback"}
    assert (rollbacks["hook"].body["trigger"], rollbacks["hook"].body["reason"]) == ("metrics", report["reason"])
    assert all(r.line.startswith("rolled back to blue (metrics): 5xx") for r in rollbacks.values())
    assert [r.body["outcome"] for r in receiver.received if r.channel == "hook" and r.event == "ended"] == [
        "rolled_back"
    ]


def test_every_webhook_delivery_verifies_with_the_key_and_a_tampered_one_does_not(run_rehearsal):
    _, rehearsal = run_rehearsal(scenario="happy")
    receiver = rehearsal.notifications
    hooks = [r for r in receiver.received if r.channel == "hook"]
    assert hooks and not receiver.refused
    for delivery in hooks:
        assert verify(receiver.key, delivery.raw, delivery.headers[SIGNATURE_HEADER])
        assert delivery.headers["X-BlueGreen-Event"] == delivery.event
        sent = datetime.strptime(delivery.body["sentAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert verify_delivery(receiver.key, delivery.raw, delivery.headers, sent) is None
        tampered = json.dumps({**delivery.body, "runId": "nod-prod-2"}).encode()
        assert tampered != delivery.raw and not verify(receiver.key, tampered, delivery.headers[SIGNATURE_HEADER])
        # The same delivery again is a replay the receiver refuses.
        assert verify_delivery(receiver.key, delivery.raw, delivery.headers, sent, {delivery.body["deliveryId"]})
