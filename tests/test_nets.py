"""fmnist.nets: Keras parameter counts against the notebook and the hand-written count; weights errors."""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from fmnist import nets, presets
from fmnist.config import ConfigError, ConvBlock, ModelSpec, RunConfig

keras = pytest.importorskip("keras")

# The notebook's model.summary() totals.
NOTEBOOK_PARAMS = {
    "mlp1": 202_735,
    "mlp3": 987_115,
    "mlp3_reg": 987_115,
    "mlp5_reg": 3_717_910,
    "cnn1": 1_413_407,
    "cnn2": 723_359,
}
KERAS_PRESETS = [k for k, p in presets.all_presets().items() if p.config.is_keras]


def offline(config: RunConfig) -> RunConfig:
    """ResNet presets with random weights: the tests never download ImageNet weights."""
    if config.model.kind == "resnet":
        return replace(config, model=replace(config.model, weights=None))
    return config


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.fixture(scope="module")
def built():
    """Each Keras preset built once for the module (ResNet50 takes seconds to build)."""
    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = nets.build(offline(presets.config_for(key)))
        return cache[key]

    return get


@pytest.mark.parametrize("key", sorted(NOTEBOOK_PARAMS))
def test_notebook_presets_have_the_notebooks_parameter_count(built, key):
    model = built(key)
    assert model.count_params() == NOTEBOOK_PARAMS[key]
    assert presets.get(key).notebook.params == NOTEBOOK_PARAMS[key]
    # no layer is frozen in the notebook's own networks
    assert trainable(model) == NOTEBOOK_PARAMS[key]
    assert model.input_shape == (None, 28, 28) and model.output_shape == (None, 10)


def test_resnet_preset_matches_the_notebook_total_and_trainable(built):
    model = built("resnet")
    assert model.count_params() == 24_114_826
    assert trainable(model) == 527_114
    assert presets.get("resnet").notebook.params == 24_114_826
    # the head alone: Dense 2048->256 and 256->10
    assert 2048 * 256 + 256 + 256 * 10 + 10 == 527_114


def test_fine_tuned_resnet_trains_more_than_the_frozen_one(built):
    frozen, tuned = built("resnet"), built("resnet_ft")
    assert tuned.count_params() == frozen.count_params() == 24_114_826  # input size changes no weights
    assert trainable(tuned) > trainable(frozen)


CUSTOM_SPECS = {
    "mlp_bn": ModelSpec("mlp", dense=(64, 32), dropout=(0.1, 0.0), batch_norm=True, activation="gelu"),
    "cnn_bn": ModelSpec("cnn", conv=(ConvBlock(8, 5, 1, True), ConvBlock(16, 3, 3, True), ConvBlock(4, 1, 0)),
                        dense=(20,), batch_norm=True, flatten_dropout=0.1),
    "cnn_no_dense": ModelSpec("cnn", conv=(ConvBlock(6, 7, 4),)),
    "cnn_same": ModelSpec("cnn", conv=(ConvBlock(8, 3, 0, True, "same"), ConvBlock(16, 5, 2, False, "same"))),
    "mlp_no_hidden": ModelSpec("mlp"),
}


def _independent_count(spec: ModelSpec) -> int:
    """The same total, worked out by hand for the custom specs (weights + biases + 4 per BN unit)."""
    return {
        # 784*64+64 + 4*64, 64*32+32 + 4*32, 32*10+10
        "mlp_bn": 784 * 64 + 64 + 256 + 64 * 32 + 32 + 128 + 330,
        # conv 5x5x1x8 (+8 +32 BN) -> 24x24; conv 3x3x8x16 (+16 +64 BN) -> 22 -> pool 3 -> 7x7;
        # conv 1x1x16x4 (+4) -> 7x7x4 = 196; dense 196*20+20 + 80 BN; 20*10+10
        "cnn_bn": (200 + 8 + 32) + (1152 + 16 + 64) + (64 + 4) + (196 * 20 + 20 + 80) + 210,
        # conv 7x7x1x6 +6 -> 22 -> pool 4 -> 5x5x6 = 150; 150*10+10
        "cnn_no_dense": 294 + 6 + 1510,
        # conv 3x3x1x8 (+8 +32 BN) keeps 28x28; conv 5x5x8x16 (+16) keeps 28 -> pool 2 -> 14x14x16 = 3136; 3136*10+10
        "cnn_same": (72 + 8 + 32) + (3200 + 16) + 31370,
        "mlp_no_hidden": 7850,
    }[[k for k, v in CUSTOM_SPECS.items() if v == spec][0]]


@pytest.mark.parametrize("name", sorted(CUSTOM_SPECS))
def test_count_params_matches_keras_for_custom_specs(name):
    spec = CUSTOM_SPECS[name]
    config = RunConfig(spec).validate()
    model = nets.build(config)
    assert nets.count_params(spec) == model.count_params() == _independent_count(spec)


@pytest.mark.parametrize("key", KERAS_PRESETS)
def test_count_params_matches_keras_for_every_preset(built, key):
    spec = presets.get(key).config.model
    assert nets.count_params(spec) == built(key).count_params()


def test_count_params_of_baselines_is_zero():
    assert nets.count_params(ModelSpec("majority")) == 0
    assert nets.count_params(ModelSpec("forest")) == 0


def test_augmentation_layers_add_no_parameters():
    spec = CUSTOM_SPECS["cnn_bn"]
    plain = nets.build(RunConfig(spec))
    augmented = nets.build(RunConfig(spec, augment=True))
    assert augmented.count_params() == plain.count_params() == nets.count_params(spec)
    assert len(augmented.layers) > len(plain.layers)


