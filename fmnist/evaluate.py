"""Test-set evaluation of one run: test accuracy and error beside validation, the confusion matrix,
a per-class report and every misclassified test image. Computed once per model, kept in the store."""
from __future__ import annotations

import numpy as np
import pandas as pd

from fmnist import artifacts
from fmnist.data import CLASS_NAMES, NUM_CLASSES, Split, load_split
from fmnist.settings import Settings
from fmnist.store import Store

LABELS = list(range(NUM_CLASSES))
WHY_LAST = ("The test set is kept for last: every look at test accuracy that influences a choice (which model, "
            "which settings) makes that figure optimistic. Choose on validation accuracy, then look at test "
            "accuracy once, to report it.")


class EvaluationError(RuntimeError):
    """The run cannot be evaluated (it does not exist); the message says why."""


def evaluate(store: Store, settings: Settings, run_id: int, split: Split | None = None) -> dict:
    """The run's test-set report. Every call counts one more look at the test set (Store.count_test_view).

    The report is computed once per model file (keyed by its SHA-256) and kept in the store, so a second
    call loads no model. A missing or changed model file raises artifacts.ArtifactError with a message."""
    run = store.get(run_id)
    if run is None:
        raise EvaluationError(f"Run {run_id} does not exist (it may have been deleted). Choose another run.")
    report = store.evaluation(run_id)
    if report is None or report.get("model_sha256") != run.model_sha256:
        model = artifacts.load(artifacts.fetch(store, run, settings.models_dir), run.model_sha256, run.kind,
                               run.run_config().flip_average)
        split = split or load_split(settings)
        report = build_report(model.predict_proba(split.x_test), split.y_test, run.val_acc)
        report["model_sha256"] = run.model_sha256
        store.save_evaluation(run_id, report)
    store.count_test_view(run_id)
    return report


def reveal_all(store: Store) -> list[int]:
    """Open every locked test accuracy (the notebook's full table), counting one look for each run revealed.

    Returns the ids of the runs revealed; a run already opened is not counted again."""
    locked = [r.id for r in store.runs(limit=1_000_000) if r.test_acc is not None and r.test_views == 0]
    for run_id in locked:
        store.count_test_view(run_id)
    return locked


def build_report(probs: np.ndarray, y: np.ndarray, val_acc: float | None) -> dict:
    """Everything the test view shows, as plain lists (it is stored as JSON)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y = np.asarray(y).astype(int)
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    acc = float(np.mean(pred == y))
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=LABELS, zero_division=0)
    wrong = np.flatnonzero(pred != y)
    return {
        "n_test": int(len(y)),
        "test_accuracy": acc, "test_error": 1.0 - acc,
        "val_accuracy": val_acc, "val_error": None if val_acc is None else 1.0 - val_acc,
        "classes": list(CLASS_NAMES),
        "confusion": confusion_matrix(y, pred, labels=LABELS).tolist(),
        "per_class": {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
                      "support": support.tolist()},
        "labels": y.tolist(), "predictions": pred.tolist(), "confidence": np.round(conf, 4).tolist(),
        "misclassified": {"index": wrong.tolist(), "true": y[wrong].tolist(), "pred": pred[wrong].tolist(),
                          "confidence": np.round(conf[wrong], 4).tolist()},
    }


def per_class_frame(report: dict) -> pd.DataFrame:
    pc = report["per_class"]
    return pd.DataFrame({"Class": report["classes"], "Precision": pc["precision"], "Recall": pc["recall"],
                         "F1": pc["f1"], "Test images": pc["support"]})


def examples(report: dict, true: int | None = None,
             pred: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Test images in one cell of the confusion matrix (None = any class), most confident first.

    Only mistakes, unless true and predicted name the same class (a diagonal cell: the correct ones).
    Returns (indices, true labels, predicted labels, confidences)."""
    y, p = np.array(report["labels"]), np.array(report["predictions"])
    conf = np.array(report["confidence"])
    keep = (y == p) if true is not None and true == pred else (y != p)
    if true is not None:
        keep &= y == true
    if pred is not None:
        keep &= p == pred
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(-conf[idx], kind="stable")]
    return idx, y[idx], p[idx], conf[idx]


def titles(true: np.ndarray, pred: np.ndarray, conf: np.ndarray) -> list[str]:
    """Two short lines an image (true class, then the prediction), so six captions side by side never overlap."""
    return [f"{CLASS_NAMES[t]}<br>→ {CLASS_NAMES[p]} {c:.0%}" for t, p, c in zip(true, pred, conf)]


def headline(report: dict) -> list[tuple[str, str, str | None]]:
    """The four figures over the confusion matrix: (label, value, change against validation)."""
    test, val = report["test_accuracy"], report["val_accuracy"]
    versus = None if val is None else f"{(test - val) * 100:+.2f} points vs validation"
    pct = lambda v: "–" if v is None else f"{v:.2%}"  # noqa: E731 - a baseline may have no validation figure
    return [("Test accuracy", pct(test), versus), ("Test error", pct(report["test_error"]), None),
            ("Validation accuracy", pct(val), None), ("Validation error", pct(report["val_error"]), None)]


def cell_title(true: int | None, pred: int | None) -> str:
    """What a gallery of `examples(report, true, pred)` shows, in words."""
    if true is not None and true == pred:
        return f"{CLASS_NAMES[true]}: predicted correctly"
    said = f"{CLASS_NAMES[true]}" if true is not None else "Any class"
    return f"{said} mistaken for {CLASS_NAMES[pred] if pred is not None else 'another class'}"
