"""Why a model said what it said: a heat layer (saliency, Grad-CAM) over the gray image it looked at."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from fmnist.charts._style import _empty, _picture_figure, _style

# transparent at no heat, so the garment stays visible underneath
HEAT_SCALE = [[0.0, "rgba(255,255,0,0)"], [0.2, "rgba(255,220,0,0.15)"], [0.6, "rgba(255,120,0,0.55)"],
              [1.0, "rgba(220,0,0,0.85)"]]


def _clipped_and_scaled(heat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The heat with negatives and NaN as 0, and the same divided by its peak (all 0 where there is none)."""
    heat = np.nan_to_num(np.clip(heat, 0, None))
    peak = float(heat.max())
    return heat, heat / peak if peak > 0 else np.zeros_like(heat)

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
    sal, sal_norm = _clipped_and_scaled(sal)
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
            colorscale=HEAT_SCALE,
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


def gradcam_overlay(image: np.ndarray, cam: np.ndarray, title: str = "Grad-CAM") -> go.Figure:
    """The gray 28x28 image with its Grad-CAM heat (0..1) on top; low heat is transparent, like saliency_overlay."""
    image = np.asarray(image)
    cam = np.asarray(cam, dtype=float)
    if image.size == 0 or cam.size == 0:
        return _empty(title, "No image selected")
    cam = _clipped_and_scaled(cam)[1]
    traces = [
        go.Heatmap(z=image, colorscale="gray", zmin=0, zmax=255, zsmooth=False, showscale=False, name="image",
                   hovertemplate="row %{y}, col %{x}<br>pixel %{z}<extra></extra>"),
        go.Heatmap(z=cam, colorscale=HEAT_SCALE, zmin=0, zmax=1, zsmooth=False, showscale=True, name="Grad-CAM",
                   colorbar=dict(title="Grad-CAM", thickness=15, outlinewidth=0),
                   hovertemplate="row %{y}, col %{x}<br>Grad-CAM %{z:.0%} of its peak<extra></extra>")]
    return _picture_figure(traces, title, 450)
