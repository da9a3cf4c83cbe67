"""Inside a trained network: first-layer filters or weights, feature maps at every convolution, Grad-CAM.

Everything comes out as plain numpy. One forward pass through a functional sub-model of the run's own
layers gives every convolution's output and the logits together; the Grad-CAM gradient comes from the
same pass. The sub-model is built once per model, the answer for an image is kept for the next click.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from fmnist import artifacts

MAX_TILES = 100  # first-layer pictures shown at most: a 2,040-unit layer would be a 1.6 M-cell figure
SKETCH_KEY = "sketch_image"  # session-state key of the Sketch page's latest 28x28 drawing (uint8)


class InsideError(RuntimeError):
    """The model cannot be looked inside (a baseline, a ResNet); the message says what to choose."""


@dataclass(frozen=True)
class Weights:
    """The first layer's filters (CNN, k x k) or units' weights (MLP, 28 x 28)."""
    kind: str           # "cnn" or "mlp"
    pictures: np.ndarray  # (n, h, w) float32, at most MAX_TILES
    total: int          # filters or units in the layer
    bias: np.ndarray    # (n,)


@dataclass(frozen=True)
class LayerMaps:
    index: int          # 1 = the first convolution
    name: str           # the Keras layer's name
    kernel: int
    field: int          # receptive field: one cell of these maps sees field x field input pixels
    maps: np.ndarray    # (channels, h, w) float32, after the block's activation, before pooling


@dataclass(frozen=True)
class Look:
    """What a CNN does with one image: every convolution's maps, the class scores and Grad-CAM."""
    layers: tuple[LayerMaps, ...]
    probs: np.ndarray   # (10,)
    label: int          # the class Grad-CAM explains (the top one)
    cam: np.ndarray     # (28, 28) in 0..1, 1 where the last convolution's evidence for `label` peaks
    cam_coarse: np.ndarray  # the same at the last convolution's own resolution


# ---------------------------------------------------------------- what kind of network


def _keras(model):
    if isinstance(model, artifacts.KerasModel):
        return model.model
    if hasattr(model, "layers") and hasattr(model, "inputs"):
        return model
    raise InsideError("Only a neural network can be looked inside: choose an MLP or CNN run, not a baseline.")


def kind(model) -> str:
    """'cnn' (top-level Conv2D layers) or 'mlp' (a Dense first layer on the 784 pixels); InsideError otherwise."""
    import keras
    net = _keras(model)
    if any(isinstance(layer, keras.layers.Conv2D) for layer in net.layers):
        return "cnn"
    if any(isinstance(layer, keras.Model) for layer in net.layers):
        raise InsideError("This run's convolutions sit inside a pre-trained ResNet50 base; choose an MLP or CNN run.")
    if _first_dense(net) is not None:
        return "mlp"
    raise InsideError("This network has neither a convolution nor a dense layer on the pixels to show.")


def _first_dense(net):
    import keras
    for layer in net.layers:
        if isinstance(layer, keras.layers.Dense) and layer.kernel.shape[0] == 28 * 28:
            return layer
    return None


# ---------------------------------------------------------------- first layer


def first_layer(model) -> Weights:
    """A CNN's first-layer filters (n, k, k) or an MLP's first-layer weights as (n, 28, 28) pictures."""
    return _probe(_keras(model)).weights


def _first_layer(net) -> Weights:
    import keras
    if kind(net) == "cnn":
        conv = next(layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D))
        kernel, bias = (np.asarray(w, np.float32) for w in conv.get_weights()[:2])  # (k, k, 1, n), (n,)
        pictures = np.moveaxis(kernel[:, :, 0, :], -1, 0)
        return _frozen(Weights("cnn", pictures[:MAX_TILES], len(pictures), bias[:MAX_TILES]))
    dense = _first_dense(net)
    kernel, bias = (np.asarray(w, np.float32) for w in dense.get_weights()[:2])  # (784, n), (n,)
    pictures = kernel.T.reshape(-1, 28, 28)  # Flatten is row-major: weight i belongs to pixel (i // 28, i % 28)
    return _frozen(Weights("mlp", pictures[:MAX_TILES], len(pictures), bias[:MAX_TILES]))


