"""fmnist.inside against independent computations: feature maps by scipy correlation, first-layer weights
by a hand dot product, Grad-CAM on a hand-built model whose evidence sits in one place; the cache under
threads; the figure builders it feeds."""
from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.signal import correlate2d

from fmnist import charts, inside, nets, presets
from fmnist.artifacts import KerasModel, MajorityModel
from fmnist.config import ConvBlock, ModelSpec, RunConfig
from fmnist.data import CLASS_NAMES

TWO_CONV = ModelSpec("cnn", conv=(ConvBlock(8, 3, 2), ConvBlock(6, 3, 0, True)), dense=(16,))
RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def fresh_probes():
    inside._cached_probe.cache_clear()
    yield
    inside._cached_probe.cache_clear()


def built(spec: ModelSpec, seed: int = 3) -> KerasModel:
    import keras
    keras.utils.set_random_seed(seed)
    return KerasModel(nets.build(RunConfig(spec, preset="custom")))


def random_image() -> np.ndarray:
    return RNG.integers(0, 256, (28, 28), dtype=np.uint8)


def relu(x):
    return np.maximum(x, 0)


# ---------------------------------------------------------------- feature maps


def test_feature_maps_equal_scipy_convolution_pooling_and_batch_norm():
    model = built(TWO_CONV)
    import keras
    bn = next(layer for layer in model.model.layers if isinstance(layer, keras.layers.BatchNormalization))
    gamma, beta, mean, var = (RNG.uniform(0.5, 1.5, 6).astype(np.float32) for _ in range(4))
    bn.set_weights([gamma, beta - 1.0, mean - 1.0, var])  # non-trivial statistics, so BN really is applied
    conv1, conv2 = (layer for layer in model.model.layers if layer.__class__.__name__ == "Conv2D")
    (k1, b1), (k2, b2) = conv1.get_weights(), conv2.get_weights()
    image = random_image()
    x = image.astype(np.float64) / 255

    first = np.stack([relu(correlate2d(x, k1[:, :, 0, f], mode="valid") + b1[f]) for f in range(8)])
    pooled = first[:, :26, :26].reshape(8, 13, 2, 13, 2).max(axis=(2, 4))
    conv = np.stack([sum(correlate2d(pooled[c], k2[:, :, c, f], mode="valid") for c in range(8)) + b2[f]
                     for f in range(6)])
    second = relu(gamma[:, None, None] * (conv - (mean - 1.0)[:, None, None])
                  / np.sqrt(var[:, None, None] + bn.epsilon) + (beta - 1.0)[:, None, None])

    look = inside.look(model, image)
    assert [layer.maps.shape for layer in look.layers] == [(8, 26, 26), (6, 11, 11)]
    np.testing.assert_allclose(look.layers[0].maps, first, atol=1e-5)
    np.testing.assert_allclose(look.layers[1].maps, second, atol=1e-4)
    probs = model.predict_proba(image[None])[0]
    np.testing.assert_allclose(look.probs, probs, atol=1e-5)
    assert look.label == int(np.argmax(probs))


def test_a_bfloat16_network_shows_what_its_float32_twin_shows():
    spec = ModelSpec("cnn", conv=(ConvBlock(8, 3, 0, True, "same"), ConvBlock(6, 3, 2, True, "same")), dense=(16,))
    twin = built(spec)
    fast = KerasModel(nets.build(RunConfig(spec, preset="custom", precision="bfloat16")))
    fast.model.set_weights(twin.model.get_weights())
    image = random_image()
    ours, theirs = inside.look(fast, image), inside.look(twin, image)
    assert [layer.maps.shape for layer in ours.layers] == [(8, 28, 28), (6, 28, 28)]  # 'same' keeps the size
    for a, b in zip(ours.layers, theirs.layers):
        assert a.maps.dtype == np.float32
        np.testing.assert_allclose(a.maps, b.maps, atol=0.05 * np.abs(b.maps).max())
    np.testing.assert_allclose(ours.probs, theirs.probs, atol=0.02)
    assert np.abs(ours.cam - theirs.cam).mean() < 0.05


def test_every_convolution_of_cnn2_with_its_receptive_field():
    model = KerasModel(nets.build(presets.config_for("cnn2")))
    look = inside.look(model, random_image())
    # 28 -conv3-> 26 -pool2-> 13 -conv3-> 11 -conv3-> 9; fields 3, then 3+1 (pool) +2*2 = 8, then 8 + 2*2 = 12
    assert [(layer.index, layer.maps.shape, layer.field) for layer in look.layers] == [
        (1, (64, 26, 26), 3), (2, (32, 11, 11), 8), (3, (32, 9, 9), 12)]
    assert look.cam.shape == (28, 28) and look.cam_coarse.shape == (9, 9)


