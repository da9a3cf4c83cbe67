"""fmnist.train: tiny fits on the real split (subset 100-300 images, 1-3 epochs), checked independently."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from fmnist import presets, train
from fmnist.artifacts import ForestModel, KerasModel, MajorityModel
from fmnist.config import ConfigError, ModelSpec, RunConfig
from fmnist.data import Split
from fmnist.train import Hooks, TrainingFailed

KERAS_KEYS = {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}


class Recorder:
    """Hooks that record every epoch report, with an optional stop rule."""

    def __init__(self, stop_after: int | None = None):
        self.epochs: list[tuple[int, dict]] = []
        self.stop_checks = 0
        self.stop_after = stop_after

    def hooks(self) -> Hooks:
        return Hooks(on_epoch=lambda e, m: self.epochs.append((e, dict(m))),
                     should_stop=self._should_stop)

    def _should_stop(self):
        self.stop_checks += 1
        if self.stop_after is not None and len(self.epochs) >= self.stop_after:
            return "stopped by the test"
        return None


def subset_of(split, n: int, seed: int):
    """The stratified training subset, picked independently of fmnist.data.stratified_subset."""
    idx, _ = train_test_split(np.arange(len(split.y_train)), train_size=n, stratify=split.y_train,
                              random_state=seed)
    idx = np.sort(idx)
    return split.x_train[idx], split.y_train[idx]


def acc(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict_proba(x), axis=1) == y))


def check_result(result, recorder: Recorder, config: RunConfig, split, keys: set[str]):
    for value in (result.train_acc, result.val_acc, result.test_acc):
        assert 0.0 <= value <= 1.0
    assert result.epochs == len(recorder.epochs)
    assert [e for e, _ in recorder.epochs] == list(range(1, result.epochs + 1))
    for _, metrics in recorder.epochs:
        assert set(metrics) == keys
        assert all(np.isfinite(float(v)) for v in metrics.values())
        assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["val_accuracy"] <= 1.0
        assert metrics["seconds"] >= 0
    # every figure the fit reports is the plain fraction of right answers of the model it returns
    x_sub, y_sub = subset_of(split, config.subset, config.seed) if config.subset else (split.x_train, split.y_train)
    assert result.train_acc == pytest.approx(acc(result.model, x_sub, y_sub), abs=1e-12)
    assert result.val_acc == pytest.approx(acc(result.model, split.x_val, split.y_val), abs=1e-12)
    assert result.test_acc == pytest.approx(acc(result.model, split.x_test, split.y_test), abs=1e-12)
    assert result.seconds > 0 or config.model.kind == "majority"
    assert set(result.fields()) == {"train_acc", "val_acc", "test_acc", "params", "epochs", "seconds",
                                    "best_epoch", "stopped_early"}


def test_mlp1_two_epochs(split):
    config = presets.config_for("mlp1", subset=300, epochs=2, batch_size=64)
    rec = Recorder()
    result = train.fit(config, split, rec.hooks())
    check_result(result, rec, config, split, KERAS_KEYS)
    assert isinstance(result.model, KerasModel)
    assert result.epochs == 2 and result.params == 202_735
    assert result.best_epoch == int(np.argmax([m["val_accuracy"] for _, m in rec.epochs])) + 1
    assert result.stopped_early is False and result.stop_reason is None
    # the last epoch's val_accuracy in the log is the returned model's validation accuracy
    assert rec.epochs[-1][1]["val_accuracy"] == pytest.approx(result.val_acc, abs=1e-6)
    assert result.val_acc > 0.3  # 300 images and 2 epochs already beat chance (0.1) by far


def test_cnn1_one_epoch(split):
    config = presets.config_for("cnn1", subset=300, epochs=1, batch_size=64)
    rec = Recorder()
    result = train.fit(config, split, rec.hooks())
    check_result(result, rec, config, split, KERAS_KEYS)
    assert result.epochs == 1 and result.params == 1_413_407 and result.best_epoch == 1
    assert result.stopped_early is False  # early stopping is on, but all its epochs ran


def test_forest_ten_trees_equals_a_plain_sklearn_forest(split):
    from sklearn.ensemble import RandomForestClassifier

    config = presets.config_for("forest", subset=300).with_(model=ModelSpec("forest", n_estimators=10))
    rec = Recorder()
    result = train.fit(config, split, rec.hooks())
    check_result(result, rec, config, split, {"accuracy", "val_accuracy", "seconds"})
    assert isinstance(result.model, ForestModel) and len(result.model.clf.estimators_) == 10
    assert result.epochs == 1 and result.params is None  # a baseline has no weights to count
    assert rec.stop_checks == 1  # one chunk of 10 trees, one look for a stop request
    x_sub, y_sub = subset_of(split, 300, config.seed)
    plain = RandomForestClassifier(n_estimators=10, random_state=config.seed).fit(x_sub.reshape(300, -1), y_sub)
    expected_val = float(np.mean(plain.predict(split.x_val.reshape(len(split.x_val), -1)) == split.y_val))
    assert result.val_acc == pytest.approx(expected_val, abs=1e-12)
    assert result.train_acc > 0.95  # a forest nearly memorises its training images


def test_forest_stop_request_before_the_first_trees(split):
    config = presets.config_for("forest", subset=300).with_(model=ModelSpec("forest", n_estimators=20))
    result = train.fit(config, split, Recorder(stop_after=0).hooks())
    assert result.stop_reason == "stopped by the test"
    assert result.epochs == 0 and result.model is None and result.train_acc is None


@pytest.mark.parametrize("subset", [None, 300])
def test_majority(split, subset):
    config = presets.config_for("majority", subset=subset)
    rec = Recorder()
    result = train.fit(config, split, rec.hooks())
    check_result(result, rec, config, split, {"accuracy", "val_accuracy", "seconds"})
    _, y_sub = subset_of(split, subset, config.seed) if subset else (None, split.y_train)
    label = int(np.bincount(y_sub, minlength=10).argmax())
    assert isinstance(result.model, MajorityModel) and result.model.label == label
    assert result.epochs == 1 and result.params is None
    assert result.val_acc == pytest.approx(np.mean(split.y_val == label), abs=1e-12)
    if subset is None:  # the notebook's figures
        assert label == 7
        assert (round(result.train_acc, 4), round(result.val_acc, 4), round(result.test_acc, 4)) == \
               (0.1024, 0.0944, 0.1000)


def test_resnet_from_scratch_tiny(split):
    # ResNet50 is the slow one: random weights (no download), 200 images, 1 epoch, batch 64.
    # Predicting all 28,000 validation and test images through ResNet50 takes minutes on two
    # cores, so this fit gets the real split's training part with its first 500 validation
    # and 300 test images.
    small = Split(split.x_train, split.y_train, split.x_val[:500], split.y_val[:500],
                  split.x_test[:300], split.y_test[:300])
    base = presets.config_for("resnet", subset=200, epochs=1, batch_size=64)
    config = replace(base, model=replace(base.model, weights=None))
    rec = Recorder()
    result = train.fit(config, small, rec.hooks())
    for value in (result.train_acc, result.val_acc, result.test_acc):
        assert 0.0 <= value <= 1.0
    assert result.epochs == len(rec.epochs) == 1
    assert set(rec.epochs[0][1]) == KERAS_KEYS
    assert result.params == 24_114_826
    x_sub, y_sub = subset_of(split, 200, config.seed)
    assert result.train_acc == pytest.approx(acc(result.model, x_sub, y_sub), abs=1e-12)
    assert result.val_acc == pytest.approx(acc(result.model, small.x_val, small.y_val), abs=1e-12)
    assert rec.epochs[0][1]["val_accuracy"] == pytest.approx(result.val_acc, abs=1e-6)


def test_should_stop_after_the_first_epoch(split, monkeypatch):
    # Stop requests are looked for at most every STOP_CHECK_S seconds between batches; with a
    # tiny subset an epoch can be shorter than that, so the test looks after every batch.
    monkeypatch.setattr(train, "STOP_CHECK_S", 0.0)
    config = presets.config_for("mlp1", subset=300, epochs=5, batch_size=32)
    rec = Recorder(stop_after=1)
    result = train.fit(config, split, rec.hooks())
    assert result.stop_reason == "stopped by the test"
    assert result.epochs == 1 and len(rec.epochs) == 1
    assert result.test_acc is None and result.stopped_early is False
    assert result.model is not None  # kept, so that a stopped run can be continued
    assert result.train_acc == pytest.approx(rec.epochs[0][1]["accuracy"])
    assert result.val_acc == pytest.approx(rec.epochs[0][1]["val_accuracy"])
    assert result.best_epoch == 1


def test_a_demo_pace_spaces_the_epochs_and_still_hears_a_stop(split):
    import time
    config = presets.config_for("mlp1", subset=200, epochs=3, batch_size=64, pace_s=1.5)
    reported: list[tuple[float, float]] = []  # (when, the epoch's own seconds)
    result = train.fit(config, split, Hooks(on_epoch=lambda e, m: reported.append((time.monotonic(), m["seconds"]))))
    assert result.epochs == 3 and result.stop_reason is None and result.test_acc is not None
    for (when, took), (next_when, next_took) in zip(reported, reported[1:]):
        started_next = next_when - next_took
        assert started_next - (when - took) >= 1.5 - 0.01  # the next epoch began once this one had lasted 1.5 s
    assert min(took for _, took in reported[1:]) < 1.5  # (so the pace, not the work, spaced them)

    rec = Recorder(stop_after=1)
    begin = time.monotonic()
    stopped = train.fit(config.with_(pace_s=60.0), split, rec.hooks())
    assert stopped.stop_reason == "stopped by the test" and stopped.epochs == 1
    assert time.monotonic() - begin < 45  # heard while waiting out the pace, not after its 60 s
    assert stopped.model is not None and stopped.val_acc == pytest.approx(rec.epochs[0][1]["val_accuracy"])


def test_nan_loss_raises_training_failed(split):
    # Verified: plain SGD at learning rate 1.0 on three 512-unit relu layers overflows to NaN in the
    # first or second epoch for every seed tried (20240329, 0, 1, 2, 3, 7, 42).
    config = RunConfig(ModelSpec("mlp", dense=(512, 512, 512)), optimizer="sgd", learning_rate=1.0,
                       epochs=3, batch_size=32, subset=300)
    rec = Recorder()
    with pytest.raises(TrainingFailed) as info:
        train.fit(config, split, rec.hooks())
    text = str(info.value)
    assert "loss became NaN at epoch" in text and "lower the learning rate" in text
    nan_epoch = int(text.split("at epoch ")[1].split(";")[0])
    assert 1 <= nan_epoch <= 3
    assert len(rec.epochs) == nan_epoch - 1  # the epoch that went NaN is not reported
    assert all(np.isfinite(m["loss"]) for _, m in rec.epochs)


def test_early_stopping_patience_1_min_delta_half(split):
    # No epoch can raise validation accuracy by 0.5 over the first, so with patience 1 the fit
    # stops after epoch 2.
    config = presets.config_for("mlp1", subset=300, epochs=5, batch_size=64, early_stopping=True,
                                patience=1, min_delta=0.5)
    rec = Recorder()
    result = train.fit(config, split, rec.hooks())
    assert result.epochs == 2 and len(rec.epochs) == 2
    assert result.stopped_early is True and result.stop_reason is None
    assert result.best_epoch == int(np.argmax([m["val_accuracy"] for _, m in rec.epochs])) + 1
    check_result(result, rec, config, split, KERAS_KEYS)


def test_fit_validates_the_config_first(split):
    with pytest.raises(ConfigError) as info:
        train.fit(presets.config_for("mlp1", subset=99), split)
    assert list(info.value.errors) == ["subset"]


def test_full_train_refit_honours_a_stop_request(split, monkeypatch):
    """A stop request (or the time limit: the same should_stop) during the refit on 60,000 ends the run
    as stopped with its epochs kept; nothing is tested, no model is kept."""
    monkeypatch.setattr(train, "STOP_CHECK_S", 0.0)
    config = presets.config_for("mlp1", subset=300, epochs=2, full_train=True)
    rec = Recorder(stop_after=2)  # nothing to stop until both epochs are in: then the refit is running
    result = train.fit(config, split, rec.hooks())
    assert [e for e, _ in rec.epochs] == [1, 2]
    assert result.stop_reason == "stopped by the test (during the refit on all 60,000 images)"
    assert (result.epochs, result.test_acc, result.model) == (2, None, None)
    assert 0 < result.val_acc <= 1 and result.train_acc is not None


def test_full_train_refit_is_tested_when_not_stopped(split):
    config = presets.config_for("mlp1", subset=300, epochs=1, full_train=True)
    result = train.fit(config, split, Recorder().hooks())
    assert result.stop_reason is None
    acc = float(np.mean(result.model.predict_proba(split.x_test).argmax(axis=1) == split.y_test))
    assert result.test_acc == pytest.approx(acc, abs=1e-12)
