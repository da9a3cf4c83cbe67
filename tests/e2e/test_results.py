"""The results page in Chromium: download the CSV, evaluate a real model, click a confusion-matrix cell."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from fmnist import presets, runner, settings
from fmnist.config import ModelSpec
from fmnist.data import CLASS_NAMES
from fmnist.store import Store
from tests.e2e.conftest import screenshot, wait_for_app


@pytest.fixture
def trained(e2e_home, monkeypatch):
    """Two finished runs in the served app's store: the majority baseline and a 10-tree forest on 300 images."""
    monkeypatch.setenv("FMNIST_HOME", str(e2e_home))
    lab = settings.load()
    lab.ensure_dirs()
    store = Store(lab.db_path)  # the app holds its own connection; WAL lets both write
    ids = []
    for config in (presets.config_for("majority", name="e2e majority"),
                   presets.config_for("forest", name="e2e forest", subset=300,
                                      model=ModelSpec("forest", n_estimators=10))):
        run_id = store.create_run(config, status="running")  # not queued: the app must not start a worker for it
        assert runner.execute(store, lab, run_id) == "finished"
        ids.append(run_id)
    yield store, ids
    store.close()


def test_download_csv_and_open_a_confusion_cell(page, app_url, trained, tmp_path):
    store, (majority_id, forest_id) = trained
    page.goto(app_url)  # the entry page first: a fresh server given a deep link runs views/ without app.py
    page.get_by_text("Why accuracy?").wait_for()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Results", exact=True).click()
    page.get_by_test_id("stDataFrame").first.wait_for()
    page.get_by_role("button", name="Download this table as CSV").wait_for()
    page.get_by_role("button", name="Rename").wait_for()
    wait_for_app(page)
    screenshot(page, "results")
    # the table fits the page: no column hidden off to the right
    widths = page.evaluate("() => { const s = document.querySelector('[data-testid=stDataFrame] .dvn-scroller');"
                           " return [s.scrollWidth, s.clientWidth]; }")
    assert widths[0] <= widths[1] + 1, widths

    with page.expect_download() as info:
        page.get_by_role("button", name="Download this table as CSV").click()
    rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert rows[0][:6] == ["Best", "Run", "Model", "Train accuracy", "Val accuracy", "Test accuracy"]
    by_id = {int(r[1]): r for r in rows[1:]}
    assert by_id[forest_id][2] == "e2e forest" and by_id[majority_id][2] == "e2e majority"
    assert float(by_id[forest_id][4]) == pytest.approx(store.get(forest_id).val_acc)
    assert by_id[forest_id][0] == "★ best val" or store.best_val().id != forest_id
    assert by_id[forest_id][5] == "locked: choose on validation"  # nobody has opened its test evaluation yet

    page.get_by_role("tab", name="Final model on the test set").click()
    page.get_by_label("Final model, chosen on validation accuracy (best first)").first.wait_for()
    page.get_by_label("Final model, chosen on validation accuracy (best first)").click()
    page.get_by_role("option", name=f"#{forest_id} e2e forest", exact=False).click()
    # the choice is in the link; the URL changes after the rerun the click starts, which may not have begun yet
    page.wait_for_function("id => location.search.includes('model=' + id) && location.search.includes('tab=Final')",
                           arg=forest_id)
    page.reload()
    page.get_by_role("button", name=f"Evaluate run #{forest_id} on the test set").wait_for()  # kept after a reload
    page.get_by_text(f"Run #{forest_id}'s test accuracy is still locked").wait_for()
    page.get_by_role("button", name=f"Evaluate run #{forest_id} on the test set").click()
    page.get_by_text("has been evaluated on the test set 1 time(s)").wait_for()
    wait_for_app(page)
    cm = np.array(store.evaluation(forest_id)["confusion"])
    assert store.get(forest_id).test_views == 1

    # Click the busiest off-diagonal cell: its centre inside the plot area (Plotly's drag layer).
    off = cm.copy()
    np.fill_diagonal(off, -1)
    true, pred = np.unravel_index(int(off.argmax()), off.shape)
    chart = page.locator(".js-plotly-plot").filter(has_text="Confusion matrix").first
    chart.scroll_into_view_if_needed()
    area = chart.locator(".nsewdrag").first.bounding_box()
    x = area["x"] + (pred + 0.5) * area["width"] / 10
    y = area["y"] + (true + 0.5) * area["height"] / 10
    page.mouse.move(x, y)  # Plotly picks the point under the pointer on hover; the click then selects it
    page.mouse.click(x, y)
    page.get_by_text(f"{cm[true, pred]} test images", exact=False).first.wait_for(timeout=20_000)
    wait_for_app(page)
    chosen = page.evaluate("() => [...document.querySelectorAll('[data-testid=stSelectbox]')]"
                           ".map(e => e.innerText.split('\\n')[0] + '=' + e.querySelector('input').value)")
    assert f"True class={CLASS_NAMES[true]}" in chosen and f"Predicted class={CLASS_NAMES[pred]}" in chosen
    gallery = page.locator(".js-plotly-plot").filter(
        has_text=f"{CLASS_NAMES[true]} mistaken for {CLASS_NAMES[pred]}").first
    gallery.scroll_into_view_if_needed()
    titles = gallery.locator(".annotation-text").all_text_contents()
    assert len(titles) == min(24, cm[true, pred])
    assert all(t.startswith(CLASS_NAMES[true]) and f"→ {CLASS_NAMES[pred]} " in t for t in titles)
    boxes = [a.bounding_box() for a in gallery.locator("g.annotation").all()
             if "→" in (a.text_content() or "")]
    for i, a in enumerate(boxes):  # no two captions overlap
        for b in boxes[i + 1:]:
            apart = a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"] or \
                a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
            assert apart, (a, b)
    page.set_viewport_size({"width": 1400, "height": 2400})  # Streamlit scrolls inside: a tall window shows it all
    chart.scroll_into_view_if_needed()
    screenshot(page, "results-confusion")


def test_compare_labels_points_by_id(page, app_url, trained):
    store, (majority_id, forest_id) = trained
    page.goto(app_url + "/results?tab=Compare")
    page.get_by_text("Validation accuracy against").wait_for()
    page.get_by_test_id("stRadio").locator("label").filter(has_text="seconds").click()  # baselines have no params
    scatter = page.locator(".js-plotly-plot").filter(has_text="Validation accuracy vs Seconds").first
    scatter.wait_for()
    wait_for_app(page)
    scatter.scroll_into_view_if_needed()
    screenshot(page, "results-compare")
    tags = [t.strip() for t in scatter.locator("g.textpoint").all_text_contents()]
    assert f"#{forest_id}" in tags and all(t.startswith("#") for t in tags)  # short tags; the names are in the hover
    screenshot(page, "results-compare")
