"""The web app in a real browser: headless Chromium from the distribution (`make browser` installs the
Debian package), driven by Playwright's Python package. Agents are scripted; the human seat is the test.

Screenshots go to test-output/ (gitignored): app-doctor.png and app-patient.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app_support import PATIENT_SAYS, launch, make_bank

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[1] / "test-output"
DOCTOR_SCRIPT = ["ASK: Where exactly is the pain?", "DIAGNOSIS: Pneumonia; Pleural effusion"]
TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing: `make browser` installs the "
        "Debian packages chromium and chromium-driver (needs root or sudo)",
    ),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    bank = make_bank(root / "data")
    app = launch(root, bank, doctor_script=DOCTOR_SCRIPT)
    yield app, bank
    app.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def _choose_case(page, case_id: str) -> None:
    page.locator("#case-choice input").click()
    page.get_by_role("option", name=case_id, exact=True).click()


def _seats(page, wanted: set[str]) -> None:
    for seat in ("doctor", "patient", "measurement"):
        box = page.locator("#seats").get_by_label(seat, exact=True)
        box.check() if seat in wanted else box.uncheck()


def test_doctor_seat_in_the_browser(served, page):
    app, bank = served
    case = bank[0]
    page.goto(app.url)
    _choose_case(page, case.id)
    _seats(page, {"doctor"})
    page.locator("#start").click()

    page.locator("#doctor-panel").first.wait_for(state="visible")
    page.locator("#doctor-text textarea").fill("How long have you had this?")
    page.locator("#ask").click()
    chat = page.locator("#encounter-chat")
    chat.get_by_text(PATIENT_SAYS).wait_for()

    page.reload()  # the thread id lives in the browser's storage: the encounter comes back
    chat.get_by_text(PATIENT_SAYS).wait_for()
    page.locator("#doctor-panel").first.wait_for(state="visible")

    page.locator("#doctor-text textarea").fill("chest x-ray")
    page.locator("#request-image").click()
    image = chat.locator("img").first
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") > 0
    page.locator("#retrieval-gallery img").first.wait_for()

    page.locator("#differential textarea").fill(f"1. {case.diagnosis.name}\n2. Pneumonia")
    page.locator("#diagnose").click()
    result = page.locator("#result")
    result.get_by_text("Result: Correct").wait_for()
    assert case.diagnosis.name in result.inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "app-doctor.png"), full_page=True)


def test_patient_seat_in_the_browser(served, page):
    app, bank = served
    page.goto(app.url)
    _choose_case(page, bank[1].id)
    _seats(page, {"patient"})
    page.locator("#start").click()

    page.locator("#reply-panel").first.wait_for(state="visible")
    page.locator("#reply-request").get_by_text("Where exactly is the pain?").wait_for()
    assert not page.locator("#doctor-panel").first.is_visible()
    page.locator("#reply-text textarea").fill("On the right side, when I breathe in.")
    page.locator("#send").click()

    page.locator("#result").get_by_text("Result:").wait_for()
    chat = page.locator("#encounter-chat")
    assert "On the right side, when I breathe in." in chat.inner_text()
    assert "Patient (you)" in chat.inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "app-patient.png"), full_page=True)