# ---------------------------------------------------------------- one image through a CNN


def look(model, image28: np.ndarray) -> Look:
    """Feature maps at every convolution and Grad-CAM for the top class (kept for the next call)."""
    image = np.asarray(image28)
    if image.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {image.shape}")
    probe = _probe(_keras(model))
    if probe.sub is None:
        raise InsideError("Feature maps and Grad-CAM need a convolutional network: choose a CNN run.")
    return probe.look(image.astype(np.uint8).tobytes())


class _Probe:
    """One model's sub-model and first-layer pictures; `look` keeps its last answers (thread-safe)."""

    def __init__(self, net):
        self.net = net
        self.weights = _first_layer(net)
        self.sub, self.blocks = _sub_model(net) if self.weights.kind == "cnn" else (None, ())
        self.fields = _receptive_fields(net)
        self._pass = None if self.sub is None else _graph(self._forward)
        self.look = functools.lru_cache(maxsize=64)(self._look)  # a class clicks through a few dozen images

    def _look(self, pixels: bytes) -> Look:
        import tensorflow as tf
        maps, logits, grads = self._pass(tf.convert_to_tensor(np.frombuffer(pixels, np.uint8).reshape(1, 28, 28)))
        logits = logits.numpy()[0].astype(np.float64)
        coarse = grad_cam(maps[-1].numpy()[0], grads.numpy()[0])
        layers = tuple(LayerMaps(i + 1, conv.name, int(conv.kernel_size[0]), self.fields[conv.name],
                                 np.moveaxis(m.numpy()[0], -1, 0))
                       for i, (conv, m) in enumerate(zip(self.blocks, maps)))
        probs = np.exp(logits - logits.max())
        return _frozen(Look(layers, probs / probs.sum(), int(np.argmax(logits)), upsample(coarse), coarse))

    def _forward(self, x):
        """Every convolution's maps, the logits, and d (top logit) / d (last convolution's maps)."""
        import tensorflow as tf
        final = self.net.layers[-1]
        with tf.GradientTape() as tape:
            *maps, features = self.sub(x, training=False)
            # The logit, not the softmax: a confident 1.0 has a gradient of zero in float32.
            logits = tf.matmul(tf.cast(features, final.kernel.dtype), final.kernel) + final.bias
            score = tf.reduce_max(logits[0])
        grads = tape.gradient(score, maps[-1])
        # a network trained in bfloat16 gives bfloat16 maps: shown and weighed in float32
        return [tf.cast(m, tf.float32) for m in maps], logits, tf.cast(grads, tf.float32)


def _graph(fn):
    """fn as a TensorFlow graph for one uint8 image, traced on its first call: ~10x cheaper than eager."""
    import tensorflow as tf
    return tf.function(fn, input_signature=[tf.TensorSpec((1, 28, 28), tf.uint8)])


def grad_cam(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) from one layer's (h, w, c) activations and d score / d activations.

    Each channel is weighted by its mean gradient; the weighted sum's positive part, scaled to a peak of 1."""
    alpha = gradients.mean(axis=(0, 1))
    cam = np.maximum(activations @ alpha, 0.0)
    peak = float(cam.max())
    return (cam / peak if peak > 0 else cam).astype(np.float32)


def upsample(cam: np.ndarray, side: int = 28) -> np.ndarray:
    """Stretch a coarse map over the image (bilinear), clipped back to 0..1."""
    from skimage.transform import resize
    return np.clip(resize(cam, (side, side), order=1, mode="edge", anti_aliasing=False), 0, 1).astype(np.float32)


def _sub_model(net):
    """The same layers and weights, returning each convolution's block output and the final layer's input."""
    import keras
    blocks, outputs = [], []
    layers = net.layers
    for i, layer in enumerate(layers):
        if isinstance(layer, keras.layers.Conv2D):
            j = i  # a batch-normalised block: conv, BatchNormalization, Activation; show after the activation
            while j + 1 < len(layers) and isinstance(layers[j + 1], (keras.layers.BatchNormalization,
                                                                     keras.layers.Activation)):
                j += 1
            blocks.append(layer)
            outputs.append(layers[j].output)
    return keras.Model(net.inputs, [*outputs, layers[-1].input]), tuple(blocks)


