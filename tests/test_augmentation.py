"""The lab-best preset's augmentation must keep images images: same range, mostly the same pixels."""
import numpy as np

from fmnist import data, nets, presets


def test_augmentation_keeps_pixels_in_range_and_leaves_inference_untouched():
    import keras
    config = presets.config_for("lab_best")
    model = nets.build(config)
    # the sub-graph from the uint8 input to the end of the augmentation layers
    last_aug = next(layer for layer in reversed(model.layers) if layer.name.startswith("random_"))
    augment = keras.Model(model.input, last_aug.output)
    x = np.zeros((64, 28, 28), np.uint8)
    x[:, 6:22, 8:20] = 200
    trained = np.asarray(augment(x, training=True))
    assert trained.min() >= 0.0 and trained.max() <= 1.0 + 1e-6
    assert not np.allclose(trained[..., 0], x / 255.0)  # something was augmented
    inferred = np.asarray(augment(x, training=False))[..., 0]
    np.testing.assert_allclose(inferred, x / 255.0, atol=1e-6)
    assert len(data.CLASS_NAMES) == model.output_shape[-1]
