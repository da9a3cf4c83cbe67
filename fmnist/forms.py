"""The training form: which fields a model kind shows, their defaults, and plain widget values -> RunConfig.

Pages render the fields generically and hand back a dict of plain values (str, bool); numbers arrive as
the text the user typed (a number box would refuse letters, go blank and keep its old value unseen).
Everything that can go wrong comes back keyed by form field, each message naming it."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from fmnist import nets, presets
from fmnist.config import (
    ACTIVATIONS,
    BUILT_KINDS,
    KERAS_KINDS,
    KINDS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    ConfigError,
    ConvBlock,
    ModelSpec,
    RunConfig,
)
from fmnist.layer_text import format_conv, format_rates, format_widths, parse_conv, parse_rates, parse_widths
from fmnist.store import StoreError

CUSTOM = "custom"
KIND_LABELS = {"mlp": "Fully connected", "cnn": "Convolutional"}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    widget: str  # int, float, optional_int, optional_float (text boxes read as numbers), text, area, choice, bool
    help: str = ""
    kinds: tuple[str, ...] = KERAS_KINDS
    options: tuple = ()
    group: str = "training"
    example: str = ""  # what to type, for the message when the box cannot be read as a number
    placeholder: str = ""  # what an empty optional box means


FIELDS = (
    Field("conv", "Convolution layers", "area", "One per line: FILTERS x KERNEL, then optionally 'same' (zero edges "
          "keep the image's size), 'pool N' and 'bn' (batch norm), e.g. 64x3, same, pool 2", kinds=("cnn",),
          group="model"),
    Field("dense", "Hidden layer widths", "text", "Units per dense layer, separated by commas, e.g. 255, 1020, 510. "
          "Leave empty for none.", kinds=KERAS_KINDS, group="model"),
    Field("dropout", "Dropout after each dense layer", "text", "One rate for every layer (0.2) or one per layer "
          "(0.2, 0.2, 0). Empty = no dropout.", kinds=KERAS_KINDS, group="model"),
    Field("flatten_dropout", "Dropout after Flatten", "float", "The notebook's CNNs use 0.2.", kinds=("cnn",),
          group="model", example="0.2"),
    Field("activation", "Activation", "choice", kinds=KERAS_KINDS, options=ACTIVATIONS, group="model"),
    Field("batch_norm", "Batch norm", "bool", "After each hidden dense layer.", kinds=BUILT_KINDS, group="model"),
    Field("input_size", "ResNet input size (px)", "int", "The 28x28 image is resized to this (32 to 224).",
          kinds=("resnet",), group="model", example="96"),
    Field("fine_tune", "Trainable top layers of the base", "int", "0 keeps ResNet50 frozen.", kinds=("resnet",),
          group="model", example="22"),
    Field("weights", "ResNet weights", "text", "'imagenet', 'none' (train from scratch) or the path of a "
          "notop .h5 file.", kinds=("resnet",), group="model"),
    Field("n_estimators", "Trees", "int", "How many trees the forest grows.", kinds=("forest",), group="model",
          example="100"),
    Field("epochs", "Epochs (at most)", "int", "With early stopping the run may end sooner.", kinds=KERAS_KINDS,
          example="20"),
    Field("batch_size", "Batch size", "int", "Images per weight update.", kinds=KERAS_KINDS, example="128"),
    Field("optimizer", "Optimizer", "choice", kinds=KERAS_KINDS, options=OPTIMIZERS),
    Field("learning_rate", "Learning rate", "float", "Greater than 0, at most 1; Adam's usual is 0.001.",
          kinds=KERAS_KINDS, example="0.001"),
    Field("lr_schedule", "Learning-rate schedule", "choice", "cosine decays the rate to 0 over the epochs.",
          kinds=KERAS_KINDS, options=SCHEDULES),
    Field("early_stopping", "Early stopping", "bool", "Stop when validation accuracy stops improving.",
          kinds=KERAS_KINDS),
    Field("patience", "Patience (epochs)", "int", "Epochs without improvement before stopping.", kinds=KERAS_KINDS,
          example="5"),
    Field("min_delta", "Minimum improvement", "float", "A smaller gain in validation accuracy does not count.",
          kinds=KERAS_KINDS, example="0.001"),
    Field("restore_best", "Restore best", "bool", "With early stopping: keep the best epoch's weights, "
          "not the last.", kinds=KERAS_KINDS),
    Field("label_smoothing", "Label smoothing", "float", "0 to 0.5; 0.1 softens the one-hot targets a little.",
          kinds=KERAS_KINDS, example="0.1"),
    Field("augment", "Augmentation", "bool", "Small shifts, left-right flips and random erasing.", kinds=("cnn",)),
    Field("flip_average", "Mirror averaging", "bool", "Each prediction (validation, test, a sketch) "
          "averages the picture and its left-right mirror: for a net trained with flips.", kinds=("cnn",)),
    Field("subset", "Training images", "optional_int", "Train on a stratified subset (100 to 42,000) for a quick "
          "run; empty = all 42,000.", kinds=KINDS, example="5000", placeholder="all 42,000"),
    Field("minutes", "Time budget (minutes)", "optional_float", "Training ends at the last epoch that fits in "
          "this time (at most the epochs above), and a cosine schedule decays on the clock. Start-up and the "
          "final evaluation come on top. Empty = no budget.", kinds=KERAS_KINDS, example="5", placeholder="none"),
    Field("precision", "Precision", "choice", "bfloat16 computes in half the bits, weights kept in float32: "
          "about 2x faster on CPUs with AMX and on recent GPUs, slower elsewhere. auto = bfloat16 where this "
          "machine computes it natively.", kinds=KERAS_KINDS, options=PRECISIONS),
    Field("seed", "Random seed", "int", "The notebook's seed is 20240329.", kinds=KINDS, example="20240329"),
    Field("full_train", "Refit on all 60,000", "bool", "After choosing the epochs on validation, "
          "refit on train + validation for the test evaluation.", kinds=KERAS_KINDS),
    Field("pace_s", "Demo pace (s an epoch)", "float", "0 = full speed. For a class on a projector: each epoch "
          "lasts at least this many seconds (3 is watchable), so the curves grow while people watch.",
          kinds=KERAS_KINDS, example="3"),
    Field("name", "Run name", "text", kinds=KINDS),
)
LABELS = {f.name: f.label for f in FIELDS}
HYPER = {f.name for f in FIELDS if f.group == "training"}  # RunConfig fields; the rest live in ModelSpec
NUMBERS = {f.name: f for f in FIELDS if f.widget in ("int", "float", "optional_int", "optional_float")}
MODEL_FIELDS = {f.name for f in FIELDS if f.group == "model"}
_CONFIG_KEY = re.compile(r"^(?:model\.)?([a-z_]+)(?:\[(\d+)\])?")


def fields_for(kind: str, group: str | None = None) -> list[Field]:
    return [f for f in FIELDS if kind in f.kinds and (group is None or f.group == group)]


def choices() -> dict[str, str]:
    """Selectbox options: preset key -> title, then building your own."""
    return {**{k: p.title for k, p in presets.all_presets().items()}, CUSTOM: "Build your own"}


def start_config(choice: str, kind: str = "mlp") -> RunConfig:
    """The config a form starts from: a preset's, or a small template for building your own."""
    if choice != CUSTOM:
        return presets.config_for(choice)
    if kind == "cnn":
        model = ModelSpec("cnn", conv=(ConvBlock(32, 3, 2), ConvBlock(64, 3, 2)), flatten_dropout=0.2,
                          dense=(128,), dropout=(0.3,))
        return RunConfig(model, name="My CNN", epochs=20, batch_size=128, early_stopping=True, patience=5)
    model = ModelSpec("mlp", dense=(256, 128), dropout=(0.2, 0.2))
    return RunConfig(model, name="My network", epochs=30, batch_size=128, early_stopping=True, patience=5)


