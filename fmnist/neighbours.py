"""The training images nearest to a picture in raw pixels: what a lookup would answer, beside what the model says."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fmnist import data
from fmnist.data import CLASS_NAMES
from fmnist.settings import Settings


@dataclass(frozen=True)
class Neighbours:
    indices: np.ndarray    # (k,) rows of the 42,000 training images
    images: np.ndarray     # (k, 28, 28) uint8
    labels: np.ndarray     # (k,)
    distances: np.ndarray  # (k,) Euclidean, in 0..255 pixel units

    @property
    def titles(self) -> list[str]:
        return [CLASS_NAMES[y] for y in self.labels]

    @property
    def caption(self) -> str:
        distances = ", ".join(f"{d:.0f}" for d in self.distances)
        return (f"Closest in raw pixels (Euclidean distance {distances}). A model learns patterns, not a lookup: "
                "its answer and these can disagree.")


@functools.lru_cache(maxsize=1)
def _train_index(settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """The training images flattened to float32 (42,000 x 784, 132 MB) and their squared norms."""
    x_train = data.shared_split(settings).x_train
    flat = x_train.reshape(len(x_train), -1).astype(np.float32)
    return flat, np.einsum("ij,ij->i", flat, flat, dtype=np.float64)


def nearest_training_images(settings: Settings, image28: np.ndarray, k: int = 3) -> Neighbours:
    """The k training images closest to image28 in Euclidean pixel distance.

    Plain numpy rather than sklearn's NearestNeighbors: for one query over 784 dimensions a
    brute-force matrix-vector product is what any index does anyway (trees do not help in 784-D),
    it takes ~20 ms, and there is no index object to fit or keep. Ranking uses
    |x|^2 - 2 x.q in float32; the best candidates are then re-ranked with exact float64
    differences, so rounding in the fast pass cannot change the answer.
    """
    s = data.shared_split(settings)
    flat, norms = _train_index(settings)
    q = np.asarray(image28, np.float32).reshape(-1)
    approx = norms - 2.0 * (flat @ q)
    m = min(len(approx), max(32, 10 * k))
    candidates = np.argpartition(approx, m - 1)[:m]
    diff = flat[candidates].astype(np.float64) - q
    exact = np.einsum("ij,ij->i", diff, diff)
    order = np.lexsort((candidates, exact))[:k]  # ties: the lower index first
    idx = candidates[order]
    return Neighbours(idx, s.x_train[idx], s.y_train[idx], np.sqrt(exact[order]))
