"""The dashboard in headless Chromium (Debian's `chromium`, which .ci/run installs) against the local stack: create
the seed's task and watch its bar reach 100 %, see a task's lake table and its commits, cancel a realtime task,
see the charts. Screenshots are kept in
``test-artifacts/dashboard/`` (or ``$SYNCHUB_ARTIFACTS``)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import jwt
import pytest
import requests

from tests.e2e.conftest import ROOT, follow
from tests.e2e.test_auth_over_http import demo_token, secured  # noqa: F401 - a stack with AuthMode cognito, for sign-in

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("SYNCHUB_ARTIFACTS") or ROOT / "test-artifacts") / "dashboard"

if CHROMIUM is None:
    pytest.skip("no chromium on this machine (apt-get install chromium; .ci/run does)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@contextmanager
def watched_page(browser) -> Iterator[object]:
    """A fresh browser context's page that fails the test on a script error or a CSP violation."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    # The stack serves the deployed Content-Security-Policy; anything the page does against it is a failure.
    opened.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield opened
    context.close()
    assert not problems, problems  # no script errors, no CSP violations


@pytest.fixture
def page(browser, stack):
    with watched_page(browser) as opened:
        opened.goto(stack.url("/"))
        yield opened


def create_from_the_form(page, task_type: str = "full_sync", batch_size: str = "") -> None:
    """Create a task on ds_123 with the page's form; the page moves to the new task."""
    page.wait_for_selector("#create-task")
    page.select_option("#create-task select[name=source]", "ds_123")
    page.select_option("#create-task select[name=type]", task_type)
    page.fill("#create-task input[name=batch_size]", batch_size)
    page.click("#create-task button[type=submit]")
    page.wait_for_url("**/#/tasks/task_*")


def test_create_the_seed_task_and_watch_its_bar_reach_100(page):
    create_from_the_form(page, batch_size="500")
    bar = page.locator("#task-progress")
    seen = set()
    for _ in range(600):  # up to 60 s
        seen.add(bar.get_attribute("aria-valuenow"))
        if page.locator("#task-figures [data-status=success]").count():
            break
        page.wait_for_timeout(100)
    assert bar.get_attribute("aria-valuenow") == "100"
    assert page.locator("#task-figures").inner_text().startswith("success 100% · 10,000 / 10,000 rows")
    assert len(seen) >= 2, seen  # the bar moved while the page watched, not only at the end
    # what the task wrote: its file (a download link) and its first rows
    page.wait_for_selector("#output-preview tbody tr")
    files = page.locator("#output-files tbody tr")
    assert files.count() == 1 and files.first.locator("a").inner_text() == "part-00001.jsonl.gz"
    assert "X-Amz-Signature=" in files.first.locator("a").get_attribute("href")
    assert page.locator("#output-preview tbody tr").count() == 5
    assert page.locator("#output-preview tbody tr").first.locator("td").first.inner_text() == "1"
    page.screenshot(path=str(ARTIFACTS / "task-finished.png"), full_page=True)
    page.click("text=← tasks")
    page.wait_for_selector("#tasks tbody tr")
    assert page.locator("#tasks tbody tr").first.locator("[data-status]").inner_text() == "success"
    page.screenshot(path=str(ARTIFACTS / "tasks.png"))


