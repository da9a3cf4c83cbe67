"""The train page in Chromium with real workers: a quick run to the end, a longer one stopped, both kept.

Also measures how long an epoch's row takes from landing in the store to showing on the chart."""
from __future__ import annotations

import re
import time

from fmnist.store import Store
from tests.e2e.conftest import open_select, screenshot, wait_for_app

USER = "e2e-trainer"
POINTS = "() => { const t = document.querySelector('.js-plotly-plot .scatterlayer .trace');" \
         " return t ? t.querySelectorAll('.point').length : 0 }"  # points of the train-accuracy line
PROGRESS = "[data-testid='stProgress']"


def fill(page, label: str, value: str) -> None:
    box = page.locator(f"input[aria-label='{label}']")
    box.fill(value)
    box.press("Tab")


def choose(page, label: str, option: str) -> None:
    open_select(page, label)
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def start(page, epochs: int) -> int:
    """Fill the quick settings, start, and return the run id the page put into the URL."""
    fill(page, "Training images", "300")
    fill(page, "Epochs (at most)", str(epochs))
    before = page.url
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(lambda url: "run=" in url and url != before, timeout=30_000)
    return int(page.url.split("run=")[1].split("&")[0])


def progress_text(page) -> str:
    return page.locator(PROGRESS).inner_text() if page.locator(PROGRESS).count() else ""


def shoot_run(page, run_id: int, name: str) -> None:
    """Screenshot with the run's heading at the top: Streamlit scrolls inside the page, so a full-page
    shot would show only the form."""
    page.get_by_role("heading", name=f"#{run_id} ").first.evaluate("e => e.scrollIntoView()")
    page.wait_for_timeout(300)
    screenshot(page, name)


def watch_epochs(page, store: Store, run_id: int, until: float) -> dict[int, float]:
    """Poll store and chart together until the run has ended; returns seconds from each epoch's row
    landing in the store to its point appearing on the chart."""
    landed, shown, delays = {}, {}, {}
    while time.time() < until:
        now = time.time()
        for n in range(1, len(store.epochs(run_id)) + 1):
            landed.setdefault(n, now)
        for n in range(1, page.evaluate(POINTS) + 1):
            shown.setdefault(n, time.time())
        delays = {n: shown[n] - landed[n] for n in shown if n in landed}
        if store.get(run_id).status != "running" and len(delays) == len(landed) and "Finished" in progress_text(page):
            return delays
        page.wait_for_timeout(100)
    raise AssertionError(f"run {run_id} did not finish in time: {progress_text(page)!r}")


def test_train_watch_stop_and_reopen(page, app_url, e2e_home):
    store = Store(e2e_home / "runs.db")
    page.goto(app_url)  # the entry page first: a fresh server given a deep link runs views/ without app.py
    page.get_by_text("Why accuracy?").wait_for()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train", exact=True).click()
    page.locator("input[aria-label='Epochs (at most)']").wait_for()
    wait_for_app(page)
    fill(page, "Your name", USER)
    choose(page, "Model", "Single hidden layer")
    assert page.get_by_text("202,735").first.is_visible()  # the notebook's parameter count

    quick = start(page, epochs=2)
    delays = watch_epochs(page, store, quick, until=time.time() + 120)
    assert sorted(delays) == [1, 2]
    print(f"\nepoch row in store -> point on chart: {', '.join(f'{d:.2f} s' for d in delays.values())}")
    assert max(delays.values()) < 6  # polled every 2 s
    assert page.get_by_text("Finished after 2 epochs").is_visible()
    assert page.evaluate(POINTS) == 2
    shoot_run(page, quick, "train-finished")

    long = start(page, epochs=100)
    page.locator(PROGRESS).filter(has_text=re.compile(r"Epoch ([2-9]|\d\d) of 100")).wait_for(timeout=90_000)
    page.wait_for_function(f"() => ({POINTS})() >= 2")
    shoot_run(page, long, "train-running")
    page.get_by_role("button", name="Stop this run").click()
    page.get_by_text("Stopped: stopped by request").wait_for(timeout=30_000)
    page.wait_for_function("t => (document.querySelector(\"input[aria-label='Open an earlier run']\") || {}).value"
                           " ?.startsWith(t)", arg=f"#{long} Single hidden layer · stopped")  # the full redraw
    page.wait_for_function(f"() => ({POINTS})() == {store.get(long).epochs}")  # the page redrew after stopping
    assert store.get(long).status == "stopped" and 2 <= store.get(long).epochs < 100
    shoot_run(page, long, "train-stopped")

    page.reload()
    wait_for_app(page)
    page.get_by_text(f"#{long} Single hidden layer · stopped").first.wait_for()  # the URL keeps the run open
    open_select(page, "Open an earlier run")
    page.get_by_role("option", name=f"#{quick} Single hidden layer · finished").wait_for()
    options = page.get_by_role("option").all_inner_texts()
    assert any(o.startswith(f"#{quick} Single hidden layer · finished") and USER in o for o in options)
    assert any(o.startswith(f"#{long} Single hidden layer · stopped") and USER in o for o in options)
