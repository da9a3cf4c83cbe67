"""Classify one 28x28 picture with a stored run: the model cache, probabilities, the steps of an
upload as thumbnails, a test image to try. The nearest training images are fmnist.neighbours', the saliency
map fmnist.saliency's."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fmnist import artifacts, data, images
from fmnist.data import CLASS_NAMES
from fmnist.settings import Settings
from fmnist.store import Run, Store

NO_RUN = "No finished run yet: train a model first: python -m fmnist train cnn2"
STEP_CAPTIONS = ("1. Grayscale", "2. Backdrop and uneven light removed", "3. The item alone, outlines filled",
                 "4. Cropped to the item", "5. 28 × 28: what the model sees")
WAITING = {"draw": "Draw something first: one garment, as big as the canvas.",
           "upload": "Upload a picture of one garment: PNG, JPEG, GIF, BMP or WebP, up to 5 MB.",
           "blank": "This picture looks blank: upload a picture of one garment."}


class PredictError(RuntimeError):
    """No usable run (none finished, unknown id); the message says what to do."""


@dataclass(frozen=True)
class Guess:
    label: int
    name: str
    prob: float

    def __str__(self) -> str:
        return f"{self.name} {self.prob:.1%}"


# ---------------------------------------------------------------- runs and models


def finished_runs(store: Store) -> list[Run]:
    """Finished runs with a saved model, best validation accuracy first (newest first on ties)."""
    runs = [r for r in store.runs(("finished",), limit=100_000) if r.model_path and r.model_sha256]
    return sorted(runs, key=lambda r: (-(r.val_acc if r.val_acc is not None else -1.0), -r.id))


def default_run(store: Store) -> Run | None:
    runs = finished_runs(store)
    return runs[0] if runs else None


def choose_run(store: Store, run_id: int | None = None) -> Run:
    """The given run if it can predict, else the best one; PredictError says why not."""
    if run_id is None:
        run = default_run(store)
        if run is None:
            raise PredictError(NO_RUN)
        return run
    run = store.get(run_id)
    if run is None:
        raise PredictError(f"Run {run_id} does not exist. `python -m fmnist runs` lists the runs.")
    if run.status != "finished" or not run.model_path:
        raise PredictError(f"Run {run_id} is {run.status}; only a finished run has a saved model. "
                           "Choose a finished run (`python -m fmnist runs`).")
    return run


def load_model(store: Store, run_id: int, models_dir: Path):
    """The run's model, checked against its SHA-256 on first load and then kept in memory. A model trained on
    another node is copied out of the store into `models_dir` first (artifacts.fetch)."""
    run = choose_run(store, run_id)
    path = artifacts.fetch(store, run, models_dir)
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None  # artifacts.load explains the missing file
    # The file's stamp is part of the key: a file changed after loading is hashed (and refused) again.
    return _cached_model(path, run.model_sha256, run.kind, run.run_config().flip_average, stamp)


@functools.lru_cache(maxsize=4)  # a few models in memory: a class usually compares two or three
def _cached_model(path: str, sha: str, kind: str, flip_average: bool, stamp):
    return artifacts.load(path, sha, kind, flip_average)


# ---------------------------------------------------------------- prediction


def predict(model, image28: np.ndarray) -> np.ndarray:
    """Probabilities (10,) for one 28x28 uint8 image."""
    x = np.asarray(image28)
    if x.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {x.shape}")
    return np.asarray(model.predict_proba(x.astype(np.uint8)[None])[0], dtype=np.float64)


def top_k(probs: np.ndarray, k: int = 3) -> list[Guess]:
    order = np.argsort(-np.asarray(probs), kind="stable")[:k]
    return [Guess(int(i), CLASS_NAMES[i], float(probs[i])) for i in order]


def classify_file(model, path: str | Path, k: int = 3) -> list[Guess]:
    """Top-k guesses for a picture file, through the same preprocessing as an upload."""
    steps = images.from_upload(read_picture(path))
    if steps.blank:
        raise images.ImageError("The picture looks blank (almost nothing on it), so there is nothing to classify.")
    return top_k(predict(model, steps.final), k)


def read_picture(path: str | Path) -> bytes:
    """A file's bytes, with a clear ImageError for anything that is not a readable file."""
    file = Path(path)
    try:
        if not file.exists():
            raise images.ImageError("No such file. Check the path.")
        if file.is_dir():
            raise images.ImageError("This is a folder, not a picture file. Give the picture files inside it.")
        if not file.is_file():
            raise images.ImageError("This is not a regular file. Give a picture file.")
        size = file.stat().st_size
        if size > images.MAX_BYTES:
            raise images.ImageError(f"The file is {size / 2**20:.1f} MB; the limit is {images.MAX_BYTES // 2**20} MB. "
                                    "Use a smaller or more compressed picture.")
        return file.read_bytes()
    except OSError as exc:
        raise images.ImageError(f"The file cannot be read ({exc.strerror or exc}).") from None


def steps_row(steps: images.Steps, size: int = 168) -> list[tuple[str, np.ndarray]]:
    """Every preprocessing step with its caption, as equal square thumbnails for a row on a page."""
    arrays = (steps.gray, steps.light_on_dark, steps.filled, steps.cropped, steps.final)  # as STEP_CAPTIONS
    return [(caption, thumbnail(a, size)) for caption, a in zip(STEP_CAPTIONS, arrays)]


def thumbnail(gray: np.ndarray, size: int = 168) -> np.ndarray:
    """Pad to a square with the border's own colour, then scale to size x size.

    Enlarging is blocky (nearest), so a 28x28 image shows its real pixels instead of a blur."""
    a = np.asarray(gray, np.uint8)
    h, w = a.shape
    side = max(h, w)
    border = int(np.median(np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])))
    square = np.full((side, side), border, np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    square[top:top + h, left:left + w] = a
    method = Image.Resampling.NEAREST if side <= size else Image.Resampling.BOX
    return np.asarray(Image.fromarray(square).resize((size, size), method))


def pick_test_image(settings: Settings, index: int) -> tuple[np.ndarray, int]:
    """Test image `index` and its true label."""
    s = data.shared_split(settings)
    return s.x_test[index], int(s.y_test[index])
