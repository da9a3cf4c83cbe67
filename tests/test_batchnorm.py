"""fmnist.batchnorm: the fused layer computes what keras.layers.BatchNormalization computes, and saves as itself."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
from fmnist.batchnorm import FusedBatchNormalization  # noqa: E402

SHAPES = [(16, 7, 7, 5), (64, 9)]  # after a convolution, after a dense layer


def pair(shape, **kw):
    """Keras's layer and ours, built for `shape` with the same non-trivial scale and offset."""
    ours, theirs = FusedBatchNormalization(momentum=0.9, **kw), keras.layers.BatchNormalization(momentum=0.9, **kw)
    for layer in (ours, theirs):
        layer.build(shape)
        channels = shape[layer.axis]
        if layer.scale:
            layer.gamma.assign(np.linspace(0.5, 2.0, channels))
        if layer.center:
            layer.beta.assign(np.linspace(-1.0, 1.0, channels))
    return ours, theirs


def batch(shape, seed=0):
    return tf.constant(np.random.RandomState(seed).randn(*shape).astype("float32") * 3 + 1)


@pytest.mark.parametrize("shape", SHAPES)
def test_training_output_and_gradients_match_keras(shape):
    ours, theirs = pair(shape)
    x = batch(shape)
    weights = batch(shape, seed=1)  # a different upstream gradient for every element
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * weights)
        results.append((y.numpy(), *[g.numpy() for g in tape.gradient(loss, [x, layer.gamma, layer.beta])]))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * np.abs(b).max())
    # the normalised output has the batch's statistics taken out, per channel
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(((results[0][0] - ours.beta.numpy()) / ours.gamma.numpy()).mean(axis=axes), 0,
                               atol=1e-4)


@pytest.mark.parametrize("shape", SHAPES)
def test_moving_statistics_follow_keras_up_to_bessels_correction(shape):
    ours, theirs = pair(shape)
    for seed in range(3):
        x = batch(shape, seed)
        ours(x, training=True), theirs(x, training=True)
    n = int(np.prod(shape[:-1]))
    np.testing.assert_allclose(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), rtol=1e-5, atol=1e-6)
    # Keras 3 moves the variance by the batch's biased variance, the fused kernel by the unbiased one
    ratio = ours.moving_variance.numpy() / theirs.moving_variance.numpy()
    assert np.all(ratio > 1) and np.all(ratio < n / (n - 1))
    x = batch(shape, 9)
    theirs.moving_variance.assign(ours.moving_variance)
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), rtol=1e-5, atol=1e-5)


def test_frozen_layer_uses_its_moving_statistics_even_in_training():
    shape = SHAPES[0]
    ours, theirs = pair(shape)
    ours.trainable = theirs.trainable = False
    x = batch(shape)
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ours.moving_mean.numpy(), np.zeros(shape[-1]))


def test_without_scale_and_centre_and_on_another_axis():
    shape = SHAPES[0]
    ours, theirs = pair(shape, center=False, scale=False)
    x = batch(shape)
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), rtol=1e-4, atol=1e-4)
    ours, theirs = pair(shape, axis=1)  # not the last axis: Keras's own code runs
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), rtol=1e-5, atol=1e-5)


def test_bfloat16_inputs_give_bfloat16_outputs_with_float32_statistics():
    shape = SHAPES[0]
    layer = FusedBatchNormalization(dtype="mixed_bfloat16")
    x = batch(shape)
    y = layer(tf.cast(x, "bfloat16"), training=True)
    assert y.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"
    reference = keras.layers.BatchNormalization()(x, training=True)
    np.testing.assert_allclose(tf.cast(y, "float32"), reference, atol=0.05)


def test_a_saved_model_loads_back_with_the_same_layer_and_predictions(tmp_path):
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(inputs, FusedBatchNormalization()(inputs))
    model.layers[-1].moving_mean.assign([0.5, -1.0, 2.0])
    path = tmp_path / "bn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[-1]) is FusedBatchNormalization
    x = batch((4, 6, 6, 3))
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
