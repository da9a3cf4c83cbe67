"""Pictures: dataset images in a grid of subplots, and many small pictures (filters, weights, feature maps)
tiled into one heatmap."""
from __future__ import annotations

import math
import re

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from fmnist.charts._style import CELL_PX, SUBTITLE_FONT_SIZE, _empty, _picture_figure, _style

_FACET_RE = re.compile(r"=(\d+)$")


def image_grid(
    images: np.ndarray,
    titles: list[str],
    cols: int = 5,
    title: str = "Sample images",
) -> go.Figure:
    """Grid of 28x28 gray images, one subplot per image titled ``titles[i]``.

    Uses ``px.imshow`` with ``facet_col``.  Pixel values are shown on a fixed
    0..255 gray scale (``zmin=0, zmax=255``), without smoothing, with square
    cells and no ticks; the height grows with the number of rows.
    """
    images = np.asarray(images)
    n = 0 if images.size == 0 else int(images.shape[0])
    if n == 0:
        return _empty(title, "No images to show")
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, h, w), got {images.shape}")
    titles = [str(t) for t in titles]
    if len(titles) < n:
        titles = titles + [""] * (n - len(titles))

    cols = max(1, min(int(cols), n))
    rows = math.ceil(n / cols)
    # subplot spacing must satisfy spacing <= 1 / (rows - 1)
    row_spacing = min(0.25 / rows + 0.02, 1.0 / max(rows - 1, 1) * 0.9) if rows > 1 else 0.0
    col_spacing = min(0.02, 1.0 / max(cols - 1, 1) * 0.9) if cols > 1 else 0.0

    fig = px.imshow(
        images,
        facet_col=0,
        facet_col_wrap=cols,
        facet_row_spacing=row_spacing,
        facet_col_spacing=col_spacing,
        color_continuous_scale="gray",
        zmin=0,
        zmax=255,
        binary_string=False,
        aspect="equal",
    )
    # facet annotations come in arbitrary order: map them back by index
    for ann in fig.layout.annotations:
        m = _FACET_RE.search(ann.text or "")
        if m:
            ann.text = titles[int(m.group(1))]
            ann.font = dict(size=SUBTITLE_FONT_SIZE)
    # traces are in facet order
    for i, trace in enumerate(fig.data):
        trace.update(
            name=titles[i],
            zsmooth=False,
            hovertemplate=f"#{i} {titles[i]}<br>row %{{y}}, col %{{x}}<br>value %{{z}}<extra></extra>",
        )
        # square cells: lock each y axis to its x axis
        yname = "yaxis" + trace.yaxis[1:]
        fig.layout[yname].scaleanchor = trace.xaxis
        fig.layout[yname].constrain = "domain"
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, title_text="")
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, title_text="")
    fig.update_layout(coloraxis_showscale=False)
    height = 100 + rows * CELL_PX
    width = 40 + cols * CELL_PX
    return _style(fig, title, height=height, width=max(width, 300),
                  margin=dict(l=20, r=20, t=90, b=20))


def mean_images(
    means: np.ndarray, class_names: list[str], title: str = "Mean image per class"
) -> go.Figure:
    """2 x 5 grid of per-class mean images (float 0..255), titled by class."""
    means = np.asarray(means, dtype=float)
    return image_grid(means, list(class_names), cols=5, title=title)


def tile_mosaic(stack: np.ndarray, cols: int | None = None, gap: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(n, h, w) pictures -> one (rows*(h+gap)-gap, cols*(w+gap)-gap) array with NaN gaps, row-major,
    and an equally shaped array naming each cell's picture (NaN in the gaps)."""
    stack = np.asarray(stack, dtype=float)
    n, h, w = stack.shape
    cols = max(1, min(int(cols or math.ceil(math.sqrt(n))), n))
    rows = math.ceil(n / cols)
    mosaic = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    which = np.full(mosaic.shape, np.nan)
    for i, picture in enumerate(stack):
        top, left = (i // cols) * (h + gap), (i % cols) * (w + gap)
        mosaic[top:top + h, left:left + w] = picture
        which[top:top + h, left:left + w] = i
    return mosaic, which

def picture_grid(
    stack: np.ndarray,
    title: str,
    unit: str = "filter",
    diverging: bool = False,
    cols: int | None = None,
) -> go.Figure:
    """Many small pictures (filters, weights, feature maps) as ONE heatmap, tiled with thin gaps.

    One trace instead of a subplot each keeps 100 pictures light enough to click through. Diverging
    data (weights) get a red-white-blue scale centred on 0; activations a gray scale from 0 (black)
    to the stack's largest value (white), shared by every picture so weak ones look dark.
    """
    stack = np.asarray(stack, dtype=float)
    if stack.size == 0:
        return _empty(title, "Nothing to show")
    if stack.ndim != 3:
        raise ValueError(f"stack must have shape (n, h, w), got {stack.shape}")
    mosaic, which = tile_mosaic(stack, cols)
    peak = float(np.nanmax(np.abs(stack))) or 1.0
    scale = dict(colorscale="RdBu", zmid=0, zmin=-peak, zmax=peak) if diverging else \
        dict(colorscale="gray", zmin=min(0.0, float(stack.min())), zmax=peak)
    heat = go.Heatmap(
        z=mosaic, customdata=which, zsmooth=False, hoverongaps=False, showscale=True,
        colorbar=dict(title="weight" if diverging else "activation", thickness=15, outlinewidth=0),
        hovertemplate=f"{unit} %{{customdata}}<br>value %{{z:.3g}}<extra></extra>", **scale)
    rows, width = mosaic.shape
    return _picture_figure([heat], title, int(np.clip(110 + 560 * rows / width, 260, 720)))