def test_a_task_names_its_table_and_the_table_shows_its_commits(page, stack):
    created = requests.post(
        stack.url("/api/sync/tasks"), json={"data_source_id": "ds_pg_demo", "task_type": "full_sync"}, timeout=10
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    assert follow(stack, task_id)[-1]["status"] == "success"
    page.goto(stack.url(f"/#/tasks/{task_id}"))
    page.wait_for_selector("#output-table a")
    assert page.locator("#output-table a").inner_text() == "synchub.ds_pg_demo"
    assert "10,000 rows added" in page.locator("#output-table").inner_text()
    page.click("#output-table a")
    page.wait_for_selector("#table-commits tbody tr")
    latest = page.locator("#table-commits tbody tr").first
    assert task_id in latest.inner_text() and "10,000" in latest.inner_text()
    assert page.locator("#table-preview tbody tr").count() == 5
    assert "decimal(10,2)" in page.locator("#table-columns").inner_text()
    page.screenshot(path=str(ARTIFACTS / "table.png"), full_page=True)
    page.click("nav >> text=Tables")
    page.wait_for_selector("#tables tbody tr")
    assert "synchub.ds_pg_demo" in page.locator("#tables").inner_text()


def test_cancel_a_realtime_task(page):
    create_from_the_form(page, task_type="realtime_sync")
    page.wait_for_selector("#cancel:not([disabled])")
    page.click("#cancel")
    page.wait_for_selector("#task-figures [data-status=cancelled]", timeout=60_000)
    assert page.locator("#cancel").is_disabled()
    page.screenshot(path=str(ARTIFACTS / "task-cancelled.png"), full_page=True)


def test_pause_and_resume_a_realtime_task(page):
    create_from_the_form(page, task_type="realtime_sync")
    page.wait_for_selector("#pause:not([disabled])")
    page.click("#pause")
    page.wait_for_selector("#task-figures [data-status=paused]", timeout=60_000)
    assert page.locator("#pause").inner_text() == "Resume" and not page.locator("#cancel").is_disabled()
    page.screenshot(path=str(ARTIFACTS / "task-paused.png"), full_page=True)
    page.click("#pause")
    page.wait_for_selector("#task-figures [data-status=running]", timeout=60_000)
    page.click("#cancel")
    page.wait_for_selector("#task-figures [data-status=cancelled]", timeout=60_000)


@pytest.fixture(scope="module")
def finished_task(stack) -> dict:
    """A seed task synced to success on this module's stack (the charts need one, whatever ran before)."""
    created = requests.post(
        stack.url("/api/sync/tasks"), json={"data_source_id": "ds_123", "task_type": "full_sync"}, timeout=10
    )
    assert created.status_code == 201, created.text
    final = follow(stack, created.json()["id"])[-1]
    assert final["status"] == "success", final
    return final


def test_statistics_charts_render(page, finished_task):
    page.click("nav >> text=Statistics")
    page.wait_for_selector("#chart-status rect", state="attached", timeout=60_000)
    success = page.locator("#chart-status rect[data-label=success]")
    assert int(success.get_attribute("data-value")) >= 1
    assert page.locator("#chart-daily-tasks rect").count() == 7  # one bar per day of the window
    assert page.locator("#chart-daily-rows rect[data-value='0']").count() < 7  # rows on some day
    page.select_option("#window", "30")
    playwright_api.expect(page.locator("#chart-daily-tasks rect")).to_have_count(
        30
    )  # no eval: the page's CSP forbids it
    page.screenshot(path=str(ARTIFACTS / "statistics.png"), full_page=True)
    page.click("nav >> text=Data sources")
    page.wait_for_selector("#sources tbody tr")
    assert "ds_123" in page.locator("#sources").inner_text()


def test_signing_in_through_the_user_pool_with_pkce(browser, secured):
    with watched_page(browser) as page:
        page.goto(secured.url("/#/statistics"))
        page.wait_for_selector("#sign-in-needed")  # the API said 401
        assert page.locator("#sign-out").is_hidden()
        page.click("#sign-in")
        page.wait_for_url("**/_local/authorize?*")
        assert "code_challenge_method=S256" in page.url and "client_id=synchub-local-dashboard" in page.url
        page.fill("input[name=username]", "dana@example.com")
        page.click("button[type=submit]")
        page.wait_for_selector("#chart-status")  # back where sign-in started, now allowed
        assert page.url == secured.url("/#/statistics")  # the code is not left in the address bar
        claims = jwt.decode(page.evaluate("localStorage.getItem('synchub.token')"), options={"verify_signature": False})
        assert (claims["username"], claims["client_id"]) == ("dana@example.com", "synchub-local-dashboard")
        page.wait_for_selector("#live.on")  # the WebSocket took the same token
        page.screenshot(path=str(ARTIFACTS / "signed-in.png"), full_page=True)
        page.click("#sign-out")
        page.wait_for_selector("#sign-in-needed")
        assert page.evaluate("localStorage.getItem('synchub.token')") is None


def test_a_sign_in_answer_this_browser_did_not_ask_for_is_refused(browser, secured):
    with watched_page(browser) as page:
        page.goto(secured.url("/?code=stolen-code&state=forged"))
        page.wait_for_selector("#toast.error")
        assert "not for this browser's request" in page.locator("#toast").inner_text()
        page.wait_for_selector("#sign-in-needed")
        assert page.evaluate("localStorage.getItem('synchub.token')") is None
        assert "code=" not in page.url


def test_schedules_page_pauses_resumes_and_runs_a_schedule_now(page, stack):
    created = requests.post(
        stack.url("/api/sync/schedules"),
        json={
            "id": "sch_browser",
            "name": "nightly",
            "data_source_id": "ds_123",
            "task_type": "full_sync",
            "expression": "cron(0 2 * * ? *)",
            "timezone": "Europe/Paris",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    page.click("nav >> text=Schedules")
    row = page.locator("#schedules tr[data-schedule=sch_browser]")
    row.wait_for()
    assert "cron(0 2 * * ? *) (Europe/Paris)" in row.inner_text()
    row.locator("button.state").click()
    page.wait_for_selector("#schedules tr[data-schedule=sch_browser] [data-state=paused]")
    page.locator("#schedules tr[data-schedule=sch_browser] button.state").click()
    page.wait_for_selector("#schedules tr[data-schedule=sch_browser] [data-state=enabled]")
    page.screenshot(path=str(ARTIFACTS / "schedules.png"), full_page=True)
    page.locator("#schedules tr[data-schedule=sch_browser] button.trigger").click()
    page.wait_for_url("**/#/tasks/task_*")
    page.wait_for_selector("#task-figures [data-status=success]", timeout=60_000)
    requests.delete(stack.url("/api/sync/schedules/sch_browser"), timeout=10)


def test_a_token_in_a_link_does_not_sign_anyone_in(browser, secured):
    """A link carrying ?token= (someone else's, or a stale one) is ignored: signing in is the user's act."""
    with watched_page(browser) as page:
        page.goto(secured.url(f"/?token={demo_token(secured)}#/statistics"))
        page.wait_for_selector("#sign-in-needed")  # the API said 401: the link's token was not used
        assert page.evaluate("localStorage.getItem('synchub.token')") is None


def test_swagger_ui_works_under_its_strict_content_security_policy(browser, stack):
    """The API docs page runs only the API's own scripts (no inline one) under default-src 'none'."""
    with watched_page(browser) as page:
        page.goto(stack.url("/api/sync/docs"))
        page.wait_for_selector(".swagger-ui .info .title")
        assert "SyncHub" in page.locator(".swagger-ui .info .title").inner_text()
        page.wait_for_selector(".opblock-tag")  # the operations, rendered from the fetched document
