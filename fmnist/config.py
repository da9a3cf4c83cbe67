"""RunConfig: everything one training run needs, validated before anything is built or written."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

BASELINE_KINDS = ("majority", "forest")  # no network: fitted in one go, no epochs
KERAS_KINDS = ("mlp", "cnn", "resnet")
KINDS = BASELINE_KINDS + KERAS_KINDS
# The networks built here layer by layer from the picture up (resnet's first layers are ResNet50's)
BUILT_KINDS = ("mlp", "cnn")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
ACTIVATIONS = ("relu", "gelu", "elu", "tanh", "sigmoid", "selu", "swish")
SCHEDULES = ("constant", "cosine")
PADDINGS = ("valid", "same")
# bfloat16: mixed precision (bfloat16 arithmetic, float32 weights); auto: bfloat16 where the machine has it natively
PRECISIONS = ("float32", "bfloat16", "auto")
NOTEBOOK_SEED = 20240329
MAX_HIDDEN_LAYERS = 8
MAX_UNITS = 4096
MAX_CONV_BLOCKS = 6
MAX_PACE_S = 60.0
MAX_MINUTES = 24 * 60.0


class ConfigError(ValueError):
    """One or more fields are out of range; `errors` maps field name to message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class ConvBlock:
    filters: int
    kernel: int = 3
    pool: int = 2  # 0 or 1 = no pooling after this convolution
    batch_norm: bool = False
    padding: str = "valid"  # valid: the kernel fits whole, the image shrinks; same: zero edges keep its size

    def conv_side(self, side: int) -> int:
        """The side of the convolution's output on a side x side input."""
        return side if self.padding == "same" else side - self.kernel + 1

    def out_side(self, side: int) -> int:
        """The side after the convolution and its pooling (MaxPooling2D drops a remainder)."""
        side = self.conv_side(side)
        return side // self.pool if self.pool > 1 else side


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    conv: tuple[ConvBlock, ...] = ()
    flatten_dropout: float = 0.0  # dropout right after Flatten (the notebook's CNNs use 0.2)
    dense: tuple[int, ...] = ()
    dropout: tuple[float, ...] = ()  # after each dense layer; empty = none
    activation: str = "relu"
    batch_norm: bool = False  # after each hidden dense layer
    input_size: int = 32  # resnet: the 28x28 image is resized to this
    fine_tune: int = 0  # resnet: how many of the base's top layers are trained
    weights: str | None = "imagenet"  # resnet: "imagenet", a local .h5/.weights.h5 path, or None
    n_estimators: int = 100  # forest


@dataclass(frozen=True)
class RunConfig:
    """One training run, everything that decides its result. The defaults are the notebook's: at most 100
    epochs, Keras's batch of 32, Adam at Keras's 0.001, and its EarlyStopping (val_accuracy, patience 10,
    min_delta 0.001) when turned on; presets override them as the notebook's cells did (batch 512, ES)."""

    model: ModelSpec
    preset: str = "custom"
    name: str = ""
    user: str = ""
    epochs: int = 100
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 0.001
    early_stopping: bool = False
    patience: int = 10
    min_delta: float = 0.001
    restore_best: bool = False
    seed: int = NOTEBOOK_SEED
    subset: int | None = None  # stratified subset of the 42,000 training images
    augment: bool = False  # small shifts, horizontal flips, random erasing
    flip_average: bool = False  # predictions average the picture and its mirror (test-time augmentation)
    label_smoothing: float = 0.0
    lr_schedule: str = "constant"
    full_train: bool = False  # refit on all 60,000 training images before the test evaluation
    pace_s: float = 0.0  # a demo's watchable pace: each epoch lasts at least this long (0 = full speed)
    # a time budget for the fit (None = none): it ends at the last epoch that fits, at most `epochs`, and a
    # cosine schedule decays on the clock; start-up and the final evaluation are not counted
    minutes: float | None = None
    precision: str = "float32"
    # a continued run: the parent's saved model ("<path>#<sha256>") it starts from, and the epochs it had
    initial_model: str | None = None
    initial_epoch: int = 0

    def errors(self) -> dict[str, str]:
        return {**_model_errors(self.model), **_hyper_errors(self)}

    def validate(self) -> RunConfig:
        errs = self.errors()
        if errs:
            raise ConfigError(errs)
        return self

    @property
    def is_keras(self) -> bool:
        return self.model.kind in KERAS_KINDS

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        model = dict(data["model"])
        model["conv"] = tuple(ConvBlock(**c) for c in model.get("conv", ()))
        model["dense"] = tuple(model.get("dense", ()))
        model["dropout"] = tuple(model.get("dropout", ()))
        known = {f.name for f in fields(cls)}
        rest = {k: v for k, v in data.items() if k in known and k != "model"}
        return cls(model=ModelSpec(**model), **rest)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def with_(self, **changes) -> RunConfig:
        return replace(self, **changes)


def _in_range(errs, name, value, lo, hi, kind=int):
    types = (int, float) if kind is float else (int,)
    if not isinstance(value, types) or isinstance(value, bool) or not (lo <= value <= hi):
        errs[name] = f"must be {'a whole number' if kind is int else 'a number'} from {lo} to {hi} (got {value!r})"


