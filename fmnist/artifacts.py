"""Trained models on disk: saved atomically with a SHA-256, loaded only when the hash matches."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


class ArtifactError(RuntimeError):
    pass


class MajorityModel:
    """The majority-class baseline: always the same label."""

    def __init__(self, label: int):
        self.label = int(label)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(x), 10), dtype=np.float32)
        probs[:, self.label] = 1.0
        return probs


class ForestModel:
    """A scikit-learn classifier on flattened pixels, with the lab's predict_proba signature."""

    def __init__(self, clf):
        self.clf = clf

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(x), 10), dtype=np.float32)
        probs[:, self.clf.classes_] = self.clf.predict_proba(x.reshape(len(x), -1))
        return probs


class KerasModel:
    def __init__(self, model):
        self.model = model

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.uint8)
        if len(x) <= 64:  # calling the model directly skips predict()'s per-call dataset set-up
            return np.asarray(self.model(x, training=False))
        return self.model.predict(x, batch_size=1024, verbose=0)


def suffix_for(kind: str) -> str:
    return {"majority": ".json", "forest": ".joblib"}.get(kind, ".keras")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(model, kind: str, path: Path) -> str:
    """Write to a temporary file beside `path`, then rename; returns the file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        _write(model, kind, Path(tmp))
        digest = sha256(Path(tmp))
        os.replace(tmp, path)
        return digest
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write(model, kind: str, tmp: Path) -> None:
    if kind == "majority":
        tmp.write_text(json.dumps({"label": model.label}))
    elif kind == "forest":
        import joblib
        joblib.dump(model.clf, tmp)
    else:
        model.model.save(tmp)


def load(path: str | None, expected_sha: str | None, kind: str):
    """Load a model after checking it exists and matches the SHA-256 recorded in the store."""
    if not path or not expected_sha:
        raise ArtifactError("This run has no saved model (it did not finish). Choose a finished run.")
    file = Path(path)
    if not file.is_file():
        raise ArtifactError(f"The model file {file} is missing. Retrain the run, or delete it from the results page.")
    if sha256(file) != expected_sha:
        raise ArtifactError(f"The model file {file} does not match its recorded SHA-256: it was changed or damaged. "
                            "It was not loaded; retrain the run.")
    if kind == "majority":
        return MajorityModel(json.loads(file.read_text())["label"])
    if kind == "forest":
        import joblib
        return ForestModel(joblib.load(file))  # safe: our own file, its hash checked above
    import keras
    return KerasModel(keras.models.load_model(file, compile=False))
