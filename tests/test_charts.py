"""Tests for fmnist.charts: figure builders on plain data."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from fmnist import charts

CLASS_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


def _annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def _rng():
    return np.random.default_rng(0)


# --------------------------------------------------------------------------
# module hygiene
# --------------------------------------------------------------------------
def test_package_does_not_import_streamlit():
    imported = set()
    modules = sorted(pathlib.Path(charts.__file__).parent.glob("*.py"))
    assert len(modules) > 1  # the package's modules, not only its __init__
    for node in (n for m in modules for n in ast.walk(ast.parse(m.read_text()))):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "streamlit" not in imported


# --------------------------------------------------------------------------
# image_grid / mean_images
# --------------------------------------------------------------------------
def test_image_grid_one_subplot_per_image_with_titles():
    images = _rng().integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    titles = [CLASS_NAMES[i] for i in range(7)]
    fig = charts.image_grid(images, titles, cols=3)

    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 7
    # each image on its own axes
    assert len({(t.xaxis, t.yaxis) for t in fig.data}) == 7
    # trace i shows image i, unchanged
    for i, trace in enumerate(fig.data):
        np.testing.assert_array_equal(np.asarray(trace.z), images[i])
        assert trace.name == titles[i]
        assert trace.zsmooth is False
    # subplot titles are the class names (one per image)
    assert sorted(_annotation_texts(fig)) == sorted(titles)
    # fixed 0..255 gray range, no re-normalisation, no colour bar
    assert fig.layout.coloraxis.cmin == 0
    assert fig.layout.coloraxis.cmax == 255
    assert fig.layout.coloraxis.showscale is False
    scale = fig.layout.coloraxis.colorscale
    assert scale[0][1] in ("rgb(0, 0, 0)", "rgb(0,0,0)", "black")
    # no ticks on image axes
    assert all(ax.showticklabels is False for ax in fig.select_xaxes())
    assert all(ax.showticklabels is False for ax in fig.select_yaxes())
    assert fig.layout.title.text


def test_image_grid_titles_sit_above_their_image():
    images = np.stack([np.full((28, 28), i * 20, dtype=np.uint8) for i in range(8)])
    titles = [f"img{i}" for i in range(8)]
    fig = charts.image_grid(images, titles, cols=3)
    for i, trace in enumerate(fig.data):
        xdom = fig.layout["xaxis" + trace.xaxis[1:]].domain
        ydom = fig.layout["yaxis" + trace.yaxis[1:]].domain
        ann = next(a for a in fig.layout.annotations if a.text == titles[i])
        assert xdom[0] <= ann.x <= xdom[1]
        assert ann.y == pytest.approx(ydom[1], abs=1e-6)


def test_image_grid_square_cells_and_height_scales_with_rows():
    img = np.zeros((28, 28), dtype=np.uint8)
    small = charts.image_grid(np.stack([img] * 5), ["a"] * 5, cols=5)
    big = charts.image_grid(np.stack([img] * 100), ["a"] * 100, cols=5)
    assert len(big.data) == 100
    assert big.layout.height > small.layout.height
    for trace in big.data:
        yaxis = big.layout["yaxis" + trace.yaxis[1:]]
        assert yaxis.scaleanchor == trace.xaxis


def test_image_grid_empty_has_annotation():
    fig = charts.image_grid(np.zeros((0, 28, 28), dtype=np.uint8), [])
    assert len(fig.data) == 0
    assert any("No images" in t for t in _annotation_texts(fig))


def test_mean_images_2x5_titled_by_class():
    means = _rng().uniform(0, 255, size=(10, 28, 28))
    fig = charts.mean_images(means, CLASS_NAMES)
    assert len(fig.data) == 10
    assert sorted(_annotation_texts(fig)) == sorted(CLASS_NAMES)
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 255
    np.testing.assert_allclose(np.asarray(fig.data[3].z), means[3])
    xs = {round(fig.layout["xaxis" + t.xaxis[1:]].domain[0], 6) for t in fig.data}
    ys = {round(fig.layout["yaxis" + t.yaxis[1:]].domain[0], 6) for t in fig.data}
    assert len(xs) == 5 and len(ys) == 2


# --------------------------------------------------------------------------
# class_balance
# --------------------------------------------------------------------------
def test_class_balance_grouped_bars_equal_counts():
    counts = {"train": [6000] * 10, "test": list(range(1000, 1010))}
    fig = charts.class_balance(counts, CLASS_NAMES)
    assert len(fig.data) == 2
    assert fig.layout.barmode == "group"
    for trace, (split, values) in zip(fig.data, counts.items()):
        assert trace.type == "bar"
        assert trace.name == split
        assert list(trace.x) == CLASS_NAMES
        assert list(trace.y) == values
    assert fig.layout.xaxis.title.text == "Class"
    assert fig.layout.yaxis.title.text
    assert fig.layout.title.text


def test_class_balance_empty():
    fig = charts.class_balance({}, CLASS_NAMES)
    assert _annotation_texts(fig)


# --------------------------------------------------------------------------
# embedding
# --------------------------------------------------------------------------
def test_embedding_one_trace_per_class_with_index_customdata():
    rng = _rng()
    points = rng.normal(size=(60, 2))
    labels = np.repeat(np.arange(10), 6)
    rng.shuffle(labels)
    fig = charts.embedding(points, labels, CLASS_NAMES, "t-SNE")
    assert fig.layout.title.text == "t-SNE"
    assert [t.name for t in fig.data] == CLASS_NAMES
    total = 0
    for c, trace in enumerate(fig.data):
        idx = np.asarray(trace.customdata)[:, 0].astype(int)
        assert np.all(labels[idx] == c)
        np.testing.assert_allclose(trace.x, points[idx, 0])
        np.testing.assert_allclose(trace.y, points[idx, 1])
        assert "customdata[0]" in trace.hovertemplate
        assert CLASS_NAMES[c] in trace.hovertemplate
        total += len(idx)
    assert total == 60


def test_embedding_empty():
    fig = charts.embedding(np.zeros((0, 2)), np.zeros(0, dtype=int), CLASS_NAMES, "PCA")
    assert _annotation_texts(fig)


# --------------------------------------------------------------------------
# training_curves
# --------------------------------------------------------------------------
@pytest.fixture
def epochs_df():
    return pd.DataFrame({
        "epoch": [1, 2, 3, 4],
        "loss": [0.9, 0.6, 0.5, 0.45],
        "accuracy": [0.70, 0.80, 0.84, 0.86],
        "val_loss": [0.7, 0.55, 0.56, np.nan],
        "val_accuracy": [0.75, 0.82, 0.81, np.nan],
    })


def test_training_curves_traces_and_values(epochs_df):
    fig = charts.training_curves(epochs_df, title="run-1")
    assert fig.layout.title.text == "run-1"
    assert len(fig.data) == 4
    texts = _annotation_texts(fig)
    assert "Accuracy" in texts and "Loss" in texts
    by_axis = {}
    for t in fig.data:
        assert t.mode == "lines+markers"
        np.testing.assert_array_equal(t.x, epochs_df["epoch"])
        by_axis.setdefault(t.xaxis, []).append(t)
    acc_train, acc_val = by_axis["x"]
    loss_train, loss_val = by_axis["x2"]
    np.testing.assert_allclose(acc_train.y, epochs_df["accuracy"])
    np.testing.assert_allclose(acc_val.y, epochs_df["val_accuracy"])  # NaN stays NaN
    np.testing.assert_allclose(loss_train.y, epochs_df["loss"])
    np.testing.assert_allclose(loss_val.y, epochs_df["val_loss"])
    assert acc_train.name == loss_train.name == "train"
    assert acc_val.name == loss_val.name == "validation"
    assert fig.layout.xaxis.title.text == "Epoch"
    assert fig.layout.yaxis.title.text == "Accuracy"
    assert fig.layout.yaxis2.title.text == "Loss"
    assert len(fig.layout.shapes) == 0


def test_training_curves_best_and_stop_markers(epochs_df):
    fig = charts.training_curves(epochs_df, best_epoch=2, stopped_epoch=4)
    best = [s for s in fig.layout.shapes if s.x0 == 2]
    stop = [s for s in fig.layout.shapes if s.x0 == 4]
    assert len(best) == 2 and len(stop) == 2  # one per subplot
    assert all(s.line.dash == "dash" and s.x0 == s.x1 for s in fig.layout.shapes)
    texts = _annotation_texts(fig)
    assert "best epoch 2" in texts
    assert "early stop" in texts
    assert next(a for a in fig.layout.annotations if a.text == "best epoch 2").x == 2


def test_training_curves_empty_waits_for_first_epoch():
    empty = pd.DataFrame(columns=["epoch", "loss", "accuracy", "val_loss", "val_accuracy"])
    fig = charts.training_curves(empty, best_epoch=None)
    assert len(fig.data) == 4
    assert all(len(t.x) == 0 for t in fig.data)
    assert any("waiting for the first epoch" in t.lower() for t in _annotation_texts(fig))


def test_training_curves_totally_empty_frame():
    fig = charts.training_curves(pd.DataFrame())
    assert any("waiting" in t.lower() for t in _annotation_texts(fig))


# --------------------------------------------------------------------------
# overlay_curves / scatter_runs
# --------------------------------------------------------------------------
def test_overlay_curves_one_line_per_run(epochs_df):
    other = epochs_df.assign(val_accuracy=[0.5, 0.6, 0.7, 0.8])
    fig = charts.overlay_curves({"mlp": epochs_df, "cnn": other})
    assert [t.name for t in fig.data] == ["mlp", "cnn"]
    np.testing.assert_allclose(fig.data[1].y, [0.5, 0.6, 0.7, 0.8])
    np.testing.assert_array_equal(fig.data[0].x, [1, 2, 3, 4])
    assert fig.layout.xaxis.title.text == "Epoch"
    assert fig.layout.yaxis.title.text == "Validation accuracy"

    fig = charts.overlay_curves({"mlp": epochs_df}, metric="loss")
    np.testing.assert_allclose(fig.data[0].y, epochs_df["loss"])
    assert fig.layout.yaxis.title.text == "Loss"


def test_overlay_curves_empty():
    fig = charts.overlay_curves({})
    assert _annotation_texts(fig)


def test_scatter_runs_log_params_and_hover_label():
    df = pd.DataFrame({"name": ["tiny", "mlp", "cnn"],
                       "params": [1_000, 100_000, 1_200_000],
                       "val_acc": [0.80, 0.88, 0.91]})
    fig = charts.scatter_runs(df)
    assert len(fig.data) == 1
    assert fig.layout.xaxis.type == "log"
    np.testing.assert_array_equal(fig.data[0].x, df["params"])
    np.testing.assert_allclose(fig.data[0].y, df["val_acc"])
    assert list(fig.data[0].hovertext) == ["tiny", "mlp", "cnn"]

    fig = charts.scatter_runs(df.assign(time=[1.0, 2.0, 3.0]), x="time")
    assert fig.layout.xaxis.type != "log"


def test_scatter_runs_empty():
    fig = charts.scatter_runs(pd.DataFrame(columns=["name", "params", "val_acc"]))
    assert _annotation_texts(fig)


# --------------------------------------------------------------------------
# confusion_matrix
# --------------------------------------------------------------------------
def _cm():
    rng = _rng()
    cm = rng.integers(0, 30, size=(10, 10))
    cm[np.diag_indices(10)] += 900
    return cm


def test_confusion_matrix_counts():
    cm = _cm()
    fig = charts.confusion_matrix(cm, CLASS_NAMES)
    assert len(fig.data) == 1
    hm = fig.data[0]
    assert hm.type == "heatmap"
    np.testing.assert_array_equal(np.asarray(hm.z), cm)
    assert np.asarray(hm.text).tolist() == [[str(v) for v in row] for row in cm]
    assert "%{text}" in hm.texttemplate
    assert list(hm.x) == CLASS_NAMES and list(hm.y) == CLASS_NAMES
    assert fig.layout.xaxis.title.text == "Predicted"
    assert fig.layout.yaxis.title.text == "True"
    assert fig.layout.yaxis.autorange == "reversed"
    cd = np.asarray(hm.customdata)
    assert cd.shape[:2] == (10, 10)
    assert tuple(cd[3, 7][:2]) == (3, 7)
    assert cd[3, 7][2] == cm[3, 7]
    assert fig.layout.title.text


def test_confusion_matrix_normalized_rows_sum_to_100():
    cm = _cm()
    cm[5] = 0  # a class with no samples must not give NaN
    fig = charts.confusion_matrix(cm, CLASS_NAMES, normalize=True)
    z = np.asarray(fig.data[0].z, dtype=float)
    sums = z.sum(axis=1)
    nonzero = np.arange(10) != 5
    np.testing.assert_allclose(sums[nonzero], 100.0)
    assert np.all(z[5] == 0)
    np.testing.assert_allclose(z[0, 0], cm[0, 0] / cm[0].sum() * 100)
    assert np.asarray(fig.data[0].text)[0, 0] == f"{z[0, 0]:.1f}"
    # counts still reachable for hover / click
    assert np.asarray(fig.data[0].customdata)[0, 0][2] == cm[0, 0]


def test_confusion_matrix_empty():
    fig = charts.confusion_matrix(np.zeros((0, 0), dtype=int), CLASS_NAMES)
    assert _annotation_texts(fig)


# --------------------------------------------------------------------------
# probabilities
# --------------------------------------------------------------------------
def test_probabilities_sorted_and_top_highlighted():
    probs = np.array([0.01, 0.02, 0.05, 0.6, 0.1, 0.02, 0.15, 0.02, 0.02, 0.01])
    fig = charts.probabilities(probs, CLASS_NAMES)
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h"
    x = np.asarray(bar.x, dtype=float)
    assert np.all(np.diff(x) <= 0)
    np.testing.assert_allclose(np.sort(x)[::-1], np.sort(probs * 100)[::-1])
    assert bar.y[0] == "Dress" and x[0] == pytest.approx(60.0)
    assert bar.y[1] == "Shirt"
    assert sorted(bar.y) == sorted(CLASS_NAMES)
    colors = list(bar.marker.color)
    assert colors[0] != colors[1]
    assert len(set(colors[1:])) == 1
    assert bar.text[0] == "60.0%"
    # top class drawn at the top
    assert fig.layout.yaxis.autorange == "reversed"


def test_probabilities_empty():
    fig = charts.probabilities(np.array([]), CLASS_NAMES)
    assert _annotation_texts(fig)


# --------------------------------------------------------------------------
# saliency_overlay
# --------------------------------------------------------------------------
def test_saliency_overlay_layers():
    rng = _rng()
    image = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
    sal = rng.uniform(0, 7, size=(28, 28))
    fig = charts.saliency_overlay(image, sal)
    assert len(fig.data) == 2
    base, heat = fig.data
    np.testing.assert_array_equal(np.asarray(base.z), image)
    assert base.zmin == 0 and base.zmax == 255
    assert base.colorscale[0][1] in ("rgb(0, 0, 0)", "rgb(0,0,0)", "black")
    z = np.asarray(heat.z, dtype=float)
    np.testing.assert_allclose(z, sal / sal.max())
    # lowest saliency is fully transparent, highest is visible but not opaque
    assert heat.colorscale[0][1].replace(" ", "").endswith(",0)")
    alpha_top = float(heat.colorscale[-1][1].rstrip(")").split(",")[-1])
    assert 0 < alpha_top < 1
    assert fig.layout.yaxis.autorange == "reversed"


def test_saliency_overlay_all_zero_saliency():
    fig = charts.saliency_overlay(np.zeros((28, 28), np.uint8), np.zeros((28, 28)))
    assert np.all(np.asarray(fig.data[1].z) == 0)


# --------------------------------------------------------------------------
# common styling / serialisation
# --------------------------------------------------------------------------
def test_all_figures_serialise_and_use_readable_font(epochs_df):
    rng = _rng()
    figs = [
        charts.image_grid(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), ["a", "b", "c"]),
        charts.class_balance({"train": [1] * 10}, CLASS_NAMES),
        charts.embedding(rng.normal(size=(20, 2)), rng.integers(0, 10, 20), CLASS_NAMES, "x"),
        charts.training_curves(epochs_df, best_epoch=2),
        charts.overlay_curves({"a": epochs_df}),
        charts.scatter_runs(pd.DataFrame({"name": ["a"], "params": [10], "val_acc": [0.5]})),
        charts.confusion_matrix(_cm(), CLASS_NAMES),
        charts.probabilities(np.full(10, 0.1), CLASS_NAMES),
        charts.saliency_overlay(np.zeros((28, 28), np.uint8), np.ones((28, 28))),
    ]
    for fig in figs:
        assert isinstance(fig, go.Figure)
        assert fig.layout.font.size >= 14
        assert fig.layout.title.text
        fig.to_json()  # serialisable (validates all properties)


# --------------------------------------------------------------------------
# frozen figures (shared by many sessions)
# --------------------------------------------------------------------------
def _as_streamlit_sends(fig) -> str:
    """The spec st.plotly_chart puts on the wire (streamlit/elements/plotly_chart.py)."""
    import plotly.io as pio
    import plotly.tools

    return pio.to_json(plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True), validate=False)


def test_frozen_figure_sends_what_the_figure_would(epochs_df):
    from fmnist.charts.frozen import freeze

    for build in (lambda: charts.training_curves(epochs_df, best_epoch=2, stopped_epoch=4, title="run-1"),
                  lambda: charts.image_grid(np.arange(4 * 784).reshape(4, 28, 28) % 256, list("abcd"), cols=2)):
        plain, frozen = build(), freeze(build())
        assert type(plain) is go.Figure and isinstance(frozen, go.Figure)
        assert _as_streamlit_sends(frozen) == _as_streamlit_sends(plain)
        assert freeze(frozen) is frozen
        # still a whole figure to read from (a click on a map point reads its traces)
        assert [t.type for t in frozen.data] == [t.type for t in plain.data]


def test_frozen_figure_is_sent_by_many_threads_at_once(epochs_df):
    from concurrent.futures import ThreadPoolExecutor

    from fmnist.charts.frozen import freeze

    fig = charts.training_curves(epochs_df, best_epoch=2)
    fig.data[0].uid = "a-trace-id"  # plotly.io.to_json pops each trace's uid from what to_dict returns
    expected = _as_streamlit_sends(fig)
    frozen = freeze(fig)
    with ThreadPoolExecutor(8) as pool:
        specs = set(pool.map(lambda _: _as_streamlit_sends(frozen), range(400)))
    assert specs == {expected}
    assert frozen.to_dict()["data"][0]["uid"] == "a-trace-id"


def test_the_training_curves_template_is_plotly_white_for_their_scatter_traces(epochs_df):
    import plotly.io as pio

    white = pio.templates["plotly_white"].to_plotly_json()
    used = charts.training_curves(epochs_df).layout.template.to_plotly_json()
    assert used["layout"] == white["layout"] and used["data"] == {"scatter": white["data"]["scatter"]}