def test_first_conv_filters_are_the_kernels():
    model = built(TWO_CONV)
    kernel, bias = next(layer for layer in model.model.layers if layer.__class__.__name__ == "Conv2D").get_weights()
    w = inside.first_layer(model)
    assert (w.kind, w.total, w.pictures.shape) == ("cnn", 8, (8, 3, 3))
    np.testing.assert_array_equal(w.pictures[5], kernel[:, :, 0, 5])
    np.testing.assert_array_equal(w.bias, bias)


def test_mlp_weight_picture_times_the_image_is_the_units_input():
    import keras
    model = built(ModelSpec("mlp", dense=(130,)))
    w = inside.first_layer(model)
    assert (w.kind, w.total, w.pictures.shape) == ("mlp", 130, (inside.MAX_TILES, 28, 28))
    dense = next(layer for layer in model.model.layers if isinstance(layer, keras.layers.Dense))
    pre = keras.Model(model.model.inputs, dense.output)  # relu(W.x + b): check the positive units
    image = random_image()
    by_hand = relu((w.pictures * (image / 255.0)).sum(axis=(1, 2)) + w.bias)
    np.testing.assert_allclose(np.asarray(pre([image[None]]))[0, :inside.MAX_TILES], by_hand, rtol=1e-4, atol=1e-5)
    with pytest.raises(inside.InsideError, match="need a convolutional network"):
        inside.look(model, image)


def test_a_baseline_cannot_be_looked_inside():
    with pytest.raises(inside.InsideError, match="choose an MLP or CNN run"):
        inside.first_layer(MajorityModel(3))


# ---------------------------------------------------------------- Grad-CAM


def bar_detector():
    """Conv(vertical-bar, horizontal-bar detectors) -> Flatten -> classes: class 0 counts vertical bars,
    class 1 horizontal ones. Its evidence for class 0 lies on vertical bars and nowhere else."""
    import keras
    from keras import layers
    inputs = keras.Input((28, 28), dtype="uint8")
    x = layers.Reshape((28, 28, 1))(layers.Rescaling(1 / 255)(inputs))
    conv = layers.Conv2D(2, 3, activation="relu")
    x = layers.Flatten()(conv(x))
    classes = layers.Dense(10, activation="softmax", name="classes")
    model = keras.Model(inputs, classes(x))
    vertical = np.tile([-1.0, 2.0, -1.0], (3, 1))
    conv.set_weights([np.stack([vertical, vertical.T], -1)[:, :, None, :].astype(np.float32), np.zeros(2, np.float32)])
    w = np.zeros((26, 26, 2, 10), np.float32)
    w[:, :, 0, 0] = 1.0
    w[:, :, 1, 1] = 1.0
    classes.set_weights([w.reshape(-1, 10), np.zeros(10, np.float32)])
    return KerasModel(model), vertical


def test_grad_cam_lights_the_vertical_bar_the_model_counts():
    model, vertical = bar_detector()
    image = np.zeros((28, 28), np.uint8)
    image[2:14, 5] = 255      # a long vertical bar, top left: class 0's evidence
    image[20, 16:23] = 255    # a shorter horizontal bar, bottom right: class 1's
    look = inside.look(model, image)
    assert look.label == 0
    assert look.cam.shape == (28, 28) and look.cam.min() >= 0 and look.cam.max() <= 1
    assert look.cam_coarse.max() == pytest.approx(1.0)
    assert look.cam[:14, :14].sum() / look.cam.sum() > 0.85
    assert look.cam[14:, 14:].max() < 0.25  # the horizontal bar: only its two ends look a little vertical
    row, col = np.unravel_index(np.argmax(look.cam), look.cam.shape)
    assert 1 <= row <= 14 and 3 <= col <= 7
    # By hand: d logit_0 / d map is 1 on channel 0 and 0 on channel 1, so Grad-CAM is channel 0, scaled to 1.
    a0 = relu(correlate2d(image / 255.0, vertical, mode="valid"))
    np.testing.assert_allclose(look.cam_coarse, a0 / a0.max(), atol=1e-5)


def test_grad_cam_from_activations_and_gradients():
    acts = RNG.uniform(0, 1, (5, 5, 3))
    grads = RNG.normal(size=(5, 5, 3)) + [1.0, -0.5, 0.0]  # one channel for, one against, one noise
    cam = inside.grad_cam(acts, grads)
    alpha = grads.reshape(-1, 3).mean(axis=0)
    expected = relu(np.einsum("hwc,c->hw", acts, alpha))
    np.testing.assert_allclose(cam, expected / expected.max(), rtol=1e-5)
    assert inside.grad_cam(acts, -np.abs(grads) * 0).max() == 0  # no evidence: an empty map, not NaN


