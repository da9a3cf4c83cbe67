"""fmnist.config: every validation message names its field and range; JSON round trips."""
from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest

from fmnist import presets
from fmnist.config import ConfigError, ConvBlock, ModelSpec, RunConfig

MLP = ModelSpec("mlp", dense=(255,))
CNN = ModelSpec("cnn", conv=(ConvBlock(32, 3, 2),), dense=(64,))


def errors_of(config: RunConfig) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        config.validate()
    exc = info.value
    # the exception's text is every "field: message" pair, so a page can show it as is
    assert str(exc) == "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    assert exc.errors == config.errors()
    return exc.errors


@pytest.mark.parametrize("field,value,words", [
    ("epochs", 0, "must be a whole number from 1 to 500 (got 0)"),
    ("epochs", 501, "must be a whole number from 1 to 500 (got 501)"),
    ("epochs", 2.5, "must be a whole number from 1 to 500 (got 2.5)"),
    ("epochs", True, "must be a whole number from 1 to 500 (got True)"),
    ("batch_size", 0, "must be a whole number from 1 to 8192 (got 0)"),
    ("batch_size", 9000, "must be a whole number from 1 to 8192 (got 9000)"),
    ("learning_rate", 0, "must be greater than 0 and at most 1 (got 0)"),
    ("learning_rate", 2, "must be greater than 0 and at most 1 (got 2)"),
    ("learning_rate", -0.01, "must be greater than 0 and at most 1 (got -0.01)"),
    ("optimizer", "adagrad", "must be one of adam, sgd, rmsprop, adamw (got 'adagrad')"),
    ("patience", 0, "must be a whole number from 1 to 100 (got 0)"),
    ("min_delta", 0.6, "must be a number from 0.0 to 0.5 (got 0.6)"),
    ("subset", 99, "must be a whole number from 100 to 42000 (got 99)"),
    ("subset", 42001, "must be a whole number from 100 to 42000 (got 42001)"),
    ("label_smoothing", 0.7, "must be a number from 0.0 to 0.5 (got 0.7)"),
    ("lr_schedule", "step", "must be one of constant, cosine (got 'step')"),
    ("seed", -1, "from 0 to 2147483647 (got -1)"),
    ("minutes", 0, "must be more than 0 and at most 1440 minutes, or empty (got 0)"),
    ("minutes", -5.0, "must be more than 0 and at most 1440 minutes, or empty (got -5.0)"),
    ("minutes", float("nan"), "(got nan)"),
    ("minutes", 1441, "(got 1441)"),
    ("minutes", True, "(got True)"),
])
def test_hyperparameter_messages_name_field_and_range(field, value, words):
    errs = errors_of(RunConfig(MLP, **{field: value}))
    assert list(errs) == [field]
    assert words in errs[field]
    with pytest.raises(ConfigError, match=rf"^{field}: "):
        RunConfig(MLP, **{field: value}).validate()


def test_boundaries_are_inclusive():
    ok = RunConfig(MLP, epochs=500, batch_size=8192, learning_rate=1, subset=100, min_delta=0.5)
    assert ok.errors() == {}
    assert ok.validate() is ok
    assert RunConfig(MLP, epochs=1, batch_size=1, learning_rate=1e-9, subset=42000).errors() == {}


def test_nine_hidden_layers():
    errs = errors_of(RunConfig(ModelSpec("mlp", dense=(16,) * 9)))
    assert errs == {"model.dense": "at most 8 hidden layers (got 9)"}
    assert RunConfig(ModelSpec("mlp", dense=(16,) * 8)).errors() == {}


def test_too_many_units_names_the_layer():
    errs = errors_of(RunConfig(ModelSpec("mlp", dense=(64, 5000))))
    assert errs == {"model.dense[1]": "must be a whole number from 1 to 4096 (got 5000)"}
    errs = errors_of(RunConfig(ModelSpec("mlp", dense=(0,))))
    assert errs == {"model.dense[0]": "must be a whole number from 1 to 4096 (got 0)"}


def test_dropout_length_mismatch():
    errs = errors_of(RunConfig(ModelSpec("mlp", dense=(64, 32), dropout=(0.2,))))
    assert errs == {"model.dropout": "give one dropout rate per dense layer (2), or none"}


def test_dropout_rate_out_of_range():
    errs = errors_of(RunConfig(ModelSpec("mlp", dense=(64,), dropout=(0.95,), flatten_dropout=-0.1)))
    assert errs == {"model.dropout[0]": "must be a number from 0.0 to 0.9 (got 0.95)",
                    "model.flatten_dropout": "must be a number from 0.0 to 0.9 (got -0.1)"}


def test_bad_kind_and_activation():
    assert errors_of(RunConfig(ModelSpec("svm"))) == {
        "model.kind": "must be one of majority, forest, mlp, cnn, resnet (got 'svm')"}
    errs = errors_of(RunConfig(ModelSpec("mlp", dense=(8,), activation="softplus")))
    assert errs == {"model.activation": "must be one of relu, gelu, elu, tanh, sigmoid, selu, swish (got 'softplus')"}


def _side(blocks):
    """Independent arithmetic: a valid ('VALID') convolution then floor-divided pooling."""
    side = 28
    for b in blocks:
        side = side - b.kernel + 1
        if b.pool > 1:
            side //= b.pool
    return side


def test_conv_stack_that_shrinks_to_nothing():
    blocks = (ConvBlock(8, 7, 4), ConvBlock(8, 7, 2), ConvBlock(8, 3, 0))
    assert _side(blocks[:1]) == 5 and 5 - 7 + 1 < 1  # the second block is where it vanishes
    errs = errors_of(RunConfig(ModelSpec("cnn", conv=blocks)))
    assert list(errs) == ["model.conv[1]"]
    assert "shrinks to nothing" in errs["model.conv[1]"]
    # the same stack one layer shorter and with a smaller kernel still has a 1x1 image left
    fine = (ConvBlock(8, 7, 4), ConvBlock(8, 5, 0))
    assert _side(fine) == 1
    assert RunConfig(ModelSpec("cnn", conv=fine)).errors() == {}


