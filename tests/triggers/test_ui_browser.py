"""The web pages in a real browser (Debian's Chromium, driven by Playwright): an approver approves from the run
page and the run completes; the initiator is told why she cannot; another site's form is refused.

Easy Auth's sign-in is stood in for by its headers (the same `principal_headers` the API tests send),
injected into every request of a browser context. `BLUEGREEN_SCREENSHOTS=1` (`make screenshots`) also
writes the pages to docs/screenshots/.
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.triggers.conftest import ALICE, BOB, ROOT, Stack, principal_headers
from tests.triggers.test_ui import Hold, held_at_approval
from triggers import ui_csrf

CHROMIUM = Path("/usr/bin/chromium")
# Debian's browser, headless, talking to nothing but the pages under test.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium: bash scripts/install-chromium.sh"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (requirements-dev.txt)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Held:
    def __init__(self, hold: Hold) -> None:
        self.stack, self.run_id, self.release = hold.stack, hold.run_id, hold.release
        self.page_url = f"{hold.stack.host.base_url}/api/ui/runs/{hold.run_id}"


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Held]:
    """One run awaiting approval (four-eyes, alice started it) for the whole module: the clock holds still."""
    stack = Stack(
        tmp_path_factory.mktemp("ui"), approval="manual", four_eyes=True, app_settings={ui_csrf.KEY_SETTING: "ui-key"}
    )
    try:
        with held_at_approval(stack, user=ALICE) as hold:
            yield Held(hold)
    finally:
        stack.close()


def signed_in(browser: Any, user: str) -> Any:
    context = browser.new_context(extra_http_headers=principal_headers(user), viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    return context


def screenshot(page_or_part: Any, name: str) -> None:
    """A whole page, or one part of it (a locator)."""
    if os.environ.get("BLUEGREEN_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        whole = {"full_page": True} if hasattr(page_or_part, "goto") else {}
        page_or_part.screenshot(path=str(SCREENSHOTS / name), **whole)


def awaiting_approval(stack: Stack, run_id: str) -> bool:
    return (stack.status(run_id).get("customStatus") or {}).get("awaiting") == "approval"


def test_the_environments_page_shows_what_is_live_and_links_the_run(browser: Any, held: Held) -> None:
    context = signed_in(browser, BOB)
    page = context.new_page()
    page.goto(f"{held.stack.host.base_url}/api/ui")
    env = page.locator(f"#env-{held.stack.env}")
    assert held.stack.estate.blue_name in env.locator(".live").inner_text()
    assert "1.31.8" in env.locator(".live").inner_text()
    assert "green" in env.locator(".idle").inner_text()  # the run's green, in the idle slot
    assert "signed in as bob@example.com" in page.locator("header").inner_text()
    screenshot(page, "environments.png")
    page.locator(f"table.runs a:text-is('{held.run_id}')").click()
    page.wait_for_url(held.page_url)
    assert page.locator("h1").inner_text() == f"Run {held.run_id}"
    context.close()


def test_the_initiator_sees_why_she_may_not_approve(browser: Any, held: Held) -> None:
    context = signed_in(browser, ALICE)
    page = context.new_page()
    page.goto(held.page_url)
    assert page.locator("#approve").count() == 0 and page.locator("#reject").count() == 0
    why = page.locator("#why-approve").inner_text()
    assert "you started this run; four-eyes needs someone else" in why
    assert page.locator("#abort").is_visible()  # operators (default: anyone) may still abort
    screenshot(page.locator("#actions"), "run-initiator-actions.png")
    context.close()


class _Attacker(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: Any) -> None:
        pass


def test_another_sites_form_is_refused_even_with_a_valid_token(browser: Any, held: Held) -> None:
    context = signed_in(browser, BOB)  # bob is signed in; another site's page posts to the app in his browser
    page = context.new_page()
    page.goto(held.page_url)
    token = page.locator("input[name=token_approve]").input_value()  # as strong as forgery gets: bob's own
    _Attacker.page = (
        f'<form id="f" method="post" action="{held.page_url}/approve">'
        f'<input type="hidden" name="token_approve" value="{token}"><input name="comment" value="forged"></form>'
        "<script>document.getElementById('f').submit()</script>"
    ).encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with page.expect_response(f"{held.page_url}/approve") as posted:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert posted.value.status == 403
        assert posted.value.request.headers["origin"] == f"http://127.0.0.1:{server.server_address[1]}"
        assert "CrossSiteRequest" in page.locator("main").inner_text()
    finally:
        server.shutdown()
        server.server_close()
    assert awaiting_approval(held.stack, held.run_id)  # not approved
    context.close()


def test_an_approver_approves_from_the_run_page_and_the_run_completes(browser: Any, held: Held) -> None:
    context = signed_in(browser, BOB)
    page = context.new_page()
    page.goto(held.page_url)
    assert page.locator("#phase").inner_text() == "approval"
    verification = page.locator("#verification")
    assert "passed" in verification.locator("h2").inner_text()
    assert "1.34.2" in verification.locator("table.kv").inner_text()
    assert "4 of blue's workloads compared" in verification.locator(".parity").inner_text()
    assert "answered 200 (expected 200)" in verification.locator(".smoke").inner_text()
    assert "kubernetesVersion" in page.locator("#plan table.diff").inner_text()
    assert page.locator("#approve").is_visible() and page.locator("#reject").is_visible()
    assert page.locator("#abort").is_visible() and page.locator("#rollback").count() == 0
    screenshot(page, "run-awaiting-approval.png")

    page.fill("#comment", "verified on the page")
    page.click("#approve")
    page.wait_for_url(held.page_url)
    assert "Approved: the run took your decision" in page.locator(".flash").inner_text()
    assert page.locator("#approve").count() == 0  # the run no longer accepts an approval

    started = time.monotonic()
    held.release()
    output = held.stack.finish(held.run_id)["output"]
    assert output["outcome"] == "completed"
    assert (output["approval"]["by"], output["approval"]["comment"]) == (BOB, "verified on the page")
    # The open page follows by itself (its script polls the run and reloads once the run has finished).
    page.locator("#runtime", has_text="Completed").wait_for(timeout=15_000)
    assert "approved by bob@example.com" in page.locator(".decision").inner_text()
    assert time.monotonic() - started < 15
    context.close()
