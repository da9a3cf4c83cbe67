"""Group `notebook`: the lab against the notebook's way of doing the same work.

The notebook's way: plain Keras on uint8 arrays with one-hot labels, default threading, the preset's
batch size, then model.evaluate (batch 32) on train, validation and test; scikit-learn's
RandomForestClassifier() on one core. The lab's way: fmnist.train.fit with the store hooks (final
accuracies through predict at batch 1024; the forest on every core, grown in chunks of trees).
Both sides build the same architecture from fmnist.nets with the same seed; the lab feeds its own input pipeline
(fmnist.pipelines), whose shuffle order differs from Keras's, so their weights differ by that."""
from __future__ import annotations

import os
import time

import numpy as np

from fmnist import presets
from fmnist.bench.fits import Fit, build, lab_fit, onehot, same_results
from fmnist.bench.measure import Figure, alternate, compare
from fmnist.store import Store

KERAS_REPS = 2   # whole runs, several epochs each
FOREST_REPS = 2  # a 100-tree forest on one core takes a while


def workloads(ctx) -> list[tuple[str, int, object]]:
    """(preset, epochs, split): mlp1 on the plan's data; cnn2 (6x slower an image) on the small part."""
    plan = ctx.plan
    return [("mlp1", plan.nb_epochs, ctx.part(plan.train_n, plan.val_n, plan.test_n)),
            ("cnn2", 2, ctx.part(plan.small_n, plan.small_n // 2, plan.small_n // 2)),
            ("forest", 1, ctx.part(plan.forest_n))]


def run(ctx) -> list[Figure]:
    store = Store(ctx.tmp / "notebook.db")
    figures = []
    try:
        for key, epochs, split in workloads(ctx):
            figures += _compare(ctx, presets.config_for(key, epochs=epochs), split, store)
    finally:
        store.close()
    ratios = ", ".join(f"{f.name.split('.')[1]} {f.ratio:.2f}x" for f in figures if f.ratio is not None)
    ctx.notes.append(f"Lab vs notebook, whole runs (below 1 = the lab is faster): {ratios}.")
    return figures


def _compare(ctx, config, split, store: Store) -> list[Figure]:
    key, last = config.preset, {}
    notebook_way = notebook_forest if key == "forest" else notebook_keras

    def lab() -> float:
        last["lab"] = lab_fit(config, split, store)
        return last["lab"].total_s

    def notebook() -> float:
        last["notebook"] = notebook_way(config, split)
        return last["notebook"].total_s

    reps = min(FOREST_REPS if key == "forest" else KERAS_REPS, ctx.plan.fit_reps)
    ctx.log(f"  {key}: {reps} alternating pairs")
    lab_s, nb_s = alternate(lab, notebook, reps)
    sizes = f"{len(split.x_train):,} train / {len(split.x_val):,} val / {len(split.x_test):,} test images"
    work = ("fit + train/val/test accuracy" if key == "forest"
            else f"{config.epochs} epochs + train/val/test accuracy")
    nb = Figure(f"notebook.{key}.notebook", f"{key}: {work}, notebook's way", "s", nb_s,
                note=sizes + ("; n_jobs=None (one core)" if key == "forest" else "; evaluate() at batch 32"))
    lab_fig = compare(Figure(f"notebook.{key}.lab", f"{key}: {work}, lab's way", "s", lab_s), nb)
    if key == "forest":
        lab_fig.note = (f"n_jobs=-1 on {os.cpu_count()} cores; val accuracy {last['lab'].val_acc[-1]:.4f} "
                        f"vs {last['notebook'].val_acc[-1]:.4f}")
    else:
        lab_fig.note = f"same run: {same_results(last['lab'], last['notebook'])}"
    return [nb, lab_fig]


def notebook_keras(config, split) -> Fit:
    import keras

    keras.backend.clear_session()
    start = time.perf_counter()
    model = build(config, len(split.x_train))
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=config.patience,
                                               min_delta=config.min_delta)] if config.early_stopping else []
    history = model.fit(split.x_train, onehot(split.y_train), validation_data=(split.x_val, onehot(split.y_val)),
                        epochs=config.epochs, batch_size=config.batch_size, verbose=0, callbacks=callbacks)
    for part in ("train", "val", "test"):
        x, y = split.part(part)
        model.evaluate(x, onehot(y), verbose=0)
    return Fit([], history.history["val_accuracy"], model, time.perf_counter() - start)


def notebook_forest(config, split) -> Fit:
    from sklearn.ensemble import RandomForestClassifier

    start = time.perf_counter()
    # The notebook's RandomForestClassifier(), seeded like the lab's so both grow the same trees.
    clf = RandomForestClassifier(random_state=config.seed)
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    clf.fit(flat(split.x_train), split.y_train)
    acc = {p: float(np.mean(clf.predict(flat(split.part(p)[0])) == split.part(p)[1])) for p in ("train", "val", "test")}
    return Fit([], [acc["val"]], clf, time.perf_counter() - start)
