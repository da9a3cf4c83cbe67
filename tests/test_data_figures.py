"""fmnist.data_figures: the Data page's figures, checked against the arrays they come from."""
from __future__ import annotations

import numpy as np

from fmnist import data_figures
from fmnist.data import CLASS_NAMES


def test_the_map_is_ready_once_computed_and_a_click_names_the_image_row(split, tmp_path):
    x, y = split.x_val, split.y_val
    assert not data_figures.map_ready(x, y, "PCA", tmp_path)  # the page shows its spinner in the map's place
    fig = data_figures.map_figure(x, y, "PCA", tmp_path)
    assert data_figures.map_ready(x, y, "PCA", tmp_path) and not data_figures.map_ready(x, y, "t-SNE", tmp_path)
    assert fig.layout.title.text == "PCA of 5,000 images, coloured by class"
    for curve, trace in enumerate(fig.data):
        rows = [data_figures.clicked_row(fig, {"curve_number": curve, "point_index": i}) for i in (0, len(trace.x) - 1)]
        assert {CLASS_NAMES[y[r]] for r in rows} == {trace.name}


def test_grid_figure_shows_the_first_images_in_order(split):
    fig = data_figures.grid_figure(split.x_test, split.y_test, "test", 3, (), 0)
    assert fig.layout.title.text == "The first 9 images of Test (10,000)"
    np.testing.assert_array_equal(np.stack([t.z for t in fig.data]), split.x_test[:9])
    assert fig.layout.width <= 900 and fig.layout.height > 0


def test_balance_caption_gives_each_splits_range():
    text = data_figures.balance_caption({"Train": [4200, 4100], "Test": [1000, 1000]})
    assert text.startswith("Images per class: Train 4,100–4,200 · Test 1,000–1,000.")
