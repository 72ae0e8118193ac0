"""The notice to a team's deployment pipeline: JSON, signed with HMAC-SHA256, POSTed to its URL.

Signature: header `X-BlueGreen-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` (GitHub's webhook
convention), and the body carries `sentAt` and the run id, so a receiver can refuse replays. The
pipeline deploys to green, then calls the callback `POST /api/upgrades/{id}/green-ready` with `{ok, detail}`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import requests

from bluegreen.arm_ids import ResourceId
from bluegreen.azure import AzureSettings
from bluegreen.contract import PipelineNotice
from bluegreen.errors import PermanentError, TemporaryError

SIGNATURE_HEADER = "X-BlueGreen-Signature-256"
TIMEOUT_SECONDS = 15


def callback_url(settings: AzureSettings, run_id: str) -> str:
    if not settings.app_base_url:
        raise PermanentError("AppUrlUnknown", "WEBSITE_HOSTNAME is not set: the pipeline cannot be given a callback")
    return f"{settings.app_base_url}/api/upgrades/{run_id}/green-ready"


def notice_body(notice: PipelineNotice, callback: str) -> dict[str, Any]:
    green = ResourceId.parse(notice.green_id)
    return {
        "event": "green-created",
        "runId": notice.run_id,
        "environment": notice.environment,
        "green": {
            "id": notice.green_id,
            "name": notice.green_name,
            "resourceGroup": green.resource_group,
            "subscription": green.subscription,
        },
        "blue": {"id": notice.blue_id},
        "targetVersion": notice.target_version,
        "deadline": notice.deadline,
        "callback": {"method": "POST", "url": callback, "body": {"ok": "bool", "detail": "string"}},
        "sentAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def sign(key: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()


def verify(key: str, raw: bytes, signature: str) -> bool:
    """For receivers (and the rehearsal's pipeline): a constant-time comparison."""
    return hmac.compare_digest(sign(key, raw), signature or "")


def send_notice(notice: PipelineNotice, key: str, callback: str) -> int:
    raw = json.dumps(notice_body(notice, callback)).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(key, raw)}
    try:
        response = requests.post(notice.url, data=raw, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise TemporaryError("PipelineUnreachable", f"{notice.url}: {type(exc).__name__}") from exc
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TemporaryError("PipelineUnavailable", f"{notice.url} answered {response.status_code}")
    if response.status_code >= 400:
        raise PermanentError("PipelineRefused", f"{notice.url} answered {response.status_code}")
    return response.status_code
