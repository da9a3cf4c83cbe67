"""A fit's time budget: the clock-driven cosine, the fit that ends at the last epoch that fits, and the ways a
budget reaches a config (command line, a continued run)."""
from __future__ import annotations

import pytest

from fmnist import cli, commands, continuing, jobs, presets, runner, train
from tests.test_continue import TINY
from tests.test_train import KERAS_KEYS, Recorder, check_result


def test_the_clock_cosine_is_keras_cosine_until_the_clock_runs_ahead():
    import keras

    from fmnist.budget import ClockCosine
    clock, plain = ClockCosine(0.002, 1000), keras.optimizers.schedules.CosineDecay(0.002, 1000)
    for step in (0, 1, 250, 500, 999, 1000, 1500):
        assert float(clock(step)) == pytest.approx(float(plain(step)), rel=1e-5, abs=1e-9)
    clock.spent.assign(0.5)
    assert float(clock(100)) == pytest.approx(0.001, rel=1e-5)  # half the time gone: half the rate at 10% of steps
    assert float(clock(900)) == pytest.approx(float(plain(900)), rel=1e-5)  # the steps ahead of the clock
    clock.spent.assign(1.0)
    assert float(clock(10)) == pytest.approx(0.0, abs=1e-9)


def test_a_budget_ends_the_fit_at_the_last_epoch_that_fits_with_its_rate_near_zero(split):
    budget_s = 6.0
    config = presets.config_for("mlp1", subset=300, epochs=500, batch_size=64, lr_schedule="cosine",
                                minutes=budget_s / 60)
    rec = Recorder()
    result = train.fit(config, split, rec.hooks())
    check_result(result, rec, config, split, KERAS_KEYS)
    seconds = [m["seconds"] for _, m in rec.epochs]
    assert 2 <= result.epochs < 500 and not result.stopped_early and result.stop_reason is None
    slack = 0.25  # the reporter and the budget time an epoch from a few callbacks apart
    assert sum(seconds) + seconds[-1] > budget_s - slack  # one more epoch like the last would not have fitted
    assert sum(seconds[:-1]) + seconds[-2] <= budget_s + slack  # but the last one did, so it ran
    assert float(result.model.model.optimizer.learning_rate) < 0.1 * config.learning_rate


def test_a_budget_longer_than_the_epochs_trains_them_all(split):
    config = presets.config_for("mlp1", subset=300, epochs=3, batch_size=64, minutes=10.0)
    rec = Recorder()
    result = train.fit(config, split, rec.hooks())
    assert result.epochs == 3 and [e for e, _ in rec.epochs] == [1, 2, 3]


def test_the_command_line_sets_or_drops_a_budget():
    def config_of(*argv):
        return commands.config_from_args(cli._parser().parse_args(["train", *argv]))
    assert config_of("lab_best").minutes == 13.5
    assert config_of("lab_best", "--minutes", "5").minutes == 5.0
    assert config_of("lab_best", "--no-budget").minutes is None
    assert config_of("cnn2").minutes is None


def test_a_continued_run_does_not_inherit_its_parents_budget(cached_lab):
    store, s = cached_lab
    run_id = jobs.create_foreground(store, presets.config_for("mlp1", minutes=5.0, **TINY))
    assert runner.execute(store, s, run_id) == "finished"
    parent = store.get(run_id)
    assert parent.run_config().minutes == 5.0 and parent.epochs == TINY["epochs"]
    child = continuing.child_config(parent, 3)
    assert (child.minutes, child.epochs, child.initial_epoch) == (None, 3, TINY["epochs"])