def test_conv_layer_count_and_fields():
    assert errors_of(RunConfig(ModelSpec("cnn"))) == {
        "model.conv": "a convolutional network needs 1 to 6 conv layers (got 0)"}
    assert "got 7" in errors_of(RunConfig(ModelSpec("cnn", conv=(ConvBlock(4, 1, 0),) * 7)))["model.conv"]
    errs = errors_of(RunConfig(ModelSpec("cnn", conv=(ConvBlock(600, 9, 5),))))
    assert errs["model.conv[0].filters"] == "must be a whole number from 1 to 512 (got 600)"
    assert errs["model.conv[0].kernel"] == "must be a whole number from 1 to 7 (got 9)"
    assert errs["model.conv[0].pool"] == "must be a whole number from 0 to 4 (got 5)"
    assert errors_of(RunConfig(ModelSpec("cnn", conv=(ConvBlock(4, 3, 0, padding="full"),)))) == {
        "model.conv[0].padding": "must be one of valid, same (got 'full')"}


def test_same_padding_keeps_the_side_so_deeper_stacks_fit():
    same = (ConvBlock(8, 7, 2, padding="same"),) * 4  # 28 -> 14 -> 7 -> 3 -> 1
    assert [b.conv_side(28) for b in same[:1]] == [28] and same[0].out_side(28) == 14
    assert RunConfig(ModelSpec("cnn", conv=same)).errors() == {}
    valid = errors_of(RunConfig(ModelSpec("cnn", conv=(ConvBlock(8, 7, 2),) * 4)))  # 28 -> 11 -> 2 -> nothing
    assert list(valid) == ["model.conv[2]"] and "shrinks to nothing" in valid["model.conv[2]"]


def test_resnet_and_forest_ranges():
    errs = errors_of(RunConfig(ModelSpec("resnet", input_size=16, fine_tune=200)))
    assert errs == {"model.input_size": "must be a whole number from 32 to 224 (got 16)",
                    "model.fine_tune": "must be a whole number from 0 to 175 (got 200)"}
    assert errors_of(RunConfig(ModelSpec("forest", n_estimators=0))) == {
        "model.n_estimators": "must be a whole number from 1 to 1000 (got 0)"}


def test_mirror_averaging_is_refused_for_a_baseline_and_allowed_for_a_network():
    assert errors_of(presets.config_for("forest", flip_average=True)) == {
        "flip_average": "mirror averaging is for a neural network; turn it off for a baseline"}
    assert presets.config_for("mlp1", flip_average=True).errors() == {}


def test_errors_dict_collects_every_field_at_once():
    config = RunConfig(ModelSpec("mlp", dense=(5000,) * 9, dropout=(0.1,)), epochs=0, batch_size=9000,
                       learning_rate=2, optimizer="bad", name="x" * 81, user="u" * 41)
    errs = errors_of(config)
    assert set(errs) == {"model.dense", "model.dropout", "epochs", "batch_size", "learning_rate", "optimizer",
                         "name", "user"} | {f"model.dense[{i}]" for i in range(9)}
    assert errs["name"] == "at most 80 characters" and errs["user"] == "at most 40 characters"


@pytest.mark.parametrize("key", list(presets.all_presets()))
def test_every_preset_is_valid_and_round_trips_through_json(key):
    config = presets.config_for(key)
    assert config.errors() == {}
    text = config.to_json()
    assert json.loads(text) == json.loads(json.dumps(asdict(config)))  # tuples become lists
    again = RunConfig.from_json(text)
    assert again == config
    assert again.to_json() == text
    assert isinstance(again.model.conv, tuple) and all(isinstance(b, ConvBlock) for b in again.model.conv)
    assert isinstance(again.model.dense, tuple) and isinstance(again.model.dropout, tuple)


def test_round_trip_with_overrides_and_unknown_keys():
    config = presets.config_for("resnet", name="mine", subset=500, seed=7)
    config = replace(config, model=replace(config.model, weights=None))
    payload = json.loads(config.to_json())
    payload["from_a_newer_version"] = 1  # ignored, so old rows still load
    again = RunConfig.from_dict(payload)
    assert again == config
    assert again.name == "mine" and again.subset == 500 and again.model.weights is None


def test_config_for_sets_name_and_preset():
    config = presets.config_for("cnn2")
    assert config.preset == "cnn2" and config.name == "Multi CNN"
    assert presets.config_for("cnn2", name="x", epochs=3).epochs == 3
    with pytest.raises(KeyError, match="unknown preset 'nope'"):
        presets.get("nope")


def test_a_time_budget_is_for_a_neural_network():
    assert RunConfig(MLP, minutes=2.5).errors() == {} and RunConfig(MLP, minutes=1).errors() == {}
    assert errors_of(presets.config_for("forest", minutes=5.0)) == {
        "minutes": "a time budget is for a neural network; leave it empty for a baseline"}


def test_precision_is_one_of_three_and_only_for_a_network():
    assert RunConfig(MLP, precision="bfloat16").errors() == {} and RunConfig(CNN, precision="auto").errors() == {}
    assert errors_of(RunConfig(MLP, precision="float16")) == {
        "precision": "must be one of float32, bfloat16, auto (got 'float16')"}
    assert errors_of(presets.config_for("forest", precision="auto")) == {
        "precision": "mixed precision is for a neural network; use float32 for a baseline"}
    assert presets.config_for("forest").precision == "float32"
