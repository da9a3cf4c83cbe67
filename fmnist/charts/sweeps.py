"""A sweep's trials on parallel coordinates."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fmnist.charts._style import BASE_FONT_SIZE, _empty, _style


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
