"""fmnist.layer_table: the hand-computed layer list matches the Keras model nets.build makes."""
from __future__ import annotations

from dataclasses import replace

import pytest

from fmnist import forms, layer_table, nets, presets
from fmnist.config import ConvBlock, ModelSpec, RunConfig


def keras_rows(config):
    model = nets.build(config)
    return [(layer.__class__.__name__, tuple(layer.output.shape)[1:], layer.count_params())
            for layer in model.layers], model.count_params()


SAME_PADDED = ModelSpec("cnn", conv=(ConvBlock(8, 3, 0, True, "same"), ConvBlock(8, 5, 2, True, "same")),
                        dense=(32,), batch_norm=True)


@pytest.mark.parametrize("key", ["mlp5_reg", "cnn2", "lab_best", "resnet_ft", "custom-cnn", "same-padded"])
def test_rows_match_keras_layer_for_layer(key):
    config = {"custom-cnn": forms.start_config(forms.CUSTOM, "cnn"),
              "same-padded": RunConfig(SAME_PADDED, augment=True)}.get(key) or presets.config_for(key)
    if config.model.kind == "resnet":  # the summary never needs ImageNet weights
        config = config.with_(model=replace(config.model, weights=None))
    ours = [(layer.kind, layer.shape, layer.params) for layer in layer_table.layers(config)]
    theirs, total = keras_rows(config)
    assert ours == theirs
    assert layer_table.total(layer_table.rows(config)) == total == nets.count_params(config.model)


def test_single_hidden_layer_by_hand():
    rows = layer_table.rows(presets.config_for("mlp1"))
    assert [(r["Layer"], r["Output"], r["Params"]) for r in rows] == [
        ("InputLayer", "28×28", 0), ("Rescaling", "28×28", 0), ("Flatten", "784", 0),
        ("Dense", "255", 784 * 255 + 255), ("Dense", "10", 255 * 10 + 10)]
    assert layer_table.total(rows) == 202_735  # the notebook's figure


def test_names_and_shapes_are_short_enough_for_the_summary_column():
    rows = layer_table.rows(presets.config_for("lab_best"))
    assert ("BatchNorm", "28×28×32") in [(r["Layer"], r["Output"]) for r in rows]
    assert max(len(r["Layer"]) for r in rows) <= 15 and max(len(r["Output"]) for r in rows) <= 10


def test_multiply_adds_by_hand():
    # cnn1: conv 3x3x1x32 at 26x26, then Dense 5408->255, 255->127, 127->10
    cnn1 = presets.config_for("cnn1")
    assert layer_table.multiply_adds(cnn1) == 26 * 26 * 9 * 32 + 13 * 13 * 32 * 255 + 255 * 127 + 127 * 10
    assert layer_table.multiply_adds(presets.config_for("mlp1")) == 784 * 255 + 255 * 10


def test_baselines_have_no_layers():
    assert layer_table.rows(presets.config_for("forest")) == []
    assert layer_table.rows(presets.config_for("majority")) == []
