"""The Inside page under AppTest: no run, an MLP's weights, a CNN on a test image chosen by class,
the Sketch page's drawing, an out-of-range choice."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fmnist import artifacts, inside, predict
from fmnist.config import ConvBlock, ModelSpec, RunConfig
from fmnist.data import CLASS_NAMES
from tests.test_predict import TINY_MLP, fit
from tests.views.conftest import texts

REPO = Path(__file__).resolve().parents[2]
HARNESS = f"""
import streamlit as st
st.navigation([st.Page({str(REPO / "views/inside.py")!r}, default=True),
               st.Page({str(REPO / "views/train.py")!r})]).run()
"""
TWO_CONV = ModelSpec("cnn", conv=(ConvBlock(8, 3, 2), ConvBlock(8, 3, 0)), dense=(32,))


def add_finished_run(store, model, spec: ModelSpec, models_dir: Path, name: str):
    """A finished run whose saved model is `model`, as the runner leaves one (running, saved, finished)."""
    run_id = store.create_run(RunConfig(spec, preset="custom", name=name), status="running")
    path = models_dir / f"run-{run_id}{artifacts.suffix_for(spec.kind)}"
    digest = artifacts.save(model, spec.kind, path)
    store.finish(run_id, {"train_acc": 0.8, "val_acc": 0.8, "test_acc": None, "params": 0, "epochs": 1,
                          "seconds": 1.0, "model_path": str(path), "model_sha256": digest})
    return store.get(run_id)


@pytest.fixture(autouse=True)
def fresh_model_cache(fresh_caches):
    predict._cached_model.cache_clear()
    inside._cached_probe.cache_clear()


@pytest.fixture(scope="module")
def small_cnn(split):
    return fit(TWO_CONV, split.x_train[:1500], split.y_train[:1500], epochs=1)


@pytest.fixture(scope="module")
def tiny_mlp(split):
    return fit(TINY_MLP, split.x_train[:1000], split.y_train[:1000], epochs=1)


def image_captions(at) -> list[str]:
    return [c for img in at.get("image") for c in img.captions]


def chart_titles(at) -> list[str]:
    import json
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_without_a_neural_network_run_it_says_train_one(workspace, page):
    at = page().run()
    assert not at.exception
    assert texts(at.info) == ["Train an MLP or CNN first: this page looks inside a finished neural-network run."]
    assert [link.proto.label for link in at.get("page_link")] == ["Go to Train"]


def test_an_mlp_shows_its_first_layer_weights_and_says_why_no_maps(store, workspace, tiny_mlp, page):
    add_finished_run(store, tiny_mlp, TINY_MLP, workspace.models_dir, name="mlp")
    at = page().run()
    assert not at.exception
    assert chart_titles(at) == ["First layer: each unit's weights"]
    assert texts(at.caption)[-1].startswith("Each picture is one of the first layer's 32 units: its 784 weights")
    assert texts(at.info) == ["Feature maps and Grad-CAM need convolutions: choose a CNN run to see them."]
    assert not at.radio


def test_a_cnn_on_the_third_trouser_of_the_test_set(store, with_dataset, small_cnn, split, page):
    add_finished_run(store, small_cnn, TWO_CONV, with_dataset.models_dir, name="cnn")
    at = page().run()
    at.selectbox(key="inside_class").set_value(1).run()
    at.number_input(key="inside_index").set_value(2).run()
    assert not at.exception and not at.error
    row = int(np.flatnonzero(split.y_test == 1)[2])
    probs = predict.predict(small_cnn, split.x_test[row])
    top = int(np.argmax(probs))
    assert image_captions(at) == [f"Test image {row}: Trouser"]
    mark = ":green[:material/check_circle:]" if top == 1 else ":red[:material/cancel:]"
    assert f"The model says **{CLASS_NAMES[top]}**, {probs[top]:.0%} {mark}" in texts(at.markdown)
    assert chart_titles(at) == ["Grad-CAM: where it looks", "First layer: filters",
                                "Convolution 1: 8 maps of 26×26", "Convolution 2: 8 maps of 11×11"]
    captions = texts(at.caption)
    assert captions[1].startswith(f"Grad-CAM for “{CLASS_NAMES[top]}”: the last convolution's maps")
    assert captions[1].endswith("the 11×11 map is stretched over the 28×28 image.")
    assert captions[2].startswith("The first convolution's 8 filters, each 3×3 weights")
    assert captions[3].startswith("Convolution 1 of 2: 8 feature maps of 26×26") and "3×3-pixel patch" in captions[3]
    assert captions[4].startswith("Convolution 2 of 2: 8 feature maps of 11×11") and "8×8-pixel patch" in captions[4]
    assert at.radio(key="inside_source").options == ["A test image"]  # nothing drawn on the Sketch page


def test_the_sketch_pages_drawing_can_be_looked_at(store, with_dataset, small_cnn, split, page):
    add_finished_run(store, small_cnn, TWO_CONV, with_dataset.models_dir, name="cnn")
    drawing = split.x_test[5]
    at = page()
    at.session_state[inside.SKETCH_KEY] = drawing
    at.run()
    assert at.radio(key="inside_source").options == ["A test image", "My drawing"]
    at.radio(key="inside_source").set_value("My drawing").run()
    assert not at.exception
    assert image_captions(at) == ["Your drawing from the Sketch page"]
    probs = predict.predict(small_cnn, drawing)
    top = int(np.argmax(probs))
    assert f"The model says **{CLASS_NAMES[top]}**, {probs[top]:.0%}" in texts(at.markdown)
    assert [box.key for box in at.selectbox] == ["inside_run"]  # no test-image choice for a drawing


def test_a_number_beyond_the_class_says_how_many_there_are(store, with_dataset, small_cnn, page):
    add_finished_run(store, small_cnn, TWO_CONV, with_dataset.models_dir, name="cnn")
    at = page().run()
    at.selectbox(key="inside_class").set_value(4).run()
    at.number_input(key="inside_index").set_value(1500).run()
    assert not at.exception
    assert texts(at.error) == ["There are 1000 test images of this class: choose 0 to 999."]
    assert not at.get("plotly_chart")
