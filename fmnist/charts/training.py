"""How runs learn: one run's curves, runs overlaid, a lineage of continued runs, the spread over seeds."""
from __future__ import annotations

import math

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from fmnist.charts._style import (
    BASE_FONT_SIZE,
    HIGHLIGHT_COLOR,
    TRAIN_COLOR,
    VAL_COLOR,
    _empty,
    _pretty,
    _style,
    _style_layout,
    template_for,
)


def _marker_layout(x: float, text: str, color: str, ypos: float) -> tuple[list[dict], list[dict]]:
    """A dashed vertical line at epoch ``x`` in both subplots, labelled at the top of each: (shapes, annotations)."""
    shapes = [dict(type="line", x0=x, x1=x, xref=xref, y0=0, y1=1, yref=f"{yref} domain",
                   line=dict(color=color, dash="dash", width=2)) for xref, yref in (("x", "y"), ("x2", "y2"))]
    notes = [dict(x=x, y=ypos, xref=xref, yref="paper", text=text, showarrow=False, xanchor="left",
                  yanchor="bottom", font=dict(color=color, size=BASE_FONT_SIZE - 2), bgcolor="rgba(255,255,255,0.7)")
             for xref in ("x", "x2")]
    return shapes, notes


def _add_epoch_marker(fig: go.Figure, x: float, text: str, color: str, ypos: float) -> None:
    shapes, notes = _marker_layout(x, text, color, ypos)
    fig.update_layout(shapes=[*fig.layout.shapes, *shapes], annotations=[*fig.layout.annotations, *notes])


_CURVES = [  # column, legend label, colour, the subplot's axis suffix ("" the left, "2" the right), in the legend
    ("accuracy", "train", TRAIN_COLOR, "", True),
    ("val_accuracy", "validation", VAL_COLOR, "", True),
    ("loss", "train", TRAIN_COLOR, "2", False),
    ("val_loss", "validation", VAL_COLOR, "2", False),
]
_DOMAINS = ((0.0, 0.45), (0.55, 1.0))  # make_subplots(cols=2, horizontal_spacing=0.1)


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

    Built in one validated pass, with the layout make_subplots would give and a template cut to scatter
    traces: the live panel builds this every epoch of every run, and make_subplots, one update per marker
    and the whole template took 5x as long (87 ms against 16 ms of CPU).
    """
    df = epochs if epochs is not None else pd.DataFrame()
    cols = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    df = df.reindex(columns=cols) if len(df.columns) else pd.DataFrame(columns=cols)
    x = pd.to_numeric(df["epoch"], errors="coerce").to_numpy()
    traces = [
        go.Scatter(
            x=x, y=pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float), xaxis=f"x{axis}",
            yaxis=f"y{axis}", mode="lines+markers", name=label, legendgroup=label, showlegend=legend,
            line=dict(color=color, width=3, dash="solid" if label == "train" else "dot"), marker=dict(size=8),
            hovertemplate=f"{label} {column.replace('val_', '')}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
        )
        for column, label, color, axis, legend in _CURVES
    ]
    notes = [dict(text=text, x=sum(domain) / 2, y=1.0, xref="paper", yref="paper", xanchor="center",
                  yanchor="bottom", showarrow=False, font=dict(size=BASE_FONT_SIZE + 2))
             for text, domain in zip(("Accuracy", "Loss"), _DOMAINS)]
    shapes = []
    xaxis = dict(title=dict(text="Epoch"), rangemode="tozero" if len(df) == 0 else "normal")
    yaxes = [dict(title=dict(text=name)) for name in ("Accuracy", "Loss")]
    if len(df) == 0:
        xaxis["range"] = [0, 10]
        for axis in yaxes:
            axis["range"] = [0, 1]
        notes.append(dict(text="Waiting for the first epoch…", xref="paper", yref="paper", x=0.5, y=0.5,
                          showarrow=False, font=dict(size=BASE_FONT_SIZE + 4, color="gray")))
    else:
        xaxis["dtick"] = 1 if len(df) <= 10 else None  # a tick an epoch; beyond ten, too crowded
        marks = [] if best_epoch is None else [(int(best_epoch), f"best epoch {int(best_epoch)}", "#2ca02c", 0.92)]
        if stopped_epoch is not None:
            marks.append((int(stopped_epoch), "early stop", HIGHLIGHT_COLOR, 0.02))
        for mark in marks:
            more_shapes, more_notes = _marker_layout(*mark)
            shapes += more_shapes
            notes += more_notes
    layout = dict(
        xaxis=dict(xaxis, anchor="y", domain=_DOMAINS[0]), yaxis=dict(yaxes[0], anchor="x", domain=(0.0, 1.0)),
        xaxis2=dict(xaxis, anchor="y2", domain=_DOMAINS[1]), yaxis2=dict(yaxes[1], anchor="x2", domain=(0.0, 1.0)),
        annotations=notes, shapes=shapes, hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.08, x=1, xanchor="right", font=dict(size=BASE_FONT_SIZE)),
        **_style_layout(title or "Training curves", height=450, margin=dict(l=60, r=30, t=110, b=60),
                        template=template_for("scatter")),
    )
    return go.Figure(data=traces, layout=layout)


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
