"""Trained models on disk: saved atomically with a SHA-256, loaded only when the hash matches."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from fmnist import files, pipelines
from fmnist.data import NUM_CLASSES


class ArtifactError(RuntimeError):
    pass


class MajorityModel:
    """The majority-class baseline: always the same label."""

    def __init__(self, label: int):
        self.label = int(label)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(x), NUM_CLASSES), dtype=np.float32)
        probs[:, self.label] = 1.0
        return probs


class ForestModel:
    """A scikit-learn classifier on flattened pixels, with the lab's predict_proba signature."""

    def __init__(self, clf):
        self.clf = clf

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(x), NUM_CLASSES), dtype=np.float32)
        probs[:, self.clf.classes_] = self.clf.predict_proba(x.reshape(len(x), -1))
        return probs


class KerasModel:
    """A Keras model's probabilities; with `flip_average`, the mean of the picture's and its mirror's
    (test-time augmentation for a net trained with left-right flips: twice the work a prediction)."""

    def __init__(self, model, flip_average: bool = False):
        self.model, self.flip_average = model, flip_average

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.uint8)
        if not self.flip_average:
            return self._probabilities(x)
        return (self._probabilities(x) + self._probabilities(x[:, :, ::-1])) / 2

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        if len(x) <= 64:  # calling the model directly skips predict()'s per-call dataset set-up
            return np.asarray(self.model(x, training=False))
        return self.model.predict(pipelines.batches(x, batch_size=1024), verbose=0)


def suffix_for(kind: str) -> str:
    return {"majority": ".json", "forest": ".joblib"}.get(kind, ".keras")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(model, kind: str, path: Path) -> str:
    """Save never half-written; returns the file's SHA-256."""
    with files.atomic_path(path) as tmp:
        _write(model, kind, tmp)
        return sha256(tmp)


def _write(model, kind: str, tmp: Path) -> None:
    if kind == "majority":
        tmp.write_text(json.dumps({"label": model.label}))
    elif kind == "forest":
        import joblib
        joblib.dump(model.clf, tmp)
    else:
        model.model.save(tmp)


def verify(path: str | None, expected_sha: str | None, data: bytes | None = None) -> Path:
    """The model file's path once it (or `data`, its bytes already read) matches the SHA-256 in the store."""
    if not path or not expected_sha:
        raise ArtifactError("This run has no saved model (it did not finish). Choose a finished run.")
    file = Path(path)
    if data is None and not file.is_file():
        raise ArtifactError(f"The model file {file} is missing. Retrain the run, or delete it from the results page.")
    digest = hashlib.sha256(data).hexdigest() if data is not None else sha256(file)
    if digest != expected_sha:
        raise ArtifactError(f"The model file {file} does not match its recorded SHA-256: it was changed or damaged. "
                            "It was not loaded; retrain the run.")
    return file


def fetch(store, run, models_dir: Path) -> str | None:
    """The run's model file on this machine: as recorded, or copied out of the store when the worker ran on
    another node (checked against its SHA-256 before it is written). None when there is none to be had."""
    if run.model_path and Path(run.model_path).is_file():
        return run.model_path
    stored = store.artifact(run.id)
    if stored is None:
        return run.model_path
    digest, suffix, data = stored
    local = Path(models_dir) / f"run-{run.id}{suffix}"
    verify(str(local), run.model_sha256, data)
    files.write_bytes(local, data)
    return str(local)


def load(path: str | None, expected_sha: str | None, kind: str, flip_average: bool = False):
    """Load a model after checking it exists and matches the SHA-256 recorded in the store."""
    file = verify(path, expected_sha)
    if kind == "majority":
        return MajorityModel(json.loads(file.read_text())["label"])
    if kind == "forest":
        import joblib
        return ForestModel(joblib.load(file))  # safe: our own file, its hash checked above
    import keras

    from fmnist import batchnorm  # noqa: F401 - registers the layer that saved networks name
    return KerasModel(keras.models.load_model(file, compile=False), flip_average)
