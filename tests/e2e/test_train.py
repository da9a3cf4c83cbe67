"""The train page in Chromium with real workers: a quick run to the end, a longer one stopped, both kept.

Also measures how long an epoch's row takes from landing in the store to showing on the chart."""
from __future__ import annotations

import re
import time

from playwright.sync_api import expect

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


def start(page, epochs: int, images: str = "300") -> int:
    """Fill the quick settings, start, and return the run id the page put into the URL."""
    fill(page, "Training images", images)
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


def seconds_left(text: str) -> float | None:
    """'… · about 1 min 05 s left' -> 65; 'under a second left' -> 0; None when no time is given."""
    if "under a second left" in text:
        return 0.0
    match = re.search(r"(?:about|roughly) (?:(\d+) min )?(\d+) s left", text)
    return int(match.group(1) or 0) * 60 + int(match.group(2)) if match else None


def open_train(page, app_url) -> None:
    page.goto(app_url)
    page.get_by_text("Why accuracy?").wait_for()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train", exact=True).click()
    page.locator("input[aria-label='Epochs (at most)']").wait_for()
    wait_for_app(page)


def test_a_blank_or_wordy_learning_rate_is_kept_named_and_starts_nothing(page, app_url, e2e_home):
    store = Store(e2e_home / "runs.db")
    open_train(page, app_url)
    before = store.count()
    box = page.locator("input[aria-label='Learning rate']")
    box.fill("")
    box.press("Tab")
    page.get_by_role("button", name="Start training").click()
    error = page.get_by_text("Learning rate: the box is empty; type a number, e.g. 0.001")
    expect(error).to_be_visible()
    wait_for_app(page)
    assert box.input_value() == "" and "run=" not in page.url and store.count() == before
    box.fill("abc")
    box.press("Tab")
    page.get_by_role("button", name="Start training").click()
    wordy = page.get_by_text("Learning rate: 'abc' is not a number; type e.g. 0.001")
    expect(wordy).to_be_visible()
    wait_for_app(page)
    assert box.input_value() == "abc" and store.count() == before  # what was typed stays; nothing was queued
    box.fill("0.001")
    epochs = page.locator("input[aria-label='Epochs (at most)']")
    epochs.fill("3")
    epochs.press("Enter")  # with every box good, Enter in one still does not press "Start training"
    page.wait_for_timeout(1500)
    wait_for_app(page)
    assert store.count() == before and "run=" not in page.url
    expect(page.get_by_text("Model summary · 202,735 parameters")).to_be_visible()  # still the user's network
    wordy.evaluate("e => e.scrollIntoView({block: 'center'})")
    screenshot(page, "train-learning-rate-words")


def test_the_time_left_counts_down_between_epochs_and_a_queued_run_waits(page, app_url, e2e_home):
    store = Store(e2e_home / "runs.db")
    open_train(page, app_url)
    choose(page, "Model", "Single hidden layer")
    # a demo's pace: epochs of 5 s whatever the machine, so the page (polling every 2 s) reads each one twice or more
    fill(page, "Demo pace (s an epoch)", "5")
    slow = start(page, epochs=30)
    assert store.get(slow).run_config().pace_s == 5.0
    fill(page, "Run name", "waits its turn")
    waiting = start(page, epochs=30)
    expect(page.locator(PROGRESS)).to_have_text("Queued · waiting for a free training slot, #1 in line")
    page.goto(page.url.replace(f"run={waiting}", f"run={slow}"))
    seen: dict[str, list[float]] = {}  # 'Epoch k of 30' -> the seconds left read while it was current
    deadline = time.time() + 240
    while time.time() < deadline and not any(len(set(v)) >= 2 for k, v in seen.items() if k != "Epoch 0 of 30"):
        text = progress_text(page)
        epoch_now, left = re.search(r"Epoch \d+ of 30", text), seconds_left(text)
        if epoch_now and left is not None:
            seen.setdefault(epoch_now.group(0), []).append(left)
        page.wait_for_timeout(500)
    counted = {k: v for k, v in seen.items() if k != "Epoch 0 of 30" and len(set(v)) >= 2}
    assert counted, f"the time left never changed within an epoch: {seen}"
    for values in counted.values():
        assert values == sorted(values, reverse=True) and values[-1] < values[0]  # down, never up
    rows = store.epochs(slow)
    began = [r["ended_at"] - r["seconds"] for r in rows]  # (the row is written a moment after the epoch ends)
    assert all(b - a >= 5 - 0.3 for a, b in zip(began, began[1:])), began  # each epoch began 5 s after the last
    assert all(r["seconds"] < 5 for r in rows[1:])  # while the epochs themselves were quicker
    shoot_run(page, slow, "train-eta-counting-down")
    for run_id in (slow, waiting):
        store.request_stop(run_id) if store.get(run_id).status == "running" else store.mark_stopped(run_id, "test over")
