"""Sweeps, continued runs and seed spread in Chromium, with real workers started by the app's supervisor:
a 2-trial grid sweep on parallel coordinates, "Continue 2 more epochs" drawing one history, and "Repeat with
2 seeds" drawing a band on the Results page."""
from __future__ import annotations

import pytest

from fmnist import jobs, presets, settings as settings_mod, sweep_spec, sweep_store, sweeps
from fmnist.store import Store
from tests.e2e.conftest import screenshot, wait_for_app
from tests.waiting import wait_for

TINY = dict(subset=500, epochs=2, batch_size=64)
AXIS_TITLES = ("() => [...document.querySelectorAll('.js-plotly-plot .parcoords text.axis-title')]"
               ".map(t => t.textContent)")
POINTS = ("k => { const plot = [...document.querySelectorAll('.js-plotly-plot')].find(p => p.textContent.includes(k));"
          " if (!plot) return 0; const t = plot.querySelector('.scatterlayer .trace');"
          " return t ? t.querySelectorAll('.point').length : 0 }")


@pytest.fixture(scope="module")
def lab(e2e_home):
    """(store, settings) of the served app's workspace."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FMNIST_HOME", str(e2e_home))
        s = settings_mod.load()
    store = Store(e2e_home / "runs.db")
    yield store, s
    store.close()


def wait_until(predicate, what: str):
    return wait_for(predicate, 420.0, 0.5, what)


def boot(page, app_url) -> None:
    """The entry page first (it starts the server's supervisor; a fresh server given a deep link skips app.py)."""
    page.goto(app_url)
    page.get_by_text("Why accuracy?").wait_for()


@pytest.fixture(scope="module")
def finished_run(lab, browser, app_url):
    store, s = lab
    context = browser.new_context()
    boot(context.new_page(), app_url)
    run_id = jobs.submit(presets.config_for("mlp1", name="e2e base", user="e2e-sweeper", **TINY), store, s)
    wait_until(lambda: not store.get(run_id).active, what=f"run {run_id} ending")
    context.close()
    assert store.get(run_id).status == "finished", store.get(run_id).error
    return store.get(run_id)


def test_a_sweep_on_parallel_coordinates(page, app_url, lab):
    store, s = lab
    spec = sweep_spec.make_spec(presets.config_for("mlp1", user="e2e-sweeper", **TINY),
                            grid={"learning_rate": [0.001, 0.01]})
    sweep_id = sweeps.create(store, s, spec, name="e2e lr sweep")
    boot(page, app_url)
    page.goto(f"{app_url}/sweeps?sweep={sweep_id}")
    page.get_by_role("heading", name=f"#{sweep_id} e2e lr sweep").wait_for()
    wait_until(lambda: sweep_store.get_sweep(store, sweep_id).status == "done", what="the sweep finishing")
    page.get_by_text("done · grid sampler").wait_for(timeout=60_000)  # the page has seen the last trial told
    page.get_by_text("Best: trial").first.wait_for(timeout=60_000)  # the sweep is done: not "so far"
    wait_for_app(page)
    page.wait_for_function(f"() => ({AXIS_TITLES})().length >= 2")
    # a rerun can keep the previous figure on screen beside the new one for a moment: same axes, twice
    assert list(dict.fromkeys(page.evaluate(AXIS_TITLES))) == ["Learning rate", "Val accuracy"]
    # the grid's values on the learning-rate axis (a tick, or the label plotly puts at an axis's end)
    texts = "() => [...document.querySelectorAll('.js-plotly-plot .parcoords text')].map(t => t.textContent)"
    page.locator(".js-plotly-plot .parcoords").first.scroll_into_view_if_needed()
    screenshot(page, "sweep-parallel-coordinates")
    try:
        page.wait_for_function(f"() => ({texts})().includes('0.001') && ({texts})().includes('0.01')", timeout=15_000)
    finally:
        print(page.evaluate(texts))
    best = max(store.runs(sweep_id=sweep_id), key=lambda r: r.val_acc)
    assert page.get_by_text(f"(run #{best.id}), validation accuracy {best.val_acc:.4f}").is_visible()


def test_continue_draws_one_history(page, app_url, lab, finished_run):
    store, s = lab
    boot(page, app_url)
    page.goto(f"{app_url}/train?run={finished_run.id}")
    page.get_by_role("button", name="Continue 5 more epochs").wait_for()
    box = page.locator("input[aria-label='More epochs']")
    box.fill("2")
    box.press("Tab")
    wait_for_app(page)
    page.get_by_role("button", name="Continue 2 more epochs").click()
    page.wait_for_url(lambda url: f"run={finished_run.id}" not in url and "run=" in url, timeout=30_000)
    child_id = int(page.url.split("run=")[1].split("&")[0])
    assert store.get(child_id).parent_id == finished_run.id
    wait_until(lambda: not store.get(child_id).active, what=f"continued run {child_id} ending")
    assert store.get(child_id).status == "finished", store.get(child_id).error
    heading = "the whole history"
    try:
        page.wait_for_function(f"() => ({POINTS})('{heading}') >= 4", timeout=60_000)
    except Exception:
        screenshot(page, "continued-run-debug")
        print(page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                            ".map(p => p.textContent.slice(0, 300))"))
        raise
    assert [e["epoch"] for e in store.epochs(child_id)] == [3, 4]
    assert page.get_by_text(f"continued as #{child_id}").first.is_visible()
    plot = page.locator(".js-plotly-plot", has_text=heading).first  # a rerun can show the old chart beside the new
    plot.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    screenshot(page, "continued-run-history")


def test_repeat_with_seeds_draws_a_band(page, app_url, lab, finished_run):
    store, s = lab
    boot(page, app_url)
    page.goto(f"{app_url}/train?run={finished_run.id}")
    box = page.locator("input[aria-label='Other seeds']")
    box.fill("2")
    box.press("Tab")
    wait_for_app(page)
    page.get_by_role("button", name="Repeat with 2 seeds").click()
    page.wait_for_url(lambda url: f"run={finished_run.id}" not in url, timeout=30_000)
    group = wait_until(lambda: store.get(finished_run.id).group_key, what="the group key")
    members = [r for r in store.runs() if r.group_key == group]
    assert len(members) == 3
    wait_until(lambda: all(not store.get(r.id).active for r in members), what="the seeds finishing")
    page.goto(f"{app_url}/results")
    page.get_by_role("heading", name="Repeated with other seeds").wait_for()
    page.get_by_text("e2e base (3 runs): mean of 3 seeds").first.wait_for(timeout=60_000)
    assert page.get_by_text("e2e base (3 runs): ± 1 std").first.is_visible()
    page.get_by_role("heading", name="Repeated with other seeds").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    screenshot(page, "seed-band")
