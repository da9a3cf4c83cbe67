"""Fit one RunConfig on the notebook's split: seeds, callbacks, early stopping, stop requests, final metrics."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fmnist import pipelines
from fmnist.artifacts import ForestModel, KerasModel, MajorityModel
from fmnist.config import RunConfig
from fmnist.data import NUM_CLASSES, Split, stratified_subset

STOP_CHECK_S = 0.5   # how often a stop request is looked for between batches
FOREST_CHUNK = 10    # trees added between stop checks


class TrainingFailed(RuntimeError):
    pass


@dataclass
class Hooks:
    """How a fit talks to the outside world; the defaults do nothing (a plain foreground fit)."""
    on_epoch: Callable[[int, dict], None] = lambda epoch, metrics: None
    should_stop: Callable[[], str | None] = lambda: None  # a reason to stop, or None


@dataclass
class Result:
    train_acc: float | None
    val_acc: float | None
    test_acc: float | None
    params: int | None  # None for the baselines: they have no weights to count
    epochs: int
    seconds: float
    best_epoch: int | None = None
    stopped_early: bool = False
    stop_reason: str | None = None  # set when a stop request ended the fit
    model: object = field(default=None, repr=False)

    def fields(self) -> dict:
        return {k: getattr(self, k) for k in ("train_acc", "val_acc", "test_acc", "params", "epochs",
                                              "seconds", "best_epoch", "stopped_early")}


def fit(config: RunConfig, split: Split, hooks: Hooks | None = None, trunk=None) -> Result:
    """`trunk` replaces the network's body (see nets.build): the bench tries networks a ModelSpec cannot express."""
    config.validate()
    hooks = hooks or Hooks()
    x_train, y_train = split.x_train, split.y_train
    if config.subset:
        idx = stratified_subset(y_train, config.subset, config.seed)
        x_train, y_train = x_train[idx], y_train[idx]
    start = time.perf_counter()
    if config.model.kind == "majority":
        result = _fit_majority(split, y_train, hooks)
    elif config.model.kind == "forest":
        result = _fit_forest(config, split, x_train, y_train, hooks)
    else:
        result = _fit_keras(config, split, x_train, y_train, hooks, trunk)
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict_proba(x).argmax(axis=1) == y))


def _fit_majority(split: Split, y_train: np.ndarray, hooks: Hooks) -> Result:
    model = MajorityModel(np.bincount(y_train, minlength=NUM_CLASSES).argmax())
    train, val = accuracy(model, y_train, y_train), accuracy(model, split.x_val, split.y_val)
    hooks.on_epoch(1, {"accuracy": train, "val_accuracy": val, "seconds": 0.0})
    return Result(train, val, accuracy(model, split.x_test, split.y_test), None, 1, 0.0, model=model)


def _fit_forest(config: RunConfig, split: Split, x_train, y_train, hooks: Hooks) -> Result:
    """Grow the forest in chunks of trees (warm_start) so a stop request is seen between chunks."""
    from sklearn.ensemble import RandomForestClassifier

    begin = time.perf_counter()
    clf = RandomForestClassifier(n_estimators=0, n_jobs=-1, random_state=config.seed, warm_start=True)
    flat = x_train.reshape(len(x_train), -1)
    while clf.n_estimators < config.model.n_estimators:
        reason = hooks.should_stop()
        if reason:
            return Result(None, None, None, None, 0, 0.0, stop_reason=reason)
        clf.n_estimators = min(clf.n_estimators + FOREST_CHUNK, config.model.n_estimators)
        clf.fit(flat, y_train)
    model = ForestModel(clf)
    train, val = accuracy(model, x_train, y_train), accuracy(model, split.x_val, split.y_val)
    hooks.on_epoch(1, {"accuracy": train, "val_accuracy": val, "seconds": round(time.perf_counter() - begin, 2)})
    return Result(train, val, accuracy(model, split.x_test, split.y_test), None, 1, 0.0, model=model)


def _compile(model, config: RunConfig, steps_per_epoch: int):
    """Compile for `config`; returns its time budget's callback (None without one)."""
    import keras

    lr, total = config.learning_rate, max(1, config.epochs * steps_per_epoch)
    budget = None
    if config.minutes is not None:
        from fmnist.budget import Budget, ClockCosine
        if config.lr_schedule == "cosine":
            lr = ClockCosine(lr, total)
        budget = Budget(config.minutes * 60, lr if config.lr_schedule == "cosine" else None)
    elif config.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=total)
    optimizer = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
                 "rmsprop": keras.optimizers.RMSprop, "adamw": keras.optimizers.AdamW}[config.optimizer]
    model.compile(optimizer=optimizer(learning_rate=lr),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
                  metrics=["accuracy"],
                  # 8 batches per graph call: epochs 0.62-0.84x as long, weights bit-identical (python -m fmnist bench)
                  steps_per_execution=8)
    return budget


