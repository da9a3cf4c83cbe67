"""A model's layers (type, output shape, parameters, multiply-adds) worked out from its RunConfig, without TensorFlow.

Hand-written rather than built with Keras so the train page shows the summary instantly and its server
never imports TensorFlow; it mirrors nets.build layer for layer, and a test checks it against Keras."""
from __future__ import annotations

from dataclasses import dataclass

from fmnist.config import RunConfig
from fmnist.data import NUM_CLASSES

RESNET_BASE_PARAMS = 23_587_712  # ResNet50(include_top=False): fixed by the architecture
RESNET_BASE_MACS_224 = 3_860_000_000  # ResNet50 without its top at 224x224: about 3.9 G multiply-adds an image
# Keras class names that do not fit a third of the page; the table shows these instead
SHORT_NAMES = {"FusedBatchNormalization": "BatchNorm", "GlobalAveragePooling2D": "GlobalAvgPool2D",
               "RandomTranslation": "RandomShift", "Functional": "ResNet50 base"}


@dataclass(frozen=True)
class Layer:
    kind: str            # the Keras class name
    shape: tuple         # output shape of one image (no batch axis)
    params: int = 0
    macs: int = 0        # multiply-adds of one image's forward pass

    def row(self) -> dict:
        """{"Layer": "Conv2D", "Output": "26×26×32", "Params": 320}: narrow enough for the summary column."""
        return {"Layer": SHORT_NAMES.get(self.kind, self.kind), "Output": "×".join(map(str, self.shape)),
                "Params": self.params}


def layers(config: RunConfig) -> list[Layer]:
    """One Layer per Keras layer of nets.build(config), in order; [] for the non-Keras baselines."""
    m = config.model
    if not config.is_keras:
        return []
    out = [Layer("InputLayer", (28, 28)), Layer("Rescaling", (28, 28))]
    if m.kind == "resnet":
        side, grid = m.input_size, _resnet_side(m.input_size)
        base_macs = round(RESNET_BASE_MACS_224 * (side / 224) ** 2)
        out += [Layer("Reshape", (28, 28, 1)), Layer("Resizing", (side, side, 1)),
                Layer("Concatenate", (side, side, 3)),
                Layer("Functional", (grid, grid, 2048), RESNET_BASE_PARAMS, base_macs),
                Layer("GlobalAveragePooling2D", (2048,))]
        width = 2048
    else:
        width = 28 * 28
        if m.kind == "cnn":
            width = _conv_layers(config, out)
        out.append(Layer("Flatten", (width,)))
        if m.flatten_dropout:
            out.append(Layer("Dropout", (width,)))
    width = _dense_layers(m, width, out)
    out.append(Layer("Dense", (NUM_CLASSES,), width * NUM_CLASSES + NUM_CLASSES, width * NUM_CLASSES))
    return out


def rows(config: RunConfig) -> list[dict]:
    """The summary table's rows: {"Layer", "Output", "Params"} per layer."""
    return [layer.row() for layer in layers(config)]


def multiply_adds(config: RunConfig) -> int:
    """Multiply-adds of one image's forward pass: what an epoch-time guess scales with."""
    return sum(layer.macs for layer in layers(config))


def _resnet_side(side: int) -> int:
    """ResNet50's five stride-2 stages, each rounding up ('same' padding) except the 3x3 max pool ('valid')."""
    side = (side + 1) // 2          # conv1, stride 2, padded
    side = (side + 2 - 3) // 2 + 1  # max pool 3x3 stride 2 after 1-pixel zero padding
    for _ in range(3):              # conv3, conv4, conv5 blocks halve it again
        side = (side + 1) // 2
    return side


def _conv_layers(config: RunConfig, out: list[Layer]) -> int:
    out.append(Layer("Reshape", (28, 28, 1)))
    if config.augment:
        out += [Layer(name, (28, 28, 1)) for name in ("RandomFlip", "RandomTranslation", "RandomErasing")]
    side, channels = 28, 1
    for block in config.model.conv:
        conv, f = block.conv_side(side), block.filters
        weights = block.kernel ** 2 * channels * f
        out.append(Layer("Conv2D", (conv, conv, f), weights + f, conv * conv * weights))
        if block.batch_norm:
            out += [Layer("FusedBatchNormalization", (conv, conv, f), 4 * f), Layer("Activation", (conv, conv, f))]
        side, channels = block.out_side(side), f
        if block.pool > 1:
            out.append(Layer("MaxPooling2D", (side, side, f)))
    return side * side * channels


def _dense_layers(m, fan_in: int, out: list[Layer]) -> int:
    for i, units in enumerate(m.dense):
        out.append(Layer("Dense", (units,), fan_in * units + units, fan_in * units))
        if m.batch_norm:
            out += [Layer("FusedBatchNormalization", (units,), 4 * units), Layer("Activation", (units,))]
        if m.dropout and m.dropout[i]:
            out.append(Layer("Dropout", (units,)))
        fan_in = units
    return fan_in


def total(table: list[dict]) -> int:
    return sum(r["Params"] for r in table)