def test_check_size_rejects_a_spec_over_the_cap():
    config = presets.config_for("mlp1")
    with pytest.raises(ConfigError) as info:
        nets.check_size(config, 200_000)
    assert list(info.value.errors) == ["model"]
    text = info.value.errors["model"]
    assert "202,735 parameters" in text and "cap of 200,000" in text
    nets.check_size(config, 202_735)  # exactly at the cap is allowed

    huge = RunConfig(ModelSpec("mlp", dense=(4096,) * 8))
    expected = 784 * 4096 + 4096 + 7 * (4096 * 4096 + 4096) + 40970
    assert nets.count_params(huge.model) == expected
    with pytest.raises(ConfigError, match=f"{expected:,} parameters is over this lab's cap of 30,000,000"):
        nets.check_size(huge, 30_000_000)


def test_every_preset_fits_under_the_default_cap():
    for key, preset in presets.all_presets().items():
        assert nets.count_params(preset.config.model) <= 30_000_000, key


# -- ResNet weights ----------------------------------------------------------------------------

def resnet_with(weights) -> RunConfig:
    config = presets.config_for("resnet")
    return replace(config, model=replace(config.model, weights=weights))


def test_missing_local_weights_file_raises_weights_error(tmp_path):
    path = tmp_path / "nowhere" / "resnet50_notop.h5"
    with pytest.raises(nets.WeightsError) as info:
        nets.build(resnet_with(str(path)))
    text = str(info.value)
    assert str(path) in text and "does not exist" in text
    assert nets.IMAGENET_NOTOP in text


def test_damaged_local_weights_file_raises_weights_error(tmp_path):
    path = tmp_path / "bad.weights.h5"
    path.write_bytes(b"not an HDF5 file" * 10)
    with pytest.raises(nets.WeightsError) as info:
        nets.build(resnet_with(str(path)))
    assert str(path) in str(info.value) and "could not be loaded" in str(info.value)


def test_imagenet_weights_offline_raise_weights_error_quickly(tmp_path, monkeypatch):
    """No cached file and no network: a clear WeightsError, not a hang.

    The Keras cache folder is read once at import, so it is redirected through keras' config as
    well as HOME/KERAS_HOME; the download URL points at a closed local port so the test is offline
    even on a machine with internet access (a real download is ~95 MB)."""
    from keras.src.backend import config as keras_config

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / ".keras"))
    monkeypatch.setattr(nets, "IMAGENET_URL", "http://127.0.0.1:9/" + nets.IMAGENET_NOTOP)
    start = time.monotonic()
    with pytest.raises(nets.WeightsError) as info:
        nets.build(resnet_with("imagenet"))
    assert time.monotonic() - start < 30
    text = str(info.value)
    assert "not in the Keras cache" in text and nets.IMAGENET_NOTOP in text and "weights 'none'" in text
    assert not (tmp_path / ".keras" / "models" / nets.IMAGENET_NOTOP).exists()


def test_bfloat16_computes_in_bfloat16_keeps_float32_weights_and_float32_probabilities():
    config = presets.config_for("lab_best", precision="bfloat16")
    model = nets.build(config)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and {layer.compute_dtype for layer in convs} == {"bfloat16"}
    assert {w.dtype for w in model.weights} == {"float32"}
    assert model.get_layer("classes").compute_dtype == "float32"
    x = np.random.RandomState(0).randint(0, 256, (4, 28, 28)).astype("uint8")
    probabilities = np.asarray(model(x))
    assert probabilities.dtype == np.float32 and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    # float32 builds the same weights, computed in float32
    plain = nets.build(config.with_(precision="float32"))
    assert {layer.compute_dtype for layer in plain.layers if isinstance(layer, keras.layers.Conv2D)} == {"float32"}
    assert plain.count_params() == model.count_params()


def test_auto_precision_is_bfloat16_only_where_the_machine_has_it(monkeypatch):
    import tensorflow as tf

    from fmnist import system
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])  # a CPU-only machine
    monkeypatch.setattr(system, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    assert nets.resolved_precision("auto") == "bfloat16"
    monkeypatch.setattr(system, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert nets.resolved_precision("auto") == "float32"
    assert nets.resolved_precision("bfloat16") == "bfloat16" and nets.resolved_precision("float32") == "float32"


def test_building_in_bfloat16_leaves_the_threads_default_policy_alone():
    nets.build(presets.config_for("cnn1", precision="bfloat16"))
    assert keras.config.dtype_policy().name == "float32"
    assert nets.build(presets.config_for("mlp1")).layers[-1].compute_dtype == "float32"


def test_a_trunk_replaces_the_specs_layers_between_the_augmented_image_and_the_output():
    from fmnist.bench.candidates import resnet9
    seen = []

    def trunk(x):
        seen.append((tuple(x.shape), x.dtype))
        return resnet9(x)

    config = presets.config_for("lab_best", precision="bfloat16")
    model = nets.build(config, trunk)
    assert seen == [((None, 28, 28, 1), "float32")]  # the augmented image, as the spec's convolutions get it
    kinds = [type(layer).__name__ for layer in model.layers]
    assert {"RandomFlip", "RandomTranslation", "RandomErasing"} <= set(kinds)
    assert kinds.count("Add") == 2 and "Dense" in kinds and "Flatten" not in kinds  # none of lab_best's own
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 8 and {layer.compute_dtype for layer in convs} == {"bfloat16"}
    assert model.get_layer("classes").compute_dtype == "float32" and model.output_shape == (None, 10)
    # the built network is the trunk's, not the spec's: counted from the layers, not from lab_best's spec
    assert model.count_params() == sum(int(np.prod(w.shape)) for w in model.weights) != nets.count_params(config.model)