def initial_values(config: RunConfig) -> dict:
    """The widget values that show `config`."""
    m = config.model
    model = {"dense": format_widths(m.dense), "dropout": format_rates(m.dropout), "conv": format_conv(m.conv),
             "flatten_dropout": m.flatten_dropout, "activation": m.activation, "batch_norm": m.batch_norm,
             "input_size": m.input_size, "fine_tune": m.fine_tune, "weights": m.weights or "none",
             "n_estimators": m.n_estimators}
    hyper = {f.name: getattr(config, f.name) for f in FIELDS if f.group == "training"}
    return {name: format_number(value) if name in NUMBERS else value for name, value in {**model, **hyper}.items()}


def format_number(value) -> str:
    """The text a number box starts with: 0.001, 20240329, '' for none."""
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def parse_number(field: Field, text) -> int | float | None:
    """A number box's text -> int or float (None when an optional box is empty); ValueError saying what to type."""
    text = str(text if text is not None else "").strip().replace(",", "").replace("_", "")
    if not text:
        if field.widget.startswith("optional_"):
            return None
        raise ValueError("the box is empty; type " + ("a whole number" if field.widget == "int" else "a number")
                         + (f", e.g. {field.example}" if field.example else ""))
    real = field.widget in ("float", "optional_float")
    try:
        return float(text) if real else int(text)
    except ValueError:
        kind = "a number" if real else "a whole number"
        hint = f"; type e.g. {field.example}" if field.example else ""
        raise ValueError(f"'{text}' is not {kind}{hint}") from None


