"""The dashboard in a real headless Chromium (Debian's), driven by Playwright.

Sign in, watch a volume go creating → available without reloading, open its timeline and
read the six tasks of ``volume_create_manager`` with their durations, see a rescheduled
create name the pool that failed, and see a Keystone member kept to their own project.
Every test leaves screenshots in ``test-artifacts/dashboard/`` (or
``$FIREBRICK_TEST_ARTIFACTS/dashboard/``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Service
from keystone_helpers import KeystoneEnv, assert_no_secrets, firebrick_texts, keystone_client

CHROMIUM = Path("/usr/bin/chromium")
# As root, on a machine with no network: no sandbox, and none of Chromium's background
# connections (they would be refused, many at a time).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FIREBRICK_TEST_ARTIFACTS", REPO / "test-artifacts")) / "dashboard"
TASKS = [
    "ExtractVolumeRefTask", "OnFailureRescheduleTask", "ExtractVolumeSpecTask",
    "NotifyVolumeActionTask", "CreateVolumeFromSpecTask", "CreateVolumeOnFinishTask",
]  # fmt: skip
DURATION = re.compile(r"^\d+(\.\d+)? (ms|s)$")
TIMEOUT_MS = 20_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file() or shutil.which("chromium") is None:
        _unavailable("Chromium is not installed (as root: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.set_default_timeout(TIMEOUT_MS)
    yield opened
    shot(opened, f"{request.node.name}-last")
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in_noauth(page: Any, svc: Service, project: str) -> None:
    page.goto(f"{svc.base_url}/dashboard")
    page.fill("#login-noauth-project", project)
    page.click("#login-submit")
    page.wait_for_selector("#app:not([hidden])")


def row(volume_id: str) -> str:
    return f'#volumes tr[data-volume-id="{volume_id}"]'


def open_timeline(page: Any, volume_id: str) -> None:
    page.click(row(volume_id))
    page.wait_for_selector(f'#timeline .timeline[data-volume-id="{volume_id}"] .run')


def test_a_volume_goes_live_from_creating_to_available_and_shows_its_six_tasks(start_service, page):
    svc = start_service(backends={"file-1": {"file_create_delay": "3"}})
    with svc.client() as api:
        sign_in_noauth(page, svc, api.project)
        # A marker that a reload would wipe: the status must change without one.
        page.evaluate("window.stayedOnPage = true")
        volume = api.create_volume(name="live-one", wait=None)
        page.wait_for_selector(f"{row(volume['id'])} .status.creating")
        shot(page, "01-creating")
        page.wait_for_selector(f"{row(volume['id'])} .status.available")
        assert page.evaluate("window.stayedOnPage") is True
        assert page.text_content(f"{row(volume['id'])} .name") == "live-one"
        open_timeline(page, volume["id"])

    run = page.locator('#timeline .run[data-outcome="success"]')
    assert run.count() == 1
    assert run.locator(".task-name").all_text_contents() == TASKS
    durations = run.locator(".task-duration").all_text_contents()
    assert len(durations) == 6 and all(DURATION.match(d) for d in durations), durations
    # The driver held the create for three seconds: the timeline shows it where it was.
    create = run.locator(".task", has_text="CreateVolumeFromSpecTask").locator(".task-duration")
    assert create.text_content().endswith(" s") and float(create.text_content()[:-2]) >= 3
    assert page.text_content("#whoami").endswith("admin")
    shot(page, "02-timeline")


def pin_to_bad(api: Any) -> str:
    """A volume type only the failing backend serves."""
    resp = api.post("/types", json={"volume_type": {
        "name": "only-bad", "extra_specs": {"volume_backend_name": "file-bad"}}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    return "only-bad"


def test_a_rescheduled_create_names_the_failing_pool(start_service, page):
    svc = start_service(backends={
        "file-bad": {"file_fail_create": "true", "file_capacity_gb": "1000"},
        "file-good": {"file_capacity_gb": "10"},
    })  # fmt: skip
    with svc.client() as api:
        sign_in_noauth(page, svc, api.project)
        volume = api.create_volume(name="moved")
        other = api.create_volume(name="stayed", volume_type=pin_to_bad(api), wait="error")
        page.wait_for_selector(f"{row(volume['id'])} .status.available")
        page.wait_for_selector(f"{row(other['id'])} .status.error")
        # Search by name, then filter by status: the table follows.
        page.fill("#search", "mov")
        page.wait_for_selector(row(other["id"]), state="detached")
        assert page.locator("#volumes tbody tr").count() == 1
        page.fill("#search", "")
        page.select_option("#status-filter", "error")
        page.wait_for_selector(row(volume["id"]), state="detached")
        assert page.locator("#volumes tbody tr").count() == 1
        page.wait_for_selector(f"{row(other['id'])} .status.error")
        page.select_option("#status-filter", "")
        open_timeline(page, volume["id"])
    failed = page.locator('#timeline .run[data-outcome="rescheduled"]')
    assert failed.count() == 1
    assert failed.locator(".run-host").text_content() == "on itest@file-bad#file-bad"
    reason = failed.locator(".run-reason").text_content()
    assert "itest@file-bad#file-bad" in reason and "refused" in reason, reason
    assert failed.locator('.task[data-outcome="failure"] .task-name').all_text_contents() == [
        "CreateVolumeFromSpecTask"
    ]
    done = page.locator('#timeline .run[data-outcome="success"]')
    assert done.locator(".run-host").text_content() == "on itest@file-good#file-good"
    assert done.locator(".task-name").all_text_contents() == TASKS
    # An admin also sees the pools with their bars and the services with their heartbeats.
    page.wait_for_selector('#pools .pool[data-pool="itest@file-good#file-good"] .bar .allocated')
    assert page.locator("#pools .pool").count() == 2
    page.wait_for_selector("#services tbody tr")
    assert sorted(page.locator("#services tbody tr td:first-child").all_text_contents()) == [
        "cinder-backup", "cinder-scheduler", "cinder-volume", "cinder-volume"]  # fmt: skip
    assert set(page.locator("#services .status").all_text_contents()) == {"up"}
    shot(page, "03-rescheduled")


def sign_in_keystone(page: Any, svc: Service, keystone: KeystoneEnv, project: str, role: str):
    user = keystone.user(project, role)
    page.goto(f"{svc.base_url}/dashboard")
    page.fill("#login-username", user.name)
    page.fill("#login-password", user.password)
    page.fill("#login-project", project)
    page.click("#login-submit")
    page.wait_for_selector("#app:not([hidden])")
    page.wait_for_selector("#volumes tbody tr")


def test_keystone_members_see_their_own_project_and_admins_every_one(
    keystone: KeystoneEnv, keystone_service: Service, page
):
    made = {}
    for project in ("alpha", "beta"):
        project_id = keystone.project_id(project)
        token = keystone.token(project, "member")
        with keystone_client(keystone_service, token, project_id) as member:
            made[project] = member.create_volume(name=f"{project}-dashboard")["id"]

    page.goto(f"{keystone_service.base_url}/dashboard")
    page.fill("#login-username", keystone.user("beta", "member").name)
    page.fill("#login-password", "not-the-password")
    page.fill("#login-project", "beta")
    page.click("#login-submit")
    page.wait_for_selector("#login-error:has-text('not valid')")
    assert page.evaluate("sessionStorage.length") == 0

    sign_in_keystone(page, keystone_service, keystone, "beta", "member")
    page.wait_for_selector(row(made["beta"]))
    assert page.locator(row(made["alpha"])).count() == 0
    assert page.is_hidden("#pools-panel") and page.is_hidden("#services-panel")
    assert "beta" in page.text_content("#whoami")
    open_timeline(page, made["beta"])
    assert page.locator("#timeline .run .task-name").all_text_contents() == TASKS
    assert page.locator("#timeline .run-host").count() == 0  # pools are for admins
    token = page.evaluate("JSON.parse(sessionStorage.getItem('firebrick.dashboard.session')).token")
    shot(page, "04-keystone-member")

    page.click("#logout")
    sign_in_keystone(page, keystone_service, keystone, "alpha", "admin")
    page.wait_for_selector(row(made["alpha"]))
    page.wait_for_selector(row(made["beta"]))
    assert page.is_visible("#pools-panel") and page.is_visible("#services-panel")
    shot(page, "05-keystone-admin")
    admin_token = page.evaluate(
        "JSON.parse(sessionStorage.getItem('firebrick.dashboard.session')).token"
    )
    # The passwords typed and the tokens handed out never reach a log.
    assert_no_secrets(firebrick_texts(keystone_service), {token, admin_token, *keystone.secrets})
