"""Which pixels the model's answer is most sensitive to: the gradient of the top class's logit."""
from __future__ import annotations

import functools

import numpy as np

from fmnist import artifacts

EXPLANATION = ("Bright pixels are where a small change in the picture would move the score of "
               "'{name}' the most (the gradient of its logit). It shows what the model is sensitive "
               "to, not proof of what it looked at; dark areas barely matter to this answer.")


def saliency(model, image28: np.ndarray) -> np.ndarray | None:
    """|d logit(top class) / d pixel| for a Keras model (28x28, >= 0); None for other models.

    The gradient of the logit, not of the softmax probability: a confident probability of
    1.0 has a gradient of zero everywhere in float32, which would show an empty map.
    """
    if not isinstance(model, artifacts.KerasModel):
        return None
    import tensorflow as tf

    logits_model = _logits_model(model.model)
    x = tf.convert_to_tensor(np.asarray(image28, np.float32)[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = logits_model(x, training=False)
        top = logits[0, int(np.argmax(logits[0]))]
    return np.abs(tape.gradient(top, x).numpy()[0])


@functools.lru_cache(maxsize=4)
def _logits_model(model):
    """The same layers and weights on a float32 input, with the final softmax left out.

    The lab's models take uint8 pixels (Rescaling inside), and a uint8 input has no gradient;
    rebuilding the graph on a float input, reusing every layer object, keeps the weights shared.
    """
    import keras

    last = model.layers[-1]

    def reuse(layer):
        if layer is last and layer.get_config().get("activation") == "softmax":
            linear = layer.__class__.from_config({**layer.get_config(), "activation": "linear"})
            linear.build(layer.input.shape)
            linear.set_weights(layer.get_weights())
            return linear
        return layer

    inputs = keras.Input(shape=(28, 28), dtype="float32")
    return keras.models.clone_model(model, input_tensors=inputs, clone_function=reuse)