# ---------------------------------------------------------------- cache


def test_one_sub_model_per_model_and_answers_kept_across_threads():
    model = built(TWO_CONV)
    images = [random_image() for _ in range(6)]
    expected = [inside.look(model, im).probs.copy() for im in images]
    inside._cached_probe.cache_clear()
    results, errors = {}, []

    def worker(i):
        try:
            results[i] = inside.look(model, images[i % 6])
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert inside._cached_probe.cache_info().misses == 1
    for i, look in results.items():
        np.testing.assert_allclose(look.probs, expected[i % 6], atol=1e-6)
    assert inside.look(model, images[0]) is inside.look(model, images[0].copy())
    with pytest.raises(ValueError, match="read-only"):
        results[0].cam[0, 0] = 1.0


# ---------------------------------------------------------------- which test image, in words


def test_test_image_by_index_or_by_class():
    y = np.array([3, 1, 3, 0, 3])
    split = SimpleNamespace(x_test=np.arange(5)[:, None, None] * np.ones((5, 28, 28), np.uint8), y_test=y)
    image, label, row = inside.test_image(split, 2, label=3)
    assert (label, row, int(image[0, 0])) == (3, 4, 4)
    assert inside.test_image(split, 1)[1:] == (1, 1)
    with pytest.raises(ValueError, match="There are 3 test images of this class: choose 0 to 2."):
        inside.test_image(split, 3, label=3)
    with pytest.raises(ValueError, match="choose 0 to 4"):
        inside.test_image(split, 5)


def test_sentences_name_the_numbers_they_describe():
    model = KerasModel(nets.build(presets.config_for("cnn2")))
    look = inside.look(model, random_image())
    assert inside.about_first_layer(inside.first_layer(model)).startswith(
        "The first convolution's 64 filters, each 3×3 weights")
    assert inside.about_layer(look.layers[2], 3).startswith(
        "Convolution 3 of 3: 32 feature maps of 9×9, one per filter, after the activation. "
        "Each cell sees a 12×12-pixel patch")
    assert inside.about_cam(look, CLASS_NAMES).startswith(f"Grad-CAM for “{CLASS_NAMES[look.label]}”")
    assert "the 9×9 map is stretched" in inside.about_cam(look, CLASS_NAMES)


# ---------------------------------------------------------------- figures


def test_tile_mosaic_puts_each_picture_in_its_cell_with_gaps():
    stack = RNG.normal(size=(7, 4, 3))
    mosaic, which = charts.tile_mosaic(stack, cols=3)
    assert mosaic.shape == (3 * 5 - 1, 3 * 4 - 1)
    np.testing.assert_array_equal(mosaic[5:9, 4:7], stack[4])  # picture 4: row 1, column 1
    assert np.all(which[5:9, 4:7] == 4)
    assert np.isnan(mosaic[4]).all() and np.isnan(mosaic[:, 3]).all()  # the gaps
    assert np.isnan(mosaic[10:, 4:]).all()  # the two empty cells after picture 6
    assert np.nansum(mosaic) == pytest.approx(stack.sum())


def test_picture_grid_scales_weights_around_zero_and_activations_from_black():
    stack = RNG.normal(size=(10, 5, 5))
    weights = charts.picture_grid(stack, "Filters", diverging=True)
    heat = weights.data[0]
    peak = np.abs(stack).max()
    assert (heat.zmin, heat.zmax, heat.zmid) == (pytest.approx(-peak), pytest.approx(peak), 0)
    assert heat.colorbar.title.text == "weight" and weights.layout.title.text == "Filters"
    maps = charts.picture_grid(np.abs(stack), "Maps", unit="map", cols=5)
    assert maps.data[0].zmin == 0 and maps.data[0].z.shape == (2 * 6 - 1, 5 * 6 - 1)
    assert maps.data[0].hovertemplate.startswith("map %{customdata}")
    assert charts.picture_grid(np.zeros((0, 3, 3)), "None").layout.annotations[0].text == "Nothing to show"


def test_gradcam_overlay_is_the_image_under_the_heat():
    image = RNG.integers(0, 256, (28, 28))
    cam = np.zeros((28, 28))
    cam[3:6, 3:6] = 0.5
    fig = charts.gradcam_overlay(image, cam, title="Where it looks")
    assert [t.name for t in fig.data] == ["image", "Grad-CAM"]
    np.testing.assert_array_equal(fig.data[0].z, image)
    assert fig.data[1].colorbar.title.text == "Grad-CAM" and np.asarray(fig.data[1].z).max() == 1.0
