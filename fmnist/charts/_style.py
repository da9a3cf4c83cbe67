"""The charts' shared look: sizes and colours for a projector, the common layout, an empty figure, pretty names."""
from __future__ import annotations

import functools

import plotly.graph_objects as go
import plotly.io as pio

BASE_FONT_SIZE = 16
TITLE_FONT_SIZE = 22
SUBTITLE_FONT_SIZE = 15
TEMPLATE = "plotly_white"
TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
HIGHLIGHT_COLOR = "#d62728"
MUTED_COLOR = "#9aa5b1"
CELL_PX = 150  # height of one image cell in image grids


@functools.cache
def template_for(*trace_types: str) -> go.layout.Template:
    """TEMPLATE with only the trace types a figure uses: the same look, a third of the cost of building the
    figure (Plotly validates a template's settings for all 24 trace types on every figure it is set on)."""
    whole = pio.templates[TEMPLATE]
    return go.layout.Template(layout=whole.layout, data={t: whole.data[t] for t in trace_types})


def _style_layout(title: str, **layout) -> dict:
    """The common projector-friendly layout, as arguments for a figure's layout."""
    base = dict(
        # the template object, not its name: Plotly looks a name up and deep-copies the template (55 ms a figure)
        template=pio.templates[TEMPLATE],
        title=dict(text=title, font=dict(size=TITLE_FONT_SIZE), x=0.02, xanchor="left"),
        font=dict(size=BASE_FONT_SIZE),
        hoverlabel=dict(font_size=BASE_FONT_SIZE),
        margin=dict(l=60, r=30, t=80, b=60),
    )
    base.update(layout)
    return base


def _style(fig: go.Figure, title: str, **layout) -> go.Figure:
    """Apply the common projector-friendly look."""
    fig.update_layout(**_style_layout(title, **layout))
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
