"""Open the Inside page in Chromium with a finished small CNN in the store: Grad-CAM, filters and the
feature maps of every convolution, each with the sentence that says what it shows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from fmnist import data, labels, predict, settings as settings_mod, store as store_mod
from fmnist.config import ConvBlock, ModelSpec
from fmnist.data import CLASS_NAMES
from tests.e2e.conftest import open_select, screenshot, wait_for_app
from tests.test_predict import fit
from tests.views.test_inside_page import add_finished_run

TWO_CONV = ModelSpec("cnn", conv=(ConvBlock(16, 3, 2), ConvBlock(16, 3, 0)), dense=(64,))


@pytest.fixture
def cnn_run(e2e_home, monkeypatch):
    """A small two-convolution CNN trained here (1 epoch, 3,000 images), finished in the served app's store."""
    monkeypatch.setenv("FMNIST_HOME", str(e2e_home))
    ws = settings_mod.load()
    ws.ensure_dirs()
    split = data.load_split(ws)
    model = fit(TWO_CONV, split.x_train[:3000], split.y_train[:3000], epochs=1)
    store = store_mod.Store(ws.db_path)
    run = add_finished_run(store, model, TWO_CONV, ws.models_dir, name="Inside test CNN")
    yield run, model, split
    store.delete(run.id)
    Path(run.model_path).unlink(missing_ok=True)
    store.close()


def test_a_cnns_filters_feature_maps_and_grad_cam_with_their_explanations(page, app_url, cnn_run):
    run, model, split = cnn_run
    page.set_viewport_size({"width": 1400, "height": 2400})  # the whole page in one screenshot
    page.goto(app_url)
    wait_for_app(page)
    page.get_by_text("Why accuracy?").wait_for()
    page.locator("[data-testid='stSidebarNav']").get_by_text("Inside", exact=True).click()
    page.get_by_role("heading", name="Inside a network").wait_for()
    open_select(page, "Model")
    page.get_by_role("option", name=labels.model_choice(run), exact=True).click()
    wait_for_app(page)
    open_select(page, "Class")
    page.get_by_role("option", name="Trouser", exact=True).click()
    wait_for_app(page)

    row = int(np.flatnonzero(split.y_test == 1)[0])
    page.get_by_text(f"Test image {row}: Trouser", exact=True).wait_for()
    probs = predict.predict(model, split.x_test[row])
    top = CLASS_NAMES[int(probs.argmax())]
    page.get_by_text(f"The model says {top}, {probs.max():.0%}").wait_for()
    page.get_by_text(f"Grad-CAM for “{top}”: the last convolution's maps").wait_for()
    page.get_by_text("The first convolution's 16 filters, each 3×3 weights").wait_for()
    page.get_by_text("Convolution 1 of 2: 16 feature maps of 26×26").wait_for()
    page.get_by_text("Convolution 2 of 2: 16 feature maps of 11×11").wait_for()
    titles = ["Grad-CAM: where it looks", "First layer: filters", "Convolution 1: 16 maps of 26×26",
              "Convolution 2: 16 maps of 11×11"]
    # retried: while the last rerun's figures replace the first ones, a chart can briefly stand twice
    expect(page.locator(".js-plotly-plot .gtitle")).to_have_text(titles, timeout=60_000)
    wait_for_app(page)
    screenshot(page, "inside")