def _fit_keras(config: RunConfig, split: Split, x_train, y_train, hooks: Hooks, trunk=None) -> Result:
    import keras

    from fmnist import nets

    keras.utils.set_random_seed(config.seed)
    offset = config.initial_epoch  # a continued run numbers its epochs after its parent's
    model = _initial_model(config) if config.initial_model else nets.build(config, trunk)
    budget = _compile(model, config, math.ceil(len(x_train) / config.batch_size))
    reporter = make_reporter(hooks, config.pace_s)
    callbacks = [reporter] if budget is None else [budget, reporter]  # the budget's stop is seen by the reporter
    if config.early_stopping:
        callbacks.insert(0, keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=config.patience, min_delta=config.min_delta,
            restore_best_weights=config.restore_best))
    onehot = lambda y: keras.utils.to_categorical(y, NUM_CLASSES)  # noqa: E731
    history = model.fit(pipelines.batches(x_train, onehot(y_train), batch_size=config.batch_size,
                                          shuffle_seed=config.seed),
                        validation_data=pipelines.batches(split.x_val, onehot(split.y_val),
                                                          batch_size=config.batch_size),
                        epochs=offset + config.epochs, initial_epoch=offset, verbose=0, callbacks=callbacks,
                        shuffle=False)  # the pipeline shuffles
    if reporter.nan_epoch:
        raise TrainingFailed(f"loss became NaN at epoch {reporter.nan_epoch}; lower the learning rate")
    val_hist = history.history.get("val_accuracy", [])
    epochs_run = reporter.epochs_done
    own = max(epochs_run - offset, 0)  # this run's own epochs, the entries of its history
    best = offset + int(np.argmax(val_hist[:own])) + 1 if own else None
    stopped_early = config.early_stopping and own < config.epochs and not reporter.stop_reason
    if reporter.stop_reason:  # its model is kept, so that a stopped run can be continued
        last = history.history
        return Result(_last(last, "accuracy", own), _last(last, "val_accuracy", own), None,
                      model.count_params(), epochs_run, 0.0, best, False, reporter.stop_reason,
                      model=KerasModel(model, config.flip_average) if own else None)
    wrapped = KerasModel(model, config.flip_average)
    train, val = accuracy(wrapped, x_train, y_train), accuracy(wrapped, split.x_val, split.y_val)
    if config.full_train:
        wrapped, reason = _refit_full(config, split, best or epochs_run, hooks, trunk)
        if reason:  # the epochs and their figures stand; the refit and the test do not happen
            return Result(train, val, None, model.count_params(), epochs_run, 0.0, best, stopped_early,
                          f"{reason} (during the refit on all 60,000 images)")
    test = accuracy(wrapped, split.x_test, split.y_test)
    return Result(train, val, test, model.count_params(), epochs_run, 0.0, best, stopped_early, model=wrapped)


def _initial_model(config: RunConfig):
    """A continued run's starting point: its parent's saved model, loaded only if its SHA-256 matches."""
    from fmnist import artifacts
    path, _, digest = config.initial_model.rpartition("#")
    return artifacts.load(path, digest, config.model.kind).model


def _last(history: dict, key: str, n: int) -> float | None:
    values = history.get(key, [])[:n]
    return float(values[-1]) if values else None


def _refit_full(config: RunConfig, split: Split, epochs: int, hooks: Hooks,
                trunk=None) -> tuple[KerasModel | None, str | None]:
    """Refit the chosen configuration on all 60,000 training images for the selected number of epochs.

    Returns (model, None), or (None, reason) when a stop request or the time limit ended it."""
    import keras

    from fmnist import nets

    x = np.concatenate([split.x_train, split.x_val])
    y = keras.utils.to_categorical(np.concatenate([split.y_train, split.y_val]), NUM_CLASSES)
    data = pipelines.batches(x, y, batch_size=config.batch_size, shuffle_seed=config.seed)
    keras.utils.set_random_seed(config.seed)
    model = nets.build(config, trunk)
    # the refit's length is the chosen epochs, not a time budget
    _compile(model, config.with_(epochs=epochs, minutes=None), math.ceil(len(x) / config.batch_size))
    watch = make_stop_watch(hooks)
    model.fit(data, epochs=epochs, verbose=0, callbacks=[watch], shuffle=False)  # the pipeline shuffles
    return (None, watch.reason) if watch.reason else (KerasModel(model, config.flip_average), None)


def make_stop_watch(hooks: Hooks):
    """A Keras callback that ends a fit at a stop request or the time limit (hooks.should_stop), reporting nothing."""
    import keras

    class StopWatch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.reason, self._last_check = None, time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            if now - self._last_check >= STOP_CHECK_S:
                self._last_check = now
                self.reason = hooks.should_stop()
                self.model.stop_training = bool(self.reason)

    return StopWatch()


def make_reporter(hooks: Hooks, pace_s: float = 0.0):
    """A Keras callback that reports each epoch, honours stop requests and catches NaN losses.

    With `pace_s`, an epoch that took less waits after its report until it has lasted that long (a demo's
    watchable pace), still looking for stop requests; its `seconds` stay the time the epoch itself took."""
    import keras

    class Reporter(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs_done, self.nan_epoch, self.stop_reason = 0, None, None
            self._epoch_start = self._last_check = time.monotonic()
            self._epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch, self._epoch_start = epoch + 1, time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.nan_epoch = self._epoch
                self.model.stop_training = True
            if now - self._last_check >= STOP_CHECK_S:
                self._last_check = now
                reason = hooks.should_stop()
                if reason:
                    self.stop_reason = reason
                    self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if self.stop_reason or self.nan_epoch:
                return  # a partial epoch is not a data point
            logs = dict(logs or {})
            if not math.isfinite(float(logs.get("loss", 0.0))):
                self.nan_epoch, self.model.stop_training = epoch + 1, True
                return
            self.epochs_done = epoch + 1
            logs["seconds"] = round(time.monotonic() - self._epoch_start, 3)
            hooks.on_epoch(epoch + 1, logs)
            if epoch + 1 < self.params.get("epochs", 0) and not self.model.stop_training:  # more epochs follow
                self._keep_pace()

        def _keep_pace(self):
            while (left := pace_s - (time.monotonic() - self._epoch_start)) > 0:
                time.sleep(min(left, STOP_CHECK_S))
                reason = hooks.should_stop()
                if reason:  # the epoch just reported stands; the run ends here
                    self.stop_reason, self.model.stop_training = reason, True
                    return

    return Reporter()