def _model_errors(m: ModelSpec) -> dict[str, str]:
    errs: dict[str, str] = {}
    if m.kind not in KINDS:
        return {"model.kind": f"must be one of {', '.join(KINDS)} (got {m.kind!r})"}
    if m.kind == "forest":
        _in_range(errs, "model.n_estimators", m.n_estimators, 1, 1000)
    if m.kind in BUILT_KINDS:
        _layer_errors(m, errs)
    if m.kind == "cnn":
        _conv_errors(m, errs)
    if m.kind == "resnet":
        _in_range(errs, "model.input_size", m.input_size, 32, 224)
        _in_range(errs, "model.fine_tune", m.fine_tune, 0, 175)
        if m.dense:
            _layer_errors(m, errs)
    return errs


def _layer_errors(m: ModelSpec, errs: dict[str, str]) -> None:
    if len(m.dense) > MAX_HIDDEN_LAYERS:
        errs["model.dense"] = f"at most {MAX_HIDDEN_LAYERS} hidden layers (got {len(m.dense)})"
    for i, units in enumerate(m.dense):
        _in_range(errs, f"model.dense[{i}]", units, 1, MAX_UNITS)
    if m.dropout and len(m.dropout) != len(m.dense):
        errs["model.dropout"] = f"give one dropout rate per dense layer ({len(m.dense)}), or none"
    for i, rate in enumerate(m.dropout):
        _in_range(errs, f"model.dropout[{i}]", rate, 0.0, 0.9, float)
    _in_range(errs, "model.flatten_dropout", m.flatten_dropout, 0.0, 0.9, float)
    if m.activation not in ACTIVATIONS:
        errs["model.activation"] = f"must be one of {', '.join(ACTIVATIONS)} (got {m.activation!r})"


def _conv_errors(m: ModelSpec, errs: dict[str, str]) -> None:
    if not 1 <= len(m.conv) <= MAX_CONV_BLOCKS:
        errs["model.conv"] = f"a convolutional network needs 1 to {MAX_CONV_BLOCKS} conv layers (got {len(m.conv)})"
        return
    side = 28
    for i, block in enumerate(m.conv):
        _in_range(errs, f"model.conv[{i}].filters", block.filters, 1, 512)
        _in_range(errs, f"model.conv[{i}].kernel", block.kernel, 1, 7)
        _in_range(errs, f"model.conv[{i}].pool", block.pool, 0, 4)
        if block.padding not in PADDINGS:
            errs[f"model.conv[{i}].padding"] = f"must be one of {', '.join(PADDINGS)} (got {block.padding!r})"
        if isinstance(block.kernel, int) and isinstance(block.pool, int):
            side = block.out_side(side)
        if side < 1:
            errs[f"model.conv[{i}]"] = ("the image shrinks to nothing here: "
                                        "use fewer layers, smaller kernels or less pooling")
            return


def _hyper_errors(c: RunConfig) -> dict[str, str]:
    errs: dict[str, str] = {}
    _in_range(errs, "epochs", c.epochs, 1, 500)
    _in_range(errs, "batch_size", c.batch_size, 1, 8192)
    lr = c.learning_rate
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not (0 < lr <= 1):
        errs["learning_rate"] = f"must be greater than 0 and at most 1 (got {lr!r})"
    if c.optimizer not in OPTIMIZERS:
        errs["optimizer"] = f"must be one of {', '.join(OPTIMIZERS)} (got {c.optimizer!r})"
    _in_range(errs, "patience", c.patience, 1, 100)
    _in_range(errs, "min_delta", c.min_delta, 0.0, 0.5, float)
    _in_range(errs, "seed", c.seed, 0, 2**31 - 1)
    if c.subset is not None:
        _in_range(errs, "subset", c.subset, 100, 42000)
    _in_range(errs, "label_smoothing", c.label_smoothing, 0.0, 0.5, float)
    if c.lr_schedule not in SCHEDULES:
        errs["lr_schedule"] = f"must be one of {', '.join(SCHEDULES)} (got {c.lr_schedule!r})"
    _in_range(errs, "initial_epoch", c.initial_epoch, 0, 10_000)
    _in_range(errs, "pace_s", c.pace_s, 0.0, MAX_PACE_S, float)
    if c.minutes is not None:
        if not c.is_keras:
            errs["minutes"] = "a time budget is for a neural network; leave it empty for a baseline"
        elif isinstance(c.minutes, bool) or not isinstance(c.minutes, (int, float)) or not 0 < c.minutes <= MAX_MINUTES:
            errs["minutes"] = f"must be more than 0 and at most {MAX_MINUTES:g} minutes, or empty (got {c.minutes!r})"
    if c.precision not in PRECISIONS:
        errs["precision"] = f"must be one of {', '.join(PRECISIONS)} (got {c.precision!r})"
    elif c.precision != "float32" and not c.is_keras:
        errs["precision"] = "mixed precision is for a neural network; use float32 for a baseline"
    if c.initial_model and not c.is_keras:
        errs["initial_model"] = "only a Keras network can continue from a saved model"
    if c.flip_average and not c.is_keras:
        errs["flip_average"] = "mirror averaging is for a neural network; turn it off for a baseline"
    if len(c.name) > 80:
        errs["name"] = "at most 80 characters"
    if len(c.user) > 40:
        errs["user"] = "at most 40 characters"
    return errs
