"""Plotly figure builders for the Fashion-MNIST Lab dashboard.

Every function takes plain data (numpy arrays, pandas DataFrames, lists,
dicts) and returns a ``plotly.graph_objects.Figure``.  Nothing here imports
Streamlit and nothing runs at import time, so the builders can be used from
pages, notebooks and tests alike.

Figures are styled for a projector: ~16px base font, a clear title, gray
colormap with a fixed 0..255 range for images (no re-normalisation), no axis
ticks on image cells.  Empty inputs give a figure with an explanatory
annotation instead of raising.

One module a job: ``images`` (dataset images, tiled pictures), ``overlays``
(saliency and Grad-CAM over an image), ``dataset`` (class balance, the 2-D
map), ``training`` (curves), ``results`` (runs compared, evaluation),
``sweeps`` (trials), all with the look of ``_style``.  Call them as
``charts.X``.  ``frozen`` makes a figure that many sessions show ready to
send once.
"""

from __future__ import annotations

from fmnist.charts._style import BASE_FONT_SIZE, TITLE_FONT_SIZE
from fmnist.charts.dataset import class_balance, embedding
from fmnist.charts.images import image_grid, mean_images, picture_grid, tile_mosaic
from fmnist.charts.overlays import gradcam_overlay, saliency_overlay
from fmnist.charts.results import confusion_matrix, probabilities, scatter_runs
from fmnist.charts.sweeps import parallel_coordinates
from fmnist.charts.training import history_curves, overlay_curves, seed_band, training_curves

__all__ = [
    "BASE_FONT_SIZE",
    "TITLE_FONT_SIZE",
    "image_grid",
    "mean_images",
    "tile_mosaic",
    "picture_grid",
    "saliency_overlay",
    "gradcam_overlay",
    "class_balance",
    "embedding",
    "training_curves",
    "overlay_curves",
    "history_curves",
    "seed_band",
    "scatter_runs",
    "confusion_matrix",
    "probabilities",
    "parallel_coordinates",
]
