"""A model's layers (type, output shape, parameters) worked out from its RunConfig, without TensorFlow.

Hand-written rather than built with Keras so the train page shows the summary instantly and its server
never imports TensorFlow; it mirrors nets.build layer for layer, and a test checks it against Keras."""
from __future__ import annotations

from fmnist.config import RunConfig
from fmnist.nets import RESNET_BASE_PARAMS

Row = dict  # {"Layer": str, "Output shape": str, "Params": int}


def _row(layer: str, shape: tuple, params: int = 0) -> Row:
    return {"Layer": layer, "Output shape": "(" + ", ".join(str(d) for d in ("None", *shape)) + ")",
            "Params": params}


def rows(config: RunConfig) -> list[Row]:
    """One row per Keras layer of nets.build(config), in order; [] for the non-Keras baselines."""
    m = config.model
    if not config.is_keras:
        return []
    out = [_row("InputLayer", (28, 28)), _row("Rescaling", (28, 28))]
    if m.kind == "resnet":
        side = m.input_size
        out += [_row("Reshape", (28, 28, 1)), _row("Resizing", (side, side, 1)), _row("Concatenate", (side, side, 3)),
                _row("Functional (ResNet50)", (_resnet_side(side), _resnet_side(side), 2048), RESNET_BASE_PARAMS),
                _row("GlobalAveragePooling2D", (2048,))]
        width = 2048
    else:
        width = 28 * 28
        if m.kind == "cnn":
            width = _conv_rows(config, out)
        out.append(_row("Flatten", (width,)))
        if m.flatten_dropout:
            out.append(_row("Dropout", (width,)))
    width = _dense_rows(m, width, out)
    out.append(_row("Dense", (10,), width * 10 + 10))
    return out


def _resnet_side(side: int) -> int:
    """ResNet50's five stride-2 stages, each rounding up ('same' padding) except the 3x3 max pool ('valid')."""
    side = (side + 1) // 2          # conv1, stride 2, padded
    side = (side + 2 - 3) // 2 + 1  # max pool 3x3 stride 2 after 1-pixel zero padding
    for _ in range(3):              # conv3, conv4, conv5 blocks halve it again
        side = (side + 1) // 2
    return side


def _conv_rows(config: RunConfig, out: list[Row]) -> int:
    m = config.model
    out.append(_row("Reshape", (28, 28, 1)))
    if config.augment:
        out += [_row(name, (28, 28, 1)) for name in ("RandomFlip", "RandomTranslation", "RandomErasing")]
    side, channels = 28, 1
    for block in m.conv:
        side = side - block.kernel + 1
        out.append(_row("Conv2D", (side, side, block.filters), block.kernel ** 2 * channels * block.filters + block.filters))
        if block.batch_norm:
            out += [_row("BatchNormalization", (side, side, block.filters), 4 * block.filters),
                    _row("Activation", (side, side, block.filters))]
        if block.pool > 1:
            side //= block.pool
            out.append(_row("MaxPooling2D", (side, side, block.filters)))
        channels = block.filters
    return side * side * channels


def _dense_rows(m, fan_in: int, out: list[Row]) -> int:
    for i, units in enumerate(m.dense):
        out.append(_row("Dense", (units,), fan_in * units + units))
        if m.batch_norm:
            out += [_row("BatchNormalization", (units,), 4 * units), _row("Activation", (units,))]
        if m.dropout and m.dropout[i]:
            out.append(_row("Dropout", (units,)))
        fan_in = units
    return fan_in


def total(table: list[Row]) -> int:
    return sum(r["Params"] for r in table)
