"""The sketch page under AppTest: no run, a bad upload, a picked test image, a blank canvas, a photo's warnings."""
from __future__ import annotations

from pathlib import Path

import pytest

from fmnist import photos, predict, saliency, segment
from fmnist.artifacts import MajorityModel
from fmnist.config import ModelSpec
from fmnist.data import CLASS_NAMES
from fmnist.images import from_upload
from tests.test_predict import TINY_MLP, add_finished_run, fit
from tests.views.conftest import texts

REPO = Path(__file__).resolve().parents[2]
# st.page_link only accepts pages registered with st.navigation, and resolves them next to the
# main script: a two-page app in tmp_path, its views/ linked to the repository's, stands in for app.py.
HARNESS = f"""
import streamlit as st
st.navigation([st.Page({str(REPO / "views/sketch.py")!r}, default=True),
               st.Page({str(REPO / "views/train.py")!r})]).run()
"""


@pytest.fixture(autouse=True)
def fresh_model_cache(fresh_caches):
    predict._cached_model.cache_clear()


@pytest.fixture(scope="module")
def tiny_mlp(split):
    return fit(TINY_MLP, split.x_train[:1000], split.y_train[:1000])


def test_without_a_finished_run_it_says_train_first(workspace, page):
    at = page().run()
    assert not at.exception
    assert texts(at.info) == ["Train a model first: predictions come from a finished run."]
    assert [(link.proto.label, link.proto.page) for link in at.get("page_link")] == [("Go to Train", "train")]
    assert not at.selectbox


def test_a_bad_upload_shows_its_error_and_nothing_else(store, workspace, tiny_mlp, page):
    add_finished_run(store, tiny_mlp, TINY_MLP, workspace.models_dir)
    at = page()
    at.session_state["source"] = "Upload"
    at.run()
    assert texts(at.info) == ["Upload a picture of one garment: PNG, JPEG, GIF, BMP or WebP, up to 5 MB."]
    at.file_uploader[0].upload("shoe.png", b"this is a text file, renamed", "image/png").run()
    assert not at.exception
    assert texts(at.error) == ["This file is not an image Pillow can read (PNG, JPEG, GIF, BMP, WebP). "
                               "Upload a picture file."]
    assert not at.get("plotly_chart") and not at.info
    assert not [m for m in texts(at.markdown) if m.startswith("# ")]


def test_a_picked_test_image_gets_a_prediction_headline(store, with_dataset, tiny_mlp, split, page):
    run = add_finished_run(store, tiny_mlp, TINY_MLP, with_dataset.models_dir)
    at = page()
    at.session_state["source"] = "Pick a test image"
    at.run()
    at.number_input(key="test_index").set_value(7).run()
    assert not at.exception
    assert at.selectbox(key="run").value == run.id
    probs = tiny_mlp.predict_proba(split.x_test[7:8])[0]  # independent of the page's code path
    top, truth = int(probs.argmax()), int(split.y_test[7])
    headline = f"# {CLASS_NAMES[top]}, {probs[top]:.0%}"
    assert headline in texts(at.markdown)
    assert f"True label: **{CLASS_NAMES[truth]}**" in "\n".join(texts(at.markdown))
    # probabilities, saliency and the nearest training images
    assert len(at.get("plotly_chart")) == 3


def test_a_baseline_run_explains_that_saliency_needs_a_network(store, with_dataset, page):
    add_finished_run(store, MajorityModel(7), ModelSpec("majority"), with_dataset.models_dir)
    at = page()
    at.session_state["source"] = "Pick a test image"
    at.run()
    assert not at.exception
    assert "# Sneaker, 100%" in texts(at.markdown)
    assert texts(at.info) == ["Saliency needs a neural network: choose an MLP or CNN run to see which pixels mattered."]


def test_the_empty_canvas_asks_for_a_drawing(store, workspace, tiny_mlp, page):
    add_finished_run(store, tiny_mlp, TINY_MLP, workspace.models_dir)
    at = page().run()
    assert not at.exception
    assert texts(at.info) == ["Draw something first: one garment, as big as the canvas."]
    assert not at.get("plotly_chart")


def test_a_good_upload_shows_every_step_and_the_prediction(store, with_dataset, tiny_mlp, split, page):
    from fmnist.images import from_upload
    from tests.test_predict import dark_on_light_png

    add_finished_run(store, tiny_mlp, TINY_MLP, with_dataset.models_dir)
    picture = dark_on_light_png(split.x_test[0])
    at = page()
    at.session_state["source"] = "Upload"
    at.run()
    at.file_uploader[0].upload("boot.png", picture, "image/png").run()
    assert not at.exception and not at.error
    assert [c for img in at.get("image") for c in img.captions] == list(predict.STEP_CAPTIONS)
    probs = tiny_mlp.predict_proba(from_upload(picture).final[None])[0]
    assert f"# {CLASS_NAMES[int(probs.argmax())]}, {probs.max():.0%}" in texts(at.markdown)


def test_the_saliency_map_is_explained(store, with_dataset, tiny_mlp, split, page):
    add_finished_run(store, tiny_mlp, TINY_MLP, with_dataset.models_dir)
    at = page()
    at.session_state["source"] = "Pick a test image"
    at.run()
    probs = tiny_mlp.predict_proba(split.x_test[:1])[0]
    expected = saliency.EXPLANATION.format(name=CLASS_NAMES[int(probs.argmax())])
    assert expected in texts(at.caption)


def test_a_photo_with_a_frame_and_a_tag_says_what_it_guessed(store, with_dataset, tiny_mlp, split, page):
    """A noisy, off-centre photo with a frame and a tag: the page names what it guessed, and classifies the item."""
    add_finished_run(store, tiny_mlp, TINY_MLP, with_dataset.models_dir)
    frame = photos.Condition("frame+tag", "", frame=True, clutter=True, noise=4.0, jpeg=80)
    for seed in range(20):  # the pipeline spots the frame in most of these pictures (72% in the table)
        picture = photos.photo(split.x_test[1], frame, seed=seed)
        steps = from_upload(picture)
        if segment.FRAME in steps.warnings:
            break
    at = page()
    at.session_state["source"] = "Upload"
    at.run()
    at.file_uploader[0].upload("photo.jpg", picture, "image/jpeg").run()
    assert not at.exception and not at.error
    shown = texts(at.warning)
    assert segment.FRAME in shown and shown == list(steps.warnings)
    probs = tiny_mlp.predict_proba(steps.final[None])[0]
    assert f"# {CLASS_NAMES[int(probs.argmax())]}, {probs.max():.0%}" in texts(at.markdown)
