"""The Data page under AppTest: the notebook's first 25, a filtered grid, shuffle, balance, the map,
and a missing dataset. Images shown are checked against the IDX files read directly."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fmnist import data
from fmnist.data import CLASS_NAMES
from fmnist.settings import REPO_ROOT


@pytest.fixture(scope="module")
def files(split_workspace):
    """The training and test files as they are on disk: (x, y, x_test, y_test)."""
    return data.read_files(data.find_files(split_workspace))


def run(**state) -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "views" / "data.py"), default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def array(value) -> np.ndarray:
    """A Plotly JSON array: a list, or {"dtype", "bdata", "shape"} base64 (Plotly 6+)."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(s) for s in str(value.get("shape", len(flat))).split(",")])
    return np.asarray(value)


def grid(at: AppTest) -> tuple[str, list[str], np.ndarray]:
    """The sample grid's title, the label above each image, and the images, in grid order."""
    (fig,) = figures(at)
    traces = fig["data"]
    return fig["layout"]["title"]["text"], [t["name"] for t in traces], np.stack([array(t["z"]) for t in traces])


def find_rows(images: np.ndarray, pool: np.ndarray) -> list[int]:
    """The row of pool holding each image (by exact pixels)."""
    where = {img.tobytes(): i for i, img in enumerate(pool)}
    return [where[img.astype(np.uint8).tobytes()] for img in images]


def test_default_grid_is_the_first_25_training_images_in_file_order(with_dataset, files):
    at = run()
    assert not at.exception
    title, labels, images = grid(at)
    x, y, _, _ = files
    assert title == "The first 25 images of All 60,000 (file order)"
    np.testing.assert_array_equal(images, x[:25])
    assert labels == [CLASS_NAMES[c] for c in y[:25]]
    assert at.selectbox(key="source").value == "all" and at.slider(key="n").value == 5


def test_test_split_filtered_to_two_classes_in_a_3x3_grid(with_dataset, files):
    at = run()
    at.selectbox(key="source").set_value("test")
    at.slider(key="n").set_value(3)
    at.multiselect(key="classes").set_value(["Sneaker", "Bag"])
    at.run()
    title, labels, images = grid(at)
    _, _, x_test, y_test = files
    first = np.flatnonzero(np.isin(y_test, [7, 8]))[:9]
    assert title == "The first 9 images of Test (10,000) · Sneaker, Bag"
    np.testing.assert_array_equal(images, x_test[first])
    assert labels == [CLASS_NAMES[c] for c in y_test[first]]


def test_shuffle_draws_other_images_each_with_its_own_label(with_dataset, files):
    at = run()
    at.button[0].click().run()
    assert at.number_input(key="seed").value == 1
    title, labels, images = grid(at)
    x, y, _, _ = files
    rows = find_rows(images, x)
    assert title == "25 random images (seed 1) from All 60,000 (file order)"
    assert rows != list(range(25)) and len(set(rows)) == 25
    assert labels == [CLASS_NAMES[y[r]] for r in rows]
    at.button[0].click().run()
    assert grid(at)[0] == "25 random images (seed 2) from All 60,000 (file order)"
    assert find_rows(grid(at)[2], x) != rows


def test_balance_tab_counts_each_split_and_shows_the_means(with_dataset, split):
    at = run(tab="Class balance and means", source="train")
    assert not at.exception
    bars, means = figures(at)
    assert bars["layout"]["title"]["text"] == "Images per class in each split"
    expected = {"Train": split.y_train, "Validation": split.y_val, "Test": split.y_test}
    assert {t["name"]: array(t["y"]).tolist() for t in bars["data"]} == {
        name: [int((y == c).sum()) for c in range(10)] for name, y in expected.items()}
    lo_hi = {name: (min((y == c).sum() for c in range(10)), max((y == c).sum() for c in range(10)))
             for name, y in expected.items()}
    assert at.caption[0].value.startswith(
        f"Images per class: Train {lo_hi['Train'][0]:,}–{lo_hi['Train'][1]:,} · Validation "
        f"{lo_hi['Validation'][0]:,}–{lo_hi['Validation'][1]:,} · Test 1,000–1,000.")
    assert means["layout"]["title"]["text"] == "Mean image per class: Train (42,000)"
    sneaker = array(means["data"][7]["z"])
    np.testing.assert_allclose(sneaker, split.x_train[split.y_train == 7].mean(axis=0))


def test_map_tab_hover_names_each_points_image_and_class(with_dataset, split):
    at = run(tab="2-D map", source="val")
    assert not at.exception
    (fig,) = figures(at)
    assert fig["layout"]["title"]["text"] == "PCA of 5,000 images, coloured by class"
    assert [i.value for i in at.info] == ["Click a point to see its image here."]
    rows = []
    for trace in fig["data"]:
        idx = array(trace["customdata"]).reshape(-1)
        assert {CLASS_NAMES[c] for c in split.y_val[idx]} == {trace["name"]}  # the row shown is of that class
        rows += idx.tolist()
    assert len(rows) == 5000 and len(set(rows)) == 5000 and max(rows) < 18_000


def test_missing_dataset_shows_only_how_to_get_it(tmp_path, monkeypatch):
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FMNIST_DATA_DIR", str(empty))
    at = run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith(f"FMNIST_DATA_DIR={empty} lacks train-images-idx3-ubyte")
    assert "apt-get install dataset-fashion-mnist" in error.value
    assert not at.selectbox and not at.tabs and not at.get("plotly_chart")
