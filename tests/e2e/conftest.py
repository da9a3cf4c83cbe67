"""Browser tests: the real app under `streamlit run`, driven by Playwright in Debian's Chromium.

Screenshots land in test-artifacts/ (git-ignored) for a person to look at."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.cleanup import end_active_runs
from tests.servers import REPO, streamlit_app

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("FMNIST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory) -> Path:
    """The workspace the served app uses; tests may pre-fill its store."""
    home = tmp_path_factory.mktemp("e2e-home")
    cache = Path(os.environ.get("FMNIST_E2E_CACHE", REPO / ".fmnist" / "cache"))
    if (cache / "fashion-mnist-v1.npz").exists():  # reuse a built dataset cache: saves seconds, changes nothing
        (home / "cache").mkdir(parents=True, exist_ok=True)
        shutil.copy(cache / "fashion-mnist-v1.npz", home / "cache")
    return home


@pytest.fixture(scope="session")
def app_url(e2e_home):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium for the browser tests")
    try:
        with streamlit_app(e2e_home, e2e_home / "streamlit.log") as url:
            yield url
    finally:
        end_active_runs(e2e_home)  # its workers lead their own sessions and outlive it


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def wait_for_app(pg) -> None:
    """Wait until Streamlit has finished running the page script."""
    pg.wait_for_selector("[data-testid='stApp']")
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
                         " || !document.querySelector('[data-testid=\"stStatusWidget\"]')"
                         ".innerText.includes('Running')",
                         timeout=60_000)


def open_select(pg, label: str) -> None:
    """Open a selectbox's list. Playwright scrolls the box into view and clicks while the page is still
    moving, and Streamlit's list closes on scroll: scroll first, let it settle, then click (again if needed)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = pg.get_by_role("combobox", name=label, exact=True)
    box.scroll_into_view_if_needed()
    for _ in range(3):
        pg.wait_for_timeout(300)
        box.click()
        try:
            pg.wait_for_function("e => e.getAttribute('aria-expanded') == 'true'", arg=box.element_handle(),
                                 timeout=3_000)
            return
        except PlaywrightTimeout:  # the list closed again
            continue
    raise AssertionError(f"the {label!r} selectbox did not open")


def screenshot(pg, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path
