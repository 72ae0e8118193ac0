"""Notify activity: one notice to every target the environment configures for its event (Teams, Slack, webhook).

The targets, their URLs (for Teams and Slack the URL is the credential) and the webhooks' HMAC keys are read
here from the configuration and their references, used at once, and never returned: the history holds the
notice and per-target results only. A target's failure is a result, never an exception: a notification
must not fail or hold up a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, contract, lazy_import, secrets

if TYPE_CHECKING:
    from bluegreen import notify
else:
    notify = lazy_import("bluegreen.notify")


@activity(bp)
def send_notifications(notice: contract.Notice) -> contract.NotifyResult:
    return notify.send_all(notice, resolve=lambda reference: secrets.resolve(azure.clients(), reference))