def _receptive_fields(net) -> dict[str, int]:
    """Each convolution's receptive field in input pixels (stride-1 convolutions, pooling by its size)."""
    import keras
    field, jump, fields = 1, 1, {}
    for layer in net.layers:
        if isinstance(layer, keras.layers.Conv2D):
            field += (int(layer.kernel_size[0]) - 1) * jump
            jump *= int(layer.strides[0])
            fields[layer.name] = field
        elif isinstance(layer, keras.layers.MaxPooling2D):
            field += (int(layer.pool_size[0]) - 1) * jump
            jump *= int(layer.strides[0])
    return fields


_LOCK = threading.Lock()


def _probe(net) -> _Probe:
    with _LOCK:  # many sessions may open the same model at once: build its sub-model once
        return _cached_probe(net)


@functools.lru_cache(maxsize=4)  # like predict's model cache: a class compares two or three models
def _cached_probe(net) -> _Probe:
    return _Probe(net)


def _frozen(obj):
    """Cached answers are shared between sessions: make their arrays read-only."""
    for value in vars(obj).values():
        for a in value if isinstance(value, tuple) else (value,):
            if isinstance(a, np.ndarray):
                a.flags.writeable = False
            elif isinstance(a, LayerMaps):
                a.maps.flags.writeable = False
    return obj


# ---------------------------------------------------------------- which test image


def test_image(split, index: int, label: int | None = None) -> tuple[np.ndarray, int, int]:
    """(image, true label, test-set index): test image `index`, or the index-th test image of class `label`."""
    if label is None:
        if not 0 <= index < len(split.x_test):
            raise ValueError(f"Test image number {index} is out of range: choose 0 to {len(split.x_test) - 1}.")
        return split.x_test[index], int(split.y_test[index]), index
    rows = np.flatnonzero(split.y_test == label)
    if not 0 <= index < len(rows):
        raise ValueError(f"There are {len(rows)} test images of this class: choose 0 to {len(rows) - 1}.")
    row = int(rows[index])
    return split.x_test[row], int(split.y_test[row]), row


# ---------------------------------------------------------------- what each figure shows, in words


def about_first_layer(w: Weights) -> str:
    shown = f" (the first {len(w.pictures)} shown)" if len(w.pictures) < w.total else ""
    if w.kind == "cnn":
        side = w.pictures.shape[-1]
        return (f"The first convolution's {w.total} filters{shown}, each {side}×{side} weights, as training left them. "
                "Each slides over the image and answers where the pixels match it: blue weights want light pixels, "
                "red ones dark, so a blue stripe beside a red one is an edge detector for that direction.")
    return (f"Each picture is one of the first layer's {w.total} units{shown}: its 784 weights drawn where their "
            "pixels sit. Blue pixels raise the unit when they are light, red ones lower it. The speckle is the random "
            "start that training only nudged; a shape that shows through, such as an outline, is what the unit "
            "responds to.")


def about_layer(layer: LayerMaps, count: int) -> str:
    n, h, w = layer.maps.shape
    text = (f"Convolution {layer.index} of {count}: {n} feature maps of {h}×{w}, one per filter, after the activation. "
            f"Each cell sees a {layer.field}×{layer.field}-pixel patch of the image; white is where its filter "
            "found its pattern, black where it found nothing.")
    if layer.index == 1:
        return text + " The garment is still easy to recognise: this layer finds edges and light areas."
    return text + " Deeper maps are coarser and respond to parts of a garment rather than to edges."


def about_cam(look: Look, class_names) -> str:
    h, w = look.cam_coarse.shape
    return (f"Grad-CAM for “{class_names[look.label]}”: the last convolution's maps, each weighted by how much it "
            "raises that class's score, summed and kept where positive. Red is where the evidence lies; the "
            f"{h}×{w} map is stretched over the 28×28 image.")
