"""Plotly figure builders for the Fashion-MNIST Lab dashboard.

Every function takes plain data (numpy arrays, pandas DataFrames, lists,
dicts) and returns a ``plotly.graph_objects.Figure``.  Nothing here imports
Streamlit and nothing runs at import time, so the builders can be used from
pages, notebooks and tests alike.

Figures are styled for a projector: ~16px base font, a clear title, gray
colormap with a fixed 0..255 range for images (no re-normalisation), no axis
ticks on image cells.  Empty inputs give a figure with an explanatory
annotation instead of raising.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "BASE_FONT_SIZE",
    "TITLE_FONT_SIZE",
    "image_grid",
    "class_balance",
    "mean_images",
    "embedding",
    "training_curves",
    "overlay_curves",
    "scatter_runs",
    "confusion_matrix",
    "probabilities",
    "saliency_overlay",
]

BASE_FONT_SIZE = 16
TITLE_FONT_SIZE = 22
SUBTITLE_FONT_SIZE = 15
TEMPLATE = "plotly_white"
TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
HIGHLIGHT_COLOR = "#d62728"
MUTED_COLOR = "#9aa5b1"
CELL_PX = 150  # height of one image cell in image grids

_FACET_RE = re.compile(r"=(\d+)$")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _style(fig: go.Figure, title: str, **layout) -> go.Figure:
    """Apply the common projector-friendly look."""
    base = dict(
        template=TEMPLATE,
        title=dict(text=title, font=dict(size=TITLE_FONT_SIZE), x=0.02, xanchor="left"),
        font=dict(size=BASE_FONT_SIZE),
        hoverlabel=dict(font_size=BASE_FONT_SIZE),
        margin=dict(l=60, r=30, t=80, b=60),
    )
    base.update(layout)
    fig.update_layout(**base)
    fig.update_layout(legend_font_size=BASE_FONT_SIZE)
    return fig


def _empty(title: str, message: str, height: int = 300) -> go.Figure:
    """An empty figure with a centred explanatory annotation."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font=dict(size=BASE_FONT_SIZE + 2, color="gray"),
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _style(fig, title, height=height)


def _pretty(name: str) -> str:
    """'val_accuracy' -> 'Validation accuracy', 'val_acc' -> 'Validation accuracy'."""
    words = str(name).split("_")
    if words and words[0] == "val":
        words[0] = "validation"
    words = ["accuracy" if w == "acc" else w for w in words]
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------
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


def saliency_overlay(
    image: np.ndarray, saliency: np.ndarray, title: str = "Saliency"
) -> go.Figure:
    """Gray 28x28 image with a semi-transparent saliency heat layer on top.

    ``saliency`` (>= 0, any scale) is rescaled to 0..1; low values are fully
    transparent so the garment stays visible underneath.
    """
    image = np.asarray(image)
    sal = np.asarray(saliency, dtype=float)
    if image.size == 0 or sal.size == 0:
        return _empty(title, "No image selected")
    sal = np.nan_to_num(np.clip(sal, 0, None))
    peak = float(sal.max())
    sal_norm = sal / peak if peak > 0 else np.zeros_like(sal)

    heat_scale = [
        [0.0, "rgba(255,255,0,0)"],
        [0.2, "rgba(255,220,0,0.15)"],
        [0.6, "rgba(255,120,0,0.55)"],
        [1.0, "rgba(220,0,0,0.85)"],
    ]
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=image,
            colorscale="gray",
            zmin=0,
            zmax=255,
            zsmooth=False,
            showscale=False,
            name="image",
            hovertemplate="row %{y}, col %{x}<br>pixel %{z}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=sal_norm,
            colorscale=heat_scale,
            zmin=0,
            zmax=1,
            zsmooth=False,
            showscale=True,
            colorbar=dict(title="saliency", thickness=15),
            name="saliency",
            customdata=sal,
            hovertemplate="row %{y}, col %{x}<br>saliency %{customdata:.3g}"
                          " (%{z:.0%} of max)<extra></extra>",
        )
    )
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False,
                     constrain="domain")
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False,
                     autorange="reversed", scaleanchor="x", constrain="domain")
    return _style(fig, title, height=450)


