"""The Data page's figures, built from the arrays and sized for the page: sample grid, class means, 2-D map."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from fmnist import charts, explore
from fmnist.data import CLASS_NAMES


@dataclass(frozen=True)
class MapMethod:
    key: str       # explore's name for it, also in the disk cache's file names
    size: int      # images in the map
    embed: Callable
    wait: str      # how long a first computation takes, in words


# t-SNE costs seconds per thousand points; PCA does not
MAPS = {"PCA": MapMethod("pca", 5_000, explore.embed_pca, "a second or two"),
        "t-SNE": MapMethod("tsne", 2_000, explore.embed_tsne, "about 10 s, longer while models train")}


def square_cells(fig: go.Figure, width: int = 900, side: int = 150) -> go.Figure:
    """Size an image grid so every image is one square of at most `side` px, within `width` px."""
    fx, fy = (np.diff(fig.layout[axis].domain)[0] for axis in ("xaxis", "yaxis"))
    side = min(side, width * fx)
    m = fig.layout.margin
    return fig.update_layout(width=round(side / fx + m.l + m.r), height=round(side / fy + m.t + m.b))


def grid_figure(x: np.ndarray, y: np.ndarray, source: str, n: int, classes: tuple[int, ...], seed: int) -> go.Figure:
    """An n x n grid of images from `source`: the first ones in order (seed 0) or a draw with the seed."""
    idx = explore.sample_indices(y, n * n, classes, seed, ordered=seed == 0)
    title = explore.sample_title(len(idx), source, classes, seed)
    return square_cells(charts.image_grid(x[idx], [CLASS_NAMES[c] for c in y[idx]], cols=n, title=title))


def means_figure(x: np.ndarray, y: np.ndarray, source: str) -> go.Figure:
    return square_cells(charts.mean_images(explore.mean_images(x, y), CLASS_NAMES,
                                           title=f"Mean image per class: {explore.SOURCES[source]}"))


def balance_caption(counts: dict[str, list[int]]) -> str:
    ranges = " · ".join(f"{name} {min(v):,}–{max(v):,}" for name, v in counts.items())
    return (f"Images per class: {ranges}. The classes are balanced, so accuracy is a fair measure "
            "and always guessing one class scores about 10%.")


def map_ready(x: np.ndarray, y: np.ndarray, method: str, cache_dir: Path | None) -> bool:
    """Whether the map is on disk already (drawing it is then instant)."""
    path = explore.embedding_path(MAPS[method].key, x, y, MAPS[method].size, 0, cache_dir)
    return path is not None and path.exists()


def map_figure(x: np.ndarray, y: np.ndarray, method: str, cache_dir: Path | None) -> go.Figure:
    """The 2-D map, each point's customdata its image's row in x (not its place in the sample)."""
    points, labels, idx = MAPS[method].embed(x, y, MAPS[method].size, seed=0, cache_dir=cache_dir)
    fig = charts.embedding(points, labels, CLASS_NAMES, title=f"{method} of {len(idx):,} images, coloured by class")
    for trace in fig.data:
        # plain lists: a cached figure keeps numpy customdata only as Plotly's encoded dict
        trace.customdata = idx[np.asarray(trace.customdata)[:, 0].astype(int)].reshape(-1, 1).tolist()
    return fig


def clicked_row(fig: go.Figure, point: dict) -> int:
    """The row in x of a point the user clicked on map_figure."""
    return int(fig.data[point["curve_number"]].customdata[point["point_index"]][0])
