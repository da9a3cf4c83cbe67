"""Seed spread: k runs of one configuration with other seeds, grouped; mean and std of each accuracy (checked
against statistics); the band figure; and the figures of sweeps and continued runs (plain data in)."""
from __future__ import annotations

import json
import statistics

import numpy as np
import pandas as pd
import pytest

from fmnist import charts, presets, seeds
from fmnist.config import ConfigError
from fmnist.store import QueueFull
from tests.playing import start_by_hand


def finish(store, run_id, train, val, epochs_val):
    start_by_hand(store, run_id, executor="local", handle="simulated")
    for epoch, v in enumerate(epochs_val, 1):
        store.add_epoch(run_id, epoch, {"val_accuracy": v})
    store.finish(run_id, {"train_acc": train, "val_acc": val, "test_acc": val - 0.01, "epochs": len(epochs_val)})


def test_repeat_queues_k_runs_that_differ_only_in_seed(store, workspace, run_factory):
    original = run_factory("mlp1", status="finished", name="my net", seed=7, subset=1000)
    ids = seeds.repeat(original, 3, store, workspace)
    runs = [store.get(i) for i in ids]
    assert [r.run_config().seed for r in runs] == [8, 9, 10]
    assert [r.name for r in runs] == ["my net · seed 8", "my net · seed 9", "my net · seed 10"]
    assert all(r.status == "queued" for r in runs)
    keys = {r.group_key for r in runs} | {store.get(original.id).group_key}
    assert len(keys) == 1 and keys.pop().startswith("seeds-")
    strip = lambda r: {k: v for k, v in json.loads(r.config).items() if k not in ("seed", "name")}  # noqa: E731
    assert all(strip(r) == strip(original) for r in runs)
    assert list(seeds.grouped_runs(store).values())[0] == [store.get(original.id), *runs]


def test_repeat_queues_all_or_nothing(store, workspace, run_factory, monkeypatch):
    from fmnist import settings as settings_mod
    monkeypatch.setenv("FMNIST_ACTIVE_PER_USER", "2")
    tight = settings_mod.load()
    original = run_factory("mlp1", status="finished", user="ana")
    with pytest.raises(QueueFull, match="ask for at most 2 seeds"):
        seeds.repeat(original, 3, store, tight)
    assert store.count(statuses=("queued",)) == 0 and store.get(original.id).group_key is None
    with pytest.raises(ConfigError, match="repeat with 1 to 10 other seeds"):
        seeds.repeat(original, 11, store, workspace)


def test_group_table_has_the_mean_and_sample_std_of_each_accuracy(store, workspace, run_factory):
    original = run_factory("mlp1", status="running", name="net")
    ids = seeds.repeat(original, 2, store, workspace)
    scores = [(0.90, 0.85), (0.92, 0.88), (0.91, 0.80)]
    finish_at = [original.id, *ids]
    store.finish(original.id, {"train_acc": scores[0][0], "val_acc": scores[0][1], "test_acc": 0.84, "epochs": 2})
    for run_id, (train, val) in zip(finish_at[1:], scores[1:]):
        finish(store, run_id, train, val, [val - 0.05, val])
    frame = seeds.group_frame(seeds.grouped_runs(store))
    row = frame.iloc[0]
    assert row["Runs"] == 3 and row["Finished"] == 3 and row["Model"] == "net"
    vals = [v for _, v in scores]
    assert row["Val mean"] == pytest.approx(statistics.mean(vals))
    assert row["Val std"] == pytest.approx(statistics.stdev(vals))
    assert row["Train std"] == pytest.approx(statistics.stdev([t for t, _ in scores]))
    assert pd.isna(row["Test mean"])  # nobody has opened a test evaluation: it stays locked
    for run_id in finish_at:
        store.count_test_view(run_id)
    opened = seeds.group_frame(seeds.grouped_runs(store)).iloc[0]
    assert opened["Test mean"] == pytest.approx(statistics.mean([0.84, 0.87, 0.79]))


def test_seed_band_draws_mean_and_one_std_around_it():
    runs = [pd.DataFrame({"epoch": [1, 2, 3], "val_accuracy": v}) for v in ([0.80, 0.85, 0.86], [0.78, 0.86, 0.88],
                                                                          [0.82, 0.84, 0.87])]
    fig = charts.seed_band({"net": runs, "other": runs[:1]})
    upper, lower, mean = fig.data[:3]
    stack = np.array([r["val_accuracy"] for r in runs])
    assert np.allclose(mean.y, stack.mean(axis=0))
    assert np.allclose(upper.y, stack.mean(axis=0) + stack.std(axis=0, ddof=1))
    assert np.allclose(lower.y, stack.mean(axis=0) - stack.std(axis=0, ddof=1)) and lower.fill == "tonexty"
    assert mean.name == "net: mean of 3 seeds" and lower.name == "net: ± 1 std"
    assert len(fig.data[3].x) == 0  # one seed: a line, no band
    assert fig.layout.yaxis.title.text == "Validation accuracy"
    assert charts.seed_band({}).layout.annotations[0].text == "No repeated runs with epochs yet"


def test_parallel_coordinates_have_an_axis_per_hyperparameter_and_val_accuracy():
    trials = pd.DataFrame({"Learning rate": [0.0001, 0.001, 0.01, 0.05], "Optimizer": ["adam", "sgd", "adam", None],
                           "Val accuracy": [0.70, 0.85, 0.88, None]})
    fig = charts.parallel_coordinates(trials, ["Learning rate", "Optimizer"], log_axes=["Learning rate"])
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["Learning rate (log)", "Optimizer", "Val accuracy"]
    assert np.allclose(dims[0].values, [-4, -3, -2]) and list(dims[0].ticktext) == ["0.0001", "0.001", "0.01"]
    assert list(dims[1].ticktext) == ["adam", "sgd"] and list(dims[1].values) == [0, 1, 0]
    assert list(dims[2].values) == [0.70, 0.85, 0.88]  # the trial without a score is left out
    assert list(fig.data[0].line.color) == [0.70, 0.85, 0.88]
    empty = charts.parallel_coordinates(trials.iloc[3:], ["Learning rate"])
    assert empty.layout.annotations[0].text == "No trial has a validation accuracy yet"


def test_history_curves_mark_where_a_continuation_took_over():
    rows = pd.DataFrame({"epoch": [1, 2, 3, 4], "accuracy": [0.7, 0.8, 0.85, 0.87],
                         "val_accuracy": [0.7, 0.78, 0.8, 0.81],
                         "loss": [1, 0.6, 0.5, 0.4], "val_loss": [1, 0.7, 0.6, 0.55]})
    fig = charts.history_curves(rows.to_dict("records"), {2: 9})  # the rows as continuing.history gives them
    assert list(fig.data[1].x) == [1, 2, 3, 4] and list(fig.data[1].y) == [0.7, 0.78, 0.8, 0.81]
    assert [a.text for a in fig.layout.annotations].count("continued as #9") == 2  # over both panels
    assert {s.x0 for s in fig.layout.shapes} == {2.5}


def test_a_group_key_ignores_seed_name_and_user():
    a = presets.config_for("mlp1", seed=1, name="a", user="ana")
    b = presets.config_for("mlp1", seed=2, name="b", user="bo")
    assert seeds.group_key(a) == seeds.group_key(b) != seeds.group_key(presets.config_for("mlp1", learning_rate=0.01))
