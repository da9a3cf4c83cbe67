"""fmnist.layer_table: the hand-computed layer list matches the Keras model nets.build makes."""
from __future__ import annotations

from dataclasses import replace

import pytest

from fmnist import forms, layer_table, nets, presets


def keras_rows(config):
    model = nets.build(config)
    return [{"Layer": layer.__class__.__name__, "Output shape": str(tuple(layer.output.shape)),
             "Params": layer.count_params()} for layer in model.layers], model.count_params()


@pytest.mark.parametrize("key", ["mlp5_reg", "cnn2", "lab_best", "resnet_ft", "custom-cnn"])
def test_rows_match_keras_layer_for_layer(key):
    config = forms.start_config(forms.CUSTOM, "cnn") if key == "custom-cnn" else presets.config_for(key)
    if config.model.kind == "resnet":  # the summary never needs ImageNet weights
        config = config.with_(model=replace(config.model, weights=None))
    ours = layer_table.rows(config)
    theirs, total = keras_rows(config)
    for row in ours:
        row["Layer"] = row["Layer"].split(" ")[0]  # "Functional (ResNet50)" -> Keras's class name
    assert ours == theirs
    assert layer_table.total(layer_table.rows(config)) == total == nets.count_params(config.model)


def test_single_hidden_layer_by_hand():
    rows = layer_table.rows(presets.config_for("mlp1"))
    assert [(r["Layer"], r["Output shape"], r["Params"]) for r in rows] == [
        ("InputLayer", "(None, 28, 28)", 0), ("Rescaling", "(None, 28, 28)", 0), ("Flatten", "(None, 784)", 0),
        ("Dense", "(None, 255)", 784 * 255 + 255), ("Dense", "(None, 10)", 255 * 10 + 10)]
    assert layer_table.total(rows) == 202_735  # the notebook's figure


def test_baselines_have_no_layers():
    assert layer_table.rows(presets.config_for("forest")) == []
    assert layer_table.rows(presets.config_for("majority")) == []
