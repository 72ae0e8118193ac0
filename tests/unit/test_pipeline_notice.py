"""The notice to a team's pipeline: signed so a receiver can tell it from a forgery."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from bluegreen.contract import PipelineNotice
from bluegreen.pipeline import SIGNATURE_HEADER, notice_body, sign, verify
from local.rehearsal.pipeline import PipelineReceiver

GREEN = "/subscriptions/s/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop-2"


def notice(url: str = "https://ci.example/hook") -> PipelineNotice:
    return PipelineNotice(
        url=url,
        secret="appsetting:KEY",
        run_id="shop-3",
        environment="shop",
        green_id=GREEN,
        green_name="aks-shop-2",
        resource_group="rg-shop",
        blue_id=GREEN.replace("aks-shop-2", "aks-shop-1"),
        target_version="1.34.2",
        deadline="2026-11-20T07:00:00Z",
    )


def test_the_body_names_green_the_run_and_the_callback_and_never_the_key():
    body = notice_body(notice(), "https://app.example/api/upgrades/shop-3/green-ready")
    assert body["green"] == {"id": GREEN, "name": "aks-shop-2", "resourceGroup": "rg-shop", "subscription": "s"}
    assert body["runId"] == "shop-3" and body["callback"]["url"].endswith("/shop-3/green-ready")
    assert "appsetting" not in json.dumps(body)


def test_a_signature_verifies_only_with_the_same_key_and_body():
    raw = b'{"runId": "shop-3"}'
    signature = sign("k1", raw)
    assert signature.startswith("sha256=") and verify("k1", raw, signature)
    assert not verify("k2", raw, signature)
    assert not verify("k1", raw + b" ", signature)
    assert not verify("k1", raw, "")


def _post(url: str, raw: bytes, signature: str) -> int:
    request = urllib.request.Request(url, data=raw, method="POST", headers={SIGNATURE_HEADER: signature})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_rehearsals_pipeline_refuses_a_notice_with_a_bad_hmac_and_keeps_a_good_one():
    receiver = PipelineReceiver().start()
    try:
        raw = json.dumps(notice_body(notice(receiver.url), "http://127.0.0.1/cb")).encode()
        assert _post(receiver.url, raw, sign("not-the-key", raw)) == 401
        assert _post(receiver.url, raw.replace(b"shop-3", b"shop-4"), sign(receiver.key, raw)) == 401
        assert receiver.notices == [] and receiver.refused == 2
        assert _post(receiver.url, raw, sign(receiver.key, raw)) == 202
        assert receiver.take()["runId"] == "shop-3"
    finally:
        receiver.stop()
