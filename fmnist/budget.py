"""A fit's time budget (RunConfig.minutes): a cosine schedule that also runs on the clock, and the Keras
callback that moves that clock and ends the fit at the last epoch that fits.

Imported only by a fit (it imports Keras)."""
from __future__ import annotations

import math
import time

import keras
from keras import ops


@keras.saving.register_keras_serializable("fmnist")
class ClockCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine decay to 0 over whichever ends first: `total_steps`, or the budget's time (`spent`, the fraction
    of it used, set by Budget between batches). Keras's CosineDecay knows only steps, so a budgeted fit on a
    slow machine would end with its rate still high."""

    def __init__(self, peak: float, total_steps: int):
        self.peak, self.total_steps = float(peak), max(1, int(total_steps))
        self.spent = keras.Variable(0.0, trainable=False, dtype="float32", name="budget_spent")

    def __call__(self, step):
        by_steps = ops.cast(step, "float32") / self.total_steps
        progress = ops.minimum(ops.maximum(by_steps, self.spent), 1.0)
        return self.peak * 0.5 * (1.0 + ops.cos(math.pi * progress))

    def get_config(self) -> dict:
        return {"peak": self.peak, "total_steps": self.total_steps}


class Budget(keras.callbacks.Callback):
    """Ends the fit after the epoch when the next one (guessed as long as this one, its validation included)
    would not fit in `seconds`. Tells `schedule` (a ClockCosine, or None) the fraction spent of the time up to
    the last training step that fits (the end of the last epoch that fits, less its validation), so that the
    rate is near 0 at the fit's last step."""

    def __init__(self, seconds: float, schedule: ClockCosine | None = None):
        super().__init__()
        self.seconds, self.schedule = float(seconds), schedule
        self.started = self.epoch_started = time.monotonic()
        self.horizon = self.seconds  # seconds from the start to the end of the last epoch that fits
        self.val_s = 0.0  # how long the last validation took
        self._val_started = self.started

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.monotonic()

    def on_test_begin(self, logs=None):
        self._val_started = time.monotonic()

    def on_test_end(self, logs=None):
        self.val_s = time.monotonic() - self._val_started

    def on_train_batch_end(self, batch, logs=None):
        if self.schedule is not None:
            steps_end = max(self.horizon - self.val_s, 1e-3)
            self.schedule.spent.assign(min(1.0, (time.monotonic() - self.started) / steps_end))

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        elapsed, last = now - self.started, max(now - self.epoch_started, 1e-3)
        more = math.floor((self.seconds - elapsed) / last)  # epochs that still fit, at the last one's length
        self.horizon = elapsed + max(more, 0) * last
        if more < 1 and epoch + 1 < self.params.get("epochs", 0) and not self.model.stop_training:
            self.model.stop_training = True
