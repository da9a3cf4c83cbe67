"""Runs compared and evaluated: accuracy against size, the confusion matrix, one prediction's probabilities."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from fmnist.charts._style import BASE_FONT_SIZE, HIGHLIGHT_COLOR, MUTED_COLOR, _empty, _pretty, _style


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
            hovertemplate="true: %{y}<br>predicted: %{x}<br>count: %{customdata[2]}<br>click to see them"
                          "<extra></extra>",
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