# --------------------------------------------------------------------------
# data overview
# --------------------------------------------------------------------------
def class_balance(
    counts: dict[str, list[int]],
    class_names: list[str],
    title: str = "Images per class",
) -> go.Figure:
    """Grouped bar chart: x = class names, one bar group per split."""
    class_names = [str(c) for c in class_names]
    if not counts:
        return _empty(title, "No counts to show")
    fig = go.Figure()
    for split, values in counts.items():
        values = [int(v) for v in values]
        fig.add_trace(
            go.Bar(
                x=class_names,
                y=values,
                name=str(split),
                hovertemplate=f"{split}<br>%{{x}}: %{{y}} images<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", legend_title_text="Split")
    fig.update_xaxes(title_text="Class", categoryorder="array", categoryarray=class_names)
    fig.update_yaxes(title_text="Images")
    return _style(fig, title, height=450)


def embedding(
    points: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    title: str,
    hover_images: list[str] | None = None,
) -> go.Figure:
    """2-D scatter of an embedding with one trace per class.

    ``customdata`` of each point is ``[index]`` (or ``[index, data_uri]`` when
    ``hover_images`` is given), so a click handler can look the image up.
    Plotly cannot render images inside hover labels, so the hover text shows
    the sample index and class only.
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2) if np.size(points) else np.empty((0, 2))
    labels = np.asarray(labels).astype(int).reshape(-1)
    class_names = [str(c) for c in class_names]
    if len(points) == 0:
        return _empty(title, "No points to show")
    if len(labels) != len(points):
        raise ValueError("points and labels must have the same length")
    if hover_images is not None and len(hover_images) != len(points):
        raise ValueError("hover_images must have one entry per point")

    index = np.arange(len(points))
    big = len(points) > 5000
    scatter_cls = go.Scattergl if big else go.Scatter
    colors = px.colors.qualitative.Plotly + px.colors.qualitative.D3
    fig = go.Figure()
    for c, name in enumerate(class_names):
        mask = labels == c
        if hover_images is None:
            custom = index[mask].reshape(-1, 1)
        else:
            custom = np.column_stack(
                [index[mask].astype(object), np.asarray(hover_images, dtype=object)[mask]]
            )
        fig.add_trace(
            scatter_cls(
                x=points[mask, 0],
                y=points[mask, 1],
                mode="markers",
                name=name,
                legendgroup=name,
                marker=dict(size=5 if big else 7, color=colors[c % len(colors)], opacity=0.8),
                customdata=custom,
                hovertemplate=f"#%{{customdata[0]}} · {name}<extra></extra>",
            )
        )
    # labels outside 0..len(class_names)-1 still get shown
    other = ~np.isin(labels, np.arange(len(class_names)))
    if other.any():
        fig.add_trace(
            scatter_cls(
                x=points[other, 0], y=points[other, 1], mode="markers", name="other",
                marker=dict(size=5, color="black"), customdata=index[other].reshape(-1, 1),
                hovertemplate="#%{customdata[0]} · other<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="dim 1", showticklabels=False, zeroline=False)
    fig.update_yaxes(title_text="dim 2", showticklabels=False, zeroline=False)
    fig.update_layout(legend_title_text="Class (click to toggle)", legend_itemsizing="constant")
    return _style(fig, title, height=600)


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------
def _add_epoch_marker(fig: go.Figure, x: int, text: str, color: str, ypos: float) -> None:
    for col in (1, 2):
        fig.add_vline(x=x, line_dash="dash", line_color=color, line_width=2, row=1, col=col)
    # one label per subplot, at the top of each plot area
    for xref in ("x", "x2"):
        fig.add_annotation(
            x=x, y=ypos, xref=xref, yref="paper", text=text, showarrow=False,
            xanchor="left", yanchor="bottom", font=dict(color=color, size=BASE_FONT_SIZE - 2),
            bgcolor="rgba(255,255,255,0.7)",
        )


def training_curves(
    epochs: pd.DataFrame,
    best_epoch: int | None = None,
    stopped_epoch: int | None = None,
    title: str = "",
) -> go.Figure:
    """Side-by-side "Accuracy" and "Loss" subplots, train vs validation.

    Traces (in order): train accuracy, validation accuracy, train loss,
    validation loss.  Dashed vertical lines + labels mark ``best_epoch``
    ("best epoch k") and ``stopped_epoch`` ("early stop").  With 0 rows the
    axes are empty with a "waiting for the first epoch" annotation.
    """
    title = title or "Training curves"
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Accuracy", "Loss"),
                        horizontal_spacing=0.1)
    df = epochs if epochs is not None else pd.DataFrame()
    cols = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    df = df.reindex(columns=cols) if len(df.columns) else pd.DataFrame(columns=cols)
    x = pd.to_numeric(df["epoch"], errors="coerce").to_numpy()

    spec = [
        ("accuracy", "train", TRAIN_COLOR, 1, True),
        ("val_accuracy", "validation", VAL_COLOR, 1, True),
        ("loss", "train", TRAIN_COLOR, 2, False),
        ("val_loss", "validation", VAL_COLOR, 2, False),
    ]
    for column, label, color, col, legend in spec:
        y = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
        fig.add_trace(
            go.Scatter(
                x=x, y=y, mode="lines+markers", name=label, legendgroup=label,
                showlegend=legend, line=dict(color=color, width=3,
                                              dash="solid" if label == "train" else "dot"),
                marker=dict(size=8),
                hovertemplate=f"{label} {column.replace('val_', '')}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            ),
            row=1, col=col,
        )

    fig.update_xaxes(title_text="Epoch", rangemode="tozero" if len(df) == 0 else "normal")
    fig.update_yaxes(title_text="Accuracy", row=1, col=1)
    fig.update_yaxes(title_text="Loss", row=1, col=2)
    if len(df) == 0:
        fig.update_xaxes(range=[0, 10])
        fig.update_yaxes(range=[0, 1], row=1, col=1)
        fig.update_yaxes(range=[0, 1], row=1, col=2)
        fig.add_annotation(
            text="Waiting for the first epoch…", xref="paper", yref="paper", x=0.5, y=0.5,
            showarrow=False, font=dict(size=BASE_FONT_SIZE + 4, color="gray"),
        )
    else:
        fig.update_xaxes(dtick=1 if len(df) <= 20 else None)
        if best_epoch is not None:
            _add_epoch_marker(fig, int(best_epoch), f"best epoch {int(best_epoch)}", "#2ca02c", 0.92)
        if stopped_epoch is not None:
            _add_epoch_marker(fig, int(stopped_epoch), "early stop", HIGHLIGHT_COLOR, 0.02)

    for ann in fig.layout.annotations:
        if ann.text in ("Accuracy", "Loss"):
            ann.font = dict(size=BASE_FONT_SIZE + 2)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.08, x=1, xanchor="right"),
                      hovermode="x unified")
    return _style(fig, title, height=450, margin=dict(l=60, r=30, t=110, b=60))


def overlay_curves(
    curves: dict[str, pd.DataFrame],
    metric: str = "val_accuracy",
    title: str | None = None,
) -> go.Figure:
    """One line per run label: x = epoch, y = ``metric``."""
    title = title or f"{_pretty(metric)} by run"
    if not curves:
        return _empty(title, "No runs to compare yet")
    fig = go.Figure()
    for label, df in curves.items():
        if df is None or metric not in df.columns or "epoch" not in df.columns:
            x, y = [], []
        else:
            x = df["epoch"].to_numpy()
            y = pd.to_numeric(df[metric], errors="coerce").to_numpy(dtype=float)
        fig.add_trace(
            go.Scatter(
                x=x, y=y, mode="lines+markers", name=str(label), line=dict(width=3),
                marker=dict(size=7),
                hovertemplate=f"{label}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="Epoch")
    fig.update_yaxes(title_text=_pretty(metric))
    # the legend under the plot: beside it, long run names squeezed a half-width chart and were cut off
    fig.update_layout(legend=dict(title_text="Run", orientation="h", yanchor="top", y=-0.22, x=0))
    return _style(fig, title, height=450 + 26 * math.ceil(len(curves) / 2), margin=dict(l=60, r=30, t=80, b=60))


def scatter_runs(
    df: pd.DataFrame,
    x: str = "params",
    y: str = "val_acc",
    label: str = "name",
    title: str | None = None,
    tag: str = "tag",
) -> go.Figure:
    """One point per run; x on a log scale when ``x == "params"``; hover shows label.

    Beside each point: the short ``tag`` column ("#5") when there is one (whole names overlap and clip)."""
    title = title or f"{_pretty(y)} vs {_pretty(x)}"
    if df is None or len(df) == 0:
        return _empty(title, "No runs yet")
    hover = label if label in df.columns else None
    fig = px.scatter(
        df, x=x, y=y, hover_name=hover, text=tag if tag in df.columns else hover, log_x=(x == "params"),
        labels={x: _pretty(x), y: _pretty(y)},
    )
    fig.update_traces(marker=dict(size=14, line=dict(width=1, color="white")), cliponaxis=False,
                      textposition="top center", textfont=dict(size=BASE_FONT_SIZE - 2))
    return _style(fig, title, height=500)


# --------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------
def confusion_matrix(
    cm: np.ndarray,
    class_names: list[str],
    normalize: bool = False,
    title: str | None = None,
    clickable: bool = False,
) -> go.Figure:
    """Confusion-matrix heatmap: x = predicted, y = true (row 0 at the top).

    Cell text shows the counts, or row-normalised percentages when
    ``normalize`` is true (rows with no samples show 0%).  ``customdata`` of a
    cell is ``[true_index, pred_index, count]`` so a click gives (true, pred).
    ``clickable`` adds an invisible marker on each cell centre (same
    customdata): Plotly emits no selection events for heatmaps, so Streamlit's
    ``on_select`` only sees a clicked cell through such a marker.
    """
    cm = np.asarray(cm)
    class_names = [str(c) for c in class_names]
    title = title or ("Confusion matrix (row %)" if normalize else "Confusion matrix")
    if cm.size == 0:
        return _empty(title, "No predictions yet")
    n_true, n_pred = cm.shape
    counts = cm.astype(np.int64) if np.issubdtype(cm.dtype, np.integer) else cm
    if normalize:
        row_sums = cm.sum(axis=1, keepdims=True).astype(float)
        z = np.divide(cm * 100.0, row_sums, out=np.zeros(cm.shape, float), where=row_sums > 0)
        text = [[f"{v:.1f}" for v in row] for row in z]
        color_label = "% of row"
    else:
        z = counts
        text = [[f"{v:g}" if isinstance(v, float) else str(v) for v in row] for row in counts.tolist()]
        color_label = "count"
    fig = px.imshow(
        z,
        x=class_names[:n_pred],
        y=class_names[:n_true],
        color_continuous_scale="Blues",
        labels=dict(x="Predicted", y="True", color=color_label),
        aspect="auto",
    )
    ti, pj = np.meshgrid(np.arange(n_true), np.arange(n_pred), indexing="ij")
    custom = np.dstack([ti, pj, counts]).astype(float if not np.issubdtype(cm.dtype, np.integer) else np.int64)
    pct = "<br>%{z:.1f}% of true class" if normalize else ""
    fig.update_traces(
        text=text,
        texttemplate="%{text}",
        textfont=dict(size=BASE_FONT_SIZE - 2),
        customdata=custom,
        hovertemplate="true: %{y}<br>predicted: %{x}<br>count: %{customdata[2]}" + pct + "<extra></extra>",
    )
    if clickable:
        fig.add_trace(go.Scatter(
            x=[class_names[j] for j in pj.ravel()], y=[class_names[i] for i in ti.ravel()], mode="markers",
            marker=dict(size=6, opacity=0), customdata=custom.reshape(-1, 3),
            hovertemplate="true: %{y}<br>predicted: %{x}<br>count: %{customdata[2]}<br>click to see them<extra></extra>",
            showlegend=False, name="cells"))
    fig.update_xaxes(title_text="Predicted", side="bottom", tickangle=-35)
    fig.update_yaxes(title_text="True", autorange="reversed")
    if clickable:  # fixed ranges: the markers must not pad the axes away from the cells
        fig.update_xaxes(range=[-0.5, n_pred - 0.5], autorange=False)
        fig.update_yaxes(range=[n_true - 0.5, -0.5], autorange=False)
        # no hover cut-off: anywhere in a cell, its own centre marker is the nearest, so a click picks it
        fig.update_layout(hoverdistance=-1)
    return _style(fig, title, height=650)


def probabilities(
    probs: np.ndarray,
    class_names: list[str],
    title: str = "Predicted probabilities",
) -> go.Figure:
    """Horizontal bars of class probabilities (%), sorted descending.

    The top class is drawn in a highlight colour and appears at the top.
    """
    probs = np.asarray(probs, dtype=float).reshape(-1)
    class_names = [str(c) for c in class_names]
    if probs.size == 0:
        return _empty(title, "No prediction yet")
    order = np.argsort(-probs, kind="stable")
    pct = probs[order] * 100.0
    names = [class_names[i] if i < len(class_names) else str(i) for i in order]
    colors = [HIGHLIGHT_COLOR] + [MUTED_COLOR] * (len(order) - 1)
    fig = go.Figure(
        go.Bar(
            x=pct,
            y=names,
            orientation="h",
            marker_color=colors,
            text=[f"{v:.1f}%" for v in pct],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.2f}%<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Probability (%)", range=[0, 115], ticksuffix="%",
                     tickvals=[0, 25, 50, 75, 100])
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=names)
    return _style(fig, title, height=80 + 38 * len(order), showlegend=False,
                  margin=dict(l=110, r=30, t=70, b=50))


# --------------------------------------------------------------------------
# inside a network
# --------------------------------------------------------------------------
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


_PICTURE_LAYOUT = dict(
    # "none" instead of plotly_white: assigning a full template deep-copies it, 8x the cost of the rest of
    # these figures, and a heatmap without axes needs only the few settings below to look the same.
    template="none", font=dict(size=BASE_FONT_SIZE, color="#2a3f5f"), paper_bgcolor="white", plot_bgcolor="white",
    hoverlabel=dict(font_size=BASE_FONT_SIZE), margin=dict(l=20, r=20, t=70, b=20),
    xaxis=dict(visible=False, constrain="domain"),
    yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain"))


def _picture_figure(traces: list, title: str, height: int) -> go.Figure:
    """Image-like heatmaps, built in one validated pass (the Inside page draws five of them a click)."""
    return go.Figure(data=traces, layout=dict(
        _PICTURE_LAYOUT, height=height,
        title=dict(text=title, font=dict(size=TITLE_FONT_SIZE), x=0.02, xanchor="left")))


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


def gradcam_overlay(image: np.ndarray, cam: np.ndarray, title: str = "Grad-CAM") -> go.Figure:
    """The gray 28x28 image with its Grad-CAM heat (0..1) on top; low heat is transparent, like saliency_overlay."""
    image = np.asarray(image)
    cam = np.asarray(cam, dtype=float)
    if image.size == 0 or cam.size == 0:
        return _empty(title, "No image selected")
    cam = np.nan_to_num(np.clip(cam, 0, None))
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else np.zeros_like(cam)
    heat_scale = [[0.0, "rgba(255,255,0,0)"], [0.2, "rgba(255,220,0,0.15)"], [0.6, "rgba(255,120,0,0.55)"],
                  [1.0, "rgba(220,0,0,0.85)"]]
    traces = [
        go.Heatmap(z=image, colorscale="gray", zmin=0, zmax=255, zsmooth=False, showscale=False, name="image",
                   hovertemplate="row %{y}, col %{x}<br>pixel %{z}<extra></extra>"),
        go.Heatmap(z=cam, colorscale=heat_scale, zmin=0, zmax=1, zsmooth=False, showscale=True, name="Grad-CAM",
                   colorbar=dict(title="Grad-CAM", thickness=15, outlinewidth=0),
                   hovertemplate="row %{y}, col %{x}<br>Grad-CAM %{z:.0%} of its peak<extra></extra>")]
    return _picture_figure(traces, title, 450)


# --------------------------------------------------------------------------
# sweeps, continued runs, seed spread
# --------------------------------------------------------------------------
def parallel_coordinates(trials: pd.DataFrame, params: list[str], metric: str = "Val accuracy",
                         log_axes: tuple[str, ...] | list[str] = (),
                         title: str = "Trials on parallel coordinates") -> go.Figure:
    """One line a trial across an axis per hyperparameter and a last axis for ``metric``, coloured by it; drag
    along an axis to keep only the trials in that range. Named values (an optimizer) get a tick each; the
    ``log_axes`` are drawn as log10 with the real values at the decades."""
    ready = trials is not None and metric in trials and len(trials.dropna(subset=[metric]))
    if not ready or not params:
        return _empty(title, "No trial has a validation accuracy yet", 420)
    df = trials.dropna(subset=[metric])
    dims = [_parcoords_axis(name, df[name], name in log_axes) for name in params]
    score = df[metric].astype(float)
    dims.append(dict(label=metric, values=score, range=[float(score.min()), float(score.max())]
                     if score.min() < score.max() else None))
    fig = go.Figure(go.Parcoords(
        line=dict(color=score, colorscale="Viridis", showscale=True, colorbar=dict(title=metric, thickness=15)),
        dimensions=dims, labelfont=dict(size=BASE_FONT_SIZE), tickfont=dict(size=BASE_FONT_SIZE - 3),
        labelangle=0))
    return _style(fig, title, height=460, margin=dict(l=80, r=60, t=110, b=40))


def _parcoords_axis(name: str, column: pd.Series, log_scale: bool) -> dict:
    if not pd.api.types.is_numeric_dtype(column):
        levels = sorted(column.astype(str).unique())
        return dict(label=name, values=[levels.index(v) for v in column.astype(str)],
                    tickvals=list(range(len(levels))), ticktext=levels)
    values = column.astype(float)
    if log_scale and (values > 0).all():
        logs = np.log10(values)
        decades = list(range(math.floor(logs.min()), math.ceil(logs.max()) + 1))
        return dict(label=f"{name} (log)", values=logs, tickvals=decades, ticktext=[f"{10.0 ** d:g}" for d in decades])
    distinct = sorted(set(values))
    ticks = dict(tickvals=distinct, ticktext=[f"{v:g}" for v in distinct]) if len(distinct) <= 6 else {}
    return dict(label=name, values=values, **ticks)


def history_curves(epochs: pd.DataFrame | list[dict], starts: dict[int, int], title: str = "") -> go.Figure:
    """``training_curves`` over a whole lineage, a dashed line where each continuation took over
    (``starts``: {the epoch after which it began: its run id})."""
    fig = training_curves(pd.DataFrame(epochs), title=title or "Training curves, the whole history")
    for epoch, run_id in sorted(starts.items()):
        _add_epoch_marker(fig, epoch + 0.5, f"continued as #{run_id}", "#7f3fbf", 0.02)
    return fig


def seed_band(groups: dict[str, list[pd.DataFrame]], metric: str = "val_accuracy",
              title: str | None = None) -> go.Figure:
    """Each group's mean ``metric`` per epoch across its seeds, inside a band of ± one standard deviation
    (sample, ddof=1; drawn where at least two seeds reached that epoch)."""
    title = title or f"{_pretty(metric)}: the spread over seeds"
    palette = px.colors.qualitative.Plotly
    fig = go.Figure()
    for i, (label, frames) in enumerate(groups.items()):
        rows = [f[["epoch", metric]] for f in frames if f is not None and len(f) and metric in f]
        if not rows:
            continue
        stats = pd.concat(rows).groupby("epoch")[metric].agg(["mean", "std", "count"]).reset_index()
        color = palette[i % len(palette)]
        band = stats[stats["count"] >= 2]
        fill = "rgba({},{},{},0.18)".format(*(int(color[j:j + 2], 16) for j in (1, 3, 5)))
        fig.add_trace(go.Scatter(x=band["epoch"], y=band["mean"] + band["std"], mode="lines", line=dict(width=0),
                                 legendgroup=label, showlegend=False, hoverinfo="skip", name=f"{label} +1 std"))
        fig.add_trace(go.Scatter(x=band["epoch"], y=band["mean"] - band["std"], mode="lines", line=dict(width=0),
                                 fill="tonexty", fillcolor=fill, legendgroup=label, name=f"{label}: ± 1 std",
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=stats["epoch"], y=stats["mean"], mode="lines+markers", line=dict(color=color, width=3),
            legendgroup=label, name=f"{label}: mean of {len(rows)} seeds", customdata=stats[["std", "count"]],
            hovertemplate="epoch %{x}: mean %{y:.4f} ± %{customdata[0]:.4f} (%{customdata[1]} seeds)<extra></extra>"))
    if not fig.data:
        return _empty(title, "No repeated runs with epochs yet")
    fig.update_xaxes(title_text="Epoch", dtick=1 if fig.data[-1].x is not None and len(fig.data[-1].x) <= 20 else None)
    fig.update_yaxes(title_text=_pretty(metric))
    fig.update_layout(legend_title_text="Configuration")
    return _style(fig, title, height=450)
