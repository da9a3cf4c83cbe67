"""The dataset at a glance: images per class and split, a 2-D map of the whole set."""
from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

from fmnist.charts._style import _empty, _style


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
) -> go.Figure:
    """2-D scatter of an embedding with one trace per class.

    ``customdata`` of each point is ``[index]``, so a click handler can look the
    image up (Plotly cannot render images inside hover labels: the hover text
    shows the sample index and class only).
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2) if np.size(points) else np.empty((0, 2))
    labels = np.asarray(labels).astype(int).reshape(-1)
    class_names = [str(c) for c in class_names]
    if len(points) == 0:
        return _empty(title, "No points to show")
    if len(labels) != len(points):
        raise ValueError("points and labels must have the same length")

    index = np.arange(len(points))
    big = len(points) > 5000
    scatter_cls = go.Scattergl if big else go.Scatter
    colors = px.colors.qualitative.Plotly + px.colors.qualitative.D3
    fig = go.Figure()
    for c, name in enumerate(class_names):
        mask = labels == c
        custom = index[mask].reshape(-1, 1)
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