# -- widget values -> RunConfig -------------------------------------------------------------------

@dataclass(frozen=True)
class FormState:
    config: RunConfig | None  # what Start would queue; None while any field has an error
    draft: RunConfig | None   # the user's network for the summary; None while a layer field has an error
    errors: dict[str, str]    # form field (or 'model' for the parameter cap) -> message naming it


def read(values: dict, base: RunConfig, user: str = "", max_params: int | None = None) -> FormState:
    """What the form describes: the config when every field is good, the network as typed so far, the errors."""
    unparsed: dict[str, str] = {}
    values = _numbers(values, base, unparsed)
    model = _model(values, base.model, unparsed)  # a field that does not parse keeps base's value meanwhile
    hyper = {k: v for k, v in values.items() if k in HYPER}
    config = _named(replace(base, model=model, user=(user or "").strip()[:40], **hyper), base)
    errors = {**field_errors(config.errors()), **unparsed}
    if not errors and max_params is not None:
        try:
            nets.check_size(config, max_params)
        except ConfigError as exc:
            errors = field_errors(exc.errors)
    draft = None if MODEL_FIELDS & set(errors) else config
    return FormState(None if errors else config, draft, errors)


def _numbers(values: dict, base: RunConfig, errors: dict[str, str]) -> dict:
    """Number boxes' text -> numbers; a box that cannot be read gets its message and keeps base's value,
    so nothing downstream ever runs with a value the user did not type unless the error is shown."""
    out = dict(values)
    for name, field in NUMBERS.items():
        if name in values and (values[name] is None or isinstance(values[name], str)):
            try:
                out[name] = parse_number(field, values[name])
            except ValueError as exc:
                errors[name] = f"{field.label}: {exc}"
                out[name] = getattr(base.model if field.group == "model" else base, name)
    return out


def _named(config: RunConfig, base: RunConfig) -> RunConfig:
    """A preset whose layers were edited becomes a custom run, named after the preset unless renamed."""
    name = (config.name or "").strip() or base.name
    if config.model != base.model and base.preset != CUSTOM:
        return config.with_(preset=CUSTOM, name=f"{base.name} (modified)" if name == base.name else name)
    return config.with_(name=name)


def _model(values: dict, base: ModelSpec, errors: dict[str, str]) -> ModelSpec:
    changes = {k: values[k] for k in ("flatten_dropout", "activation", "batch_norm", "input_size", "fine_tune",
                                      "n_estimators") if k in values}
    parsers = {"dense": lambda: parse_widths(values["dense"]), "conv": lambda: parse_conv(values["conv"])}
    for name, parse in parsers.items():
        if name in values:
            try:
                changes[name] = parse()
            except ValueError as exc:
                errors[name] = f"{LABELS[name]}: {exc}"
    if "dropout" in values and "dense" not in errors:
        layers = len(changes.get("dense", base.dense))
        try:
            changes["dropout"] = parse_rates(values["dropout"], layers)
        except ValueError as exc:
            errors["dropout"] = f"{LABELS['dropout']}: {exc}"
    if "weights" in values:
        text = str(values["weights"] or "").strip()
        changes["weights"] = None if text.lower() in ("", "none") else text
    return replace(base, **changes)


def field_errors(errors: dict[str, str]) -> dict[str, str]:
    """{'model.dense[1]': 'must be ...'} -> {'dense': 'Hidden layer widths: layer 2 must be ...'}.

    A key that names no form field (the parameter cap: 'model') is kept as it is."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        match = _CONFIG_KEY.match(key)
        name, index = (match.group(1), match.group(2)) if match else (key, None)
        if name not in LABELS:
            out.setdefault(key, message)
            continue
        where = f"layer {int(index) + 1} " if index is not None else ""
        out.setdefault(name, f"{LABELS[name]}: {where}{message}")
    return out


# -- running the whole notebook ----------------------------------------------------------------

def notebook_configs(user: str = "") -> list[RunConfig]:
    """Every notebook preset with the notebook's own settings."""
    return [presets.config_for(key, user=(user or "").strip()[:40]) for key in presets.NOTEBOOK_KEYS]


def submit_all(configs: list[RunConfig], submit) -> tuple[list[int], list[str]]:
    """Submit each config with `submit(config) -> run id`; returns (queued ids, refusal messages)."""
    queued, refused = [], []
    for config in configs:
        try:
            queued.append(submit(config))
        except (StoreError, ConfigError) as exc:  # QueueFull is a StoreError
            refused.append(f"{config.name}: {exc}")
    return queued, refused
