"""fmnist.sweep_spec: a sweep's search space from a user's words, each bad value named before a trial is queued."""
from __future__ import annotations

import pytest

from fmnist import presets, sweep_spec

TINY = dict(subset=500, epochs=1, batch_size=64)


def test_the_search_space_is_read_from_the_users_words():
    assert sweep_spec.parse_grid("lr=0.001,0.01") == ("learning_rate", [0.001, 0.01])
    assert sweep_spec.parse_grid("batch=32,64") == ("batch_size", [32, 64])
    assert sweep_spec.parse_grid("optimizer=adam,SGD") == ("optimizer", ["adam", "sgd"])
    assert sweep_spec.parse_range("lr=1e-4:1e-1:log") == ("learning_rate", [0.0001, 0.1, True])
    with pytest.raises(sweep_spec.SweepError, match="'momentum' is not a hyperparameter a sweep can vary"):
        sweep_spec.parse_grid("momentum=0.9,0.99")
    with pytest.raises(sweep_spec.SweepError, match="batch_size: '32.5' is not a whole number"):
        sweep_spec.parse_grid("batch_size=32,32.5")
    with pytest.raises(sweep_spec.SweepError, match="LOW must be below HIGH"):
        sweep_spec.parse_range("lr=0.1:0.01")
    base = presets.config_for("mlp1", **TINY)
    with pytest.raises(sweep_spec.SweepError, match="grid sampler tries listed values only"):
        sweep_spec.make_spec(base, ranges={"learning_rate": [1e-4, 1e-1, True]}, sampler="grid")
    too_high = r"^--grid: learning_rate=5.0: must be greater than 0 and at most 1"
    with pytest.raises(sweep_spec.SweepError, match=too_high):
        sweep_spec.make_spec(base, grid={"learning_rate": [0.01, 5.0]})
    spec = sweep_spec.make_spec(base, grid={"learning_rate": [0.001, 0.01], "batch_size": [32, 64]}, trials=3)
    assert spec["sampler"] == "grid" and spec["trials"] == 3
    assert sweep_spec.make_spec(base, grid={"learning_rate": [0.001, 0.01]})["trials"] == 2  # the whole grid
    dropped = sweep_spec.apply(presets.config_for("mlp3_reg"), {"dropout": 0.3, "learning_rate": 0.01})
    assert dropped.model.dropout == (0.3,) * len(dropped.model.dense) and dropped.learning_rate == 0.01
