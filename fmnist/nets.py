"""ModelSpec -> Keras model (MLP, CNN, ResNet50 transfer), and its parameter count without building it."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from fmnist import layer_table
from fmnist.config import ConfigError, ModelSpec, RunConfig
from fmnist.data import NUM_CLASSES


class WeightsError(RuntimeError):
    pass


def count_params(m: ModelSpec) -> int:
    """Trainable + frozen parameters, from the spec (no TensorFlow import): layer_table's layers, summed.

    Worked out by hand so a page can check the parameter cap instantly; tests compare it with Keras."""
    return sum(layer.params for layer in layer_table.layers(RunConfig(m)))


def check_size(config: RunConfig, max_params: int) -> None:
    n = count_params(config.model)
    if n > max_params:
        raise ConfigError({"model": f"{n:,} parameters is over this lab's cap of {max_params:,}; "
                                    "use fewer or narrower layers"})


def build(config: RunConfig, trunk=None):
    """A compiled-ready (not compiled) Keras model: uint8 28x28 in, one softmax probability a class out.

    `trunk(x) -> x`, when given, replaces the spec's layers between the prepared input (a CNN's augmented
    28x28x1 image) and the output layer, in the config's precision: fmnist/bench/candidates.py tries networks
    a ModelSpec cannot express."""
    import keras
    from keras import layers

    m = config.model
    inputs = keras.Input(shape=(28, 28), dtype="uint8", name="image")
    x = layers.Rescaling(1 / 255)(inputs)
    if m.kind == "cnn":
        x = layers.Reshape((28, 28, 1))(x)
        if config.augment:  # in float32: the image transforms have no bfloat16 kernels
            x = _augmentation(x, config.seed)
    with _dtype_policy(_policy(config.precision)):
        x = trunk(x) if trunk is not None else _dense_stack(_features(x, m), m)
    # float32 probabilities whatever the precision: a softmax in bfloat16 rounds small ones to 0
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="classes", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=config.preset or "custom")


def resolved_precision(precision: str) -> str:
    """RunConfig.precision on this machine: "auto" is bfloat16 where it is computed natively, else float32."""
    if precision != "auto":
        return precision
    return "bfloat16" if _bfloat16_native() else "float32"


def _bfloat16_native() -> bool:
    """A GPU from Ampere on (compute capability 8), or a CPU with AMX: there bfloat16 trains faster.

    Elsewhere it is emulated and slower (measured on an AMD EPYC without AVX512-BF16)."""
    import tensorflow as tf

    from fmnist import system
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0)) >= (8, 0)
    return system.cpu_computes_bfloat16()


def _policy(precision: str) -> str:
    """Keras's dtype policy for RunConfig.precision: bfloat16 arithmetic keeps float32 weights ("mixed")."""
    return "mixed_bfloat16" if resolved_precision(precision) == "bfloat16" else "float32"


@contextmanager
def _dtype_policy(name: str):
    """Layers made in the body compute in `name`'s dtype (Keras keeps its policy per thread)."""
    import keras
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _features(x, m: ModelSpec):
    """What the dense layers see: the ResNet50 base's pooled features, or the (convolved) image flattened."""
    from keras import layers
    if m.kind == "resnet":
        return _resnet_trunk(x, m)
    if m.kind == "cnn":
        x = _conv_stack(x, m)
    x = layers.Flatten()(x)
    return layers.Dropout(m.flatten_dropout)(x) if m.flatten_dropout else x


def _augmentation(x, seed: int):
    """Garment-friendly: small shifts, left-right flips, random erasing (train time only)."""
    from keras import layers
    x = layers.RandomFlip("horizontal", seed=seed)(x)
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed)(x)
    # Pixels are already in [0, 1] here; the layer's default range (0, 255) would erase with huge values.
    return layers.RandomErasing(factor=0.5, scale=(0.02, 0.15), fill_value=0.0, value_range=(0, 1), seed=seed)(x)


def _conv_stack(x, m: ModelSpec):
    from keras import layers

    from fmnist.batchnorm import FusedBatchNormalization
    for block in m.conv:
        x = layers.Conv2D(block.filters, block.kernel, padding=block.padding, use_bias=True,
                          activation=None if block.batch_norm else m.activation)(x)
        if block.batch_norm:
            x = FusedBatchNormalization(momentum=0.9)(x)  # short fits: running stats must catch up fast
            x = layers.Activation(m.activation)(x)
        if block.pool > 1:
            x = layers.MaxPooling2D(block.pool)(x)
    return x


def _dense_stack(x, m: ModelSpec):
    from keras import layers

    from fmnist.batchnorm import FusedBatchNormalization
    for i, units in enumerate(m.dense):
        x = layers.Dense(units, activation=None if m.batch_norm else m.activation)(x)
        if m.batch_norm:
            x = FusedBatchNormalization(momentum=0.9)(x)  # short fits: running stats must catch up fast
            x = layers.Activation(m.activation)(x)
        rate = m.dropout[i] if m.dropout else 0.0
        if rate:
            x = layers.Dropout(rate)(x)
    return x


def _resnet_trunk(x, m: ModelSpec):
    """Gray -> 3 channels, resize, ResNet50 base (frozen except its top `fine_tune` layers), global pooling.

    The notebook fed [0, 1] pixels straight into the base; so do we, to reproduce it."""
    import keras
    from keras import layers
    x = layers.Reshape((28, 28, 1))(x)
    x = layers.Resizing(m.input_size, m.input_size)(x)
    x = layers.Concatenate()([x, x, x])
    base = keras.applications.ResNet50(include_top=False, weights=None,
                                       input_shape=(m.input_size, m.input_size, 3))
    _load_resnet_weights(base, m.weights)
    base.trainable = m.fine_tune > 0
    if m.fine_tune:
        for layer in base.layers[:-m.fine_tune]:
            layer.trainable = False
    for layer in base.layers:  # frozen batch-norm statistics keep fine-tuning stable
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    x = base(x, training=False)
    return layers.GlobalAveragePooling2D()(x)


def _load_resnet_weights(base, weights: str | None) -> None:
    if weights is None:
        return
    if weights == "imagenet":
        path = _imagenet_weights_file()
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsError(f"ResNet50 weights file {path} does not exist. Give the path of "
                               "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5, "
                               "or use weights 'imagenet' online.")
    try:
        base.load_weights(str(path))
    except Exception as exc:  # noqa: BLE001 - h5py/keras raise many types for a bad file
        raise WeightsError(f"ResNet50 weights in {path} could not be loaded ({exc}). Use the Keras "
                           "'notop' ImageNet file (resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5).") from exc


IMAGENET_NOTOP = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/" + IMAGENET_NOTOP


def _imagenet_weights_file() -> Path:
    """The ImageNet 'notop' file from the Keras cache, downloading it there if needed."""
    from keras.utils import get_file
    try:
        return Path(get_file(IMAGENET_NOTOP, IMAGENET_URL, cache_subdir="models",
                             file_hash="4d473c1dd8becc155b73f8504c6f6626"))
    except Exception as exc:  # noqa: BLE001 - no network shows up as many exception types
        raise WeightsError("ImageNet weights for ResNet50 are not in the Keras cache (~/.keras/models) and could "
                           f"not be downloaded ({exc.__class__.__name__}). Copy {IMAGENET_NOTOP} there, or give "
                           "its path as the weights, or choose weights 'none' to train from scratch.") from exc
