"""The fits benchmarks time: a bare Keras fit and the lab's run path, each building the model identically.

Epochs are timed between the ends of consecutive epochs (a perf_counter mark after each epoch's
callbacks, the store commit included on the lab's side), so both sides are measured the same way."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from fmnist import pipelines
from fmnist.bench.measure import marks_to_epochs
from fmnist.config import RunConfig
from fmnist.data import NUM_CLASSES, Split, stratified_subset
from fmnist.store import Store

NO_TIME_LIMIT_S = 24 * 3600


@dataclass
class Fit:
    epoch_seconds: list[float]  # the first includes building the model and tracing the graph
    val_acc: list[float]        # per epoch
    model: object               # the Keras model (or the lab's ForestModel)
    total_s: float


def subset(split: Split, train_n: int | None, val_n: int | None = None, test_n: int | None = None,
           seed: int = 0) -> Split:
    """A smaller split with every class in proportion; None keeps a part whole."""
    parts = {}
    for name, n in (("train", train_n), ("val", val_n), ("test", test_n)):
        x, y = split.part(name)
        idx = stratified_subset(y, n, seed) if n else np.arange(len(y))
        parts[f"x_{name}"], parts[f"y_{name}"] = x[idx], y[idx]
    return Split(**parts)


def onehot(y: np.ndarray) -> np.ndarray:
    import keras
    return keras.utils.to_categorical(y, NUM_CLASSES)


def build(config: RunConfig, n_train: int, rebuild=None, **compile_kw):
    """The lab's model and compile step (fmnist.train's own), after the same seed; `rebuild(model)` may swap
    the model for a variant of it before compiling; compile_kw overrides."""
    import keras

    from fmnist import nets, train

    keras.utils.set_random_seed(config.seed)
    model = nets.build(config)
    if rebuild is not None:
        model = rebuild(model)
    train._compile(model, config, math.ceil(n_train / config.batch_size))
    if compile_kw:  # nothing is trained yet, so compiling again only changes how steps run
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], **compile_kw)
    return model


def _epoch_marker(marks: list[float]):
    """A callback with only epoch hooks, so Keras keeps dispatching batch callbacks asynchronously."""
    import keras

    class Marker(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            marks.append(time.perf_counter())

    return Marker()


def bare_fit(config: RunConfig, split: Split, validate: bool = True, pipeline: str = "lab", rebuild=None,
             **compile_kw) -> Fit:
    """Plain model.fit, verbose=0, on uint8 images and one-hot labels fed as the lab feeds them (fmnist.pipelines),
    or as numpy arrays into Keras's own (autotuned) pipeline ("arrays")."""
    import keras

    keras.backend.clear_session()
    model = build(config, len(split.x_train), rebuild, **compile_kw)
    marks: list[float] = []
    x, y = split.x_train, onehot(split.y_train)
    val = (split.x_val, onehot(split.y_val)) if validate else None
    kw = dict(batch_size=config.batch_size)
    if pipeline == "lab":
        x = pipelines.batches(x, y, batch_size=config.batch_size, shuffle_seed=config.seed)
        val = None if val is None else pipelines.batches(*val, batch_size=config.batch_size)
        y, kw = None, {"shuffle": False}  # the pipeline shuffles
    elif pipeline != "arrays":
        raise ValueError(f"pipeline: 'lab' or 'arrays', not {pipeline!r}")
    start = time.perf_counter()
    history = model.fit(x, y, validation_data=val, epochs=config.epochs, verbose=0,
                        callbacks=[_epoch_marker(marks)], **kw)
    total = time.perf_counter() - start
    return Fit(marks_to_epochs(start, marks), history.history.get("val_accuracy", []), model, total)


def lab_fit(config: RunConfig, split: Split, store: Store) -> Fit:
    """The lab's run path: fmnist.train.fit with the runner's store hooks on a real Store (a run per call)."""
    import keras

    from fmnist import jobs, runner, train

    keras.backend.clear_session()
    run_id = jobs.create_foreground(store, config)  # as `python -m fmnist train` records it
    hooks = runner.store_hooks(store, run_id, NO_TIME_LIMIT_S)
    marks: list[float] = []

    def on_epoch(epoch: int, metrics: dict) -> None:
        hooks.on_epoch(epoch, metrics)
        marks.append(time.perf_counter())

    start = time.perf_counter()
    result = train.fit(config, split, replace(hooks, on_epoch=on_epoch))
    total = time.perf_counter() - start
    store.finish(run_id, result.fields())
    vals = [row["val_accuracy"] for row in store.epochs(run_id)]
    model = getattr(result.model, "model", result.model)
    return Fit(marks_to_epochs(start, marks), vals, model, total)


def weight_gap(a, b) -> float:
    """The largest absolute difference between two models' weights (0.0: the same model)."""
    return max(float(np.max(np.abs(wa - wb))) for wa, wb in zip(a.get_weights(), b.get_weights()))


def same_results(a: Fit, b: Fit) -> str:
    """In words: do two fits of one configuration end with the same weights and validation accuracy?"""
    gap = weight_gap(a.model, b.model)
    acc = f"val accuracy {a.val_acc[-1]:.4f} vs {b.val_acc[-1]:.4f}"
    return f"identical weights, {acc}" if gap == 0 else f"weights differ by up to {gap:.1e}, {acc}"
