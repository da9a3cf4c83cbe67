"""A sweep's search space, from the user's words: the hyperparameters a sweep may vary, grids and ranges parsed
and checked value by value, and a trial's RunConfig. Pure: no Optuna, no store."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from fmnist.config import ConfigError, RunConfig

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("median", "halving")
MAX_TRIALS = 100
DEFAULT_TRIALS = 8  # random and TPE: enough to see a trend on a classroom CPU


@dataclass(frozen=True)
class Param:
    field: str     # a RunConfig field, or a ModelSpec field when `on_model`
    kind: str      # "float", "int" or "choice"
    label: str
    on_model: bool = False


PARAMS = {
    "learning_rate": Param("learning_rate", "float", "Learning rate"),
    "batch_size": Param("batch_size", "int", "Batch size"),
    "epochs": Param("epochs", "int", "Epochs"),
    "optimizer": Param("optimizer", "choice", "Optimizer"),
    "seed": Param("seed", "int", "Seed"),
    "label_smoothing": Param("label_smoothing", "float", "Label smoothing"),
    "lr_schedule": Param("lr_schedule", "choice", "LR schedule"),
    "subset": Param("subset", "int", "Training images"),
    "dropout": Param("dropout", "float", "Dropout", on_model=True),  # the same rate after every dense layer
    "flatten_dropout": Param("flatten_dropout", "float", "Flatten dropout", on_model=True),
    "activation": Param("activation", "choice", "Activation", on_model=True),
}
ALIASES = {"lr": "learning_rate", "batch": "batch_size", "bs": "batch_size"}


class SweepError(ConfigError):
    """A sweep that cannot be set up; `errors` names the option (--grid, --range, --trials...)."""

    def __init__(self, option: str, message: str):
        super().__init__({option: message})


# ---------------------------------------------------------------- the search space, from the user's words
def param_name(name: str, option: str = "--grid") -> str:
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in PARAMS:
        raise SweepError(option, f"'{name}' is not a hyperparameter a sweep can vary; choose from "
                                  f"{', '.join(['lr', *sorted(PARAMS)])}")
    return key


def _value(key: str, text: str, option: str = "--grid"):
    kind = PARAMS[key].kind
    try:
        if kind == "choice":
            return text.strip().lower()
        number = float(text)
    except ValueError:
        raise SweepError(option, f"{key}: '{text}' is not a number") from None
    if kind == "int":
        if number != int(number):
            raise SweepError(option, f"{key}: '{text}' is not a whole number")
        return int(number)
    return number


def parse_grid(text: str) -> tuple[str, list]:
    """'lr=0.001,0.01' -> ('learning_rate', [0.001, 0.01])."""
    name, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise SweepError("--grid", f"'{text}' should read NAME=V1,V2 (for example lr=0.001,0.01)")
    key = param_name(name)
    parsed = [_value(key, v) for v in values.split(",") if v.strip()]
    if len(set(map(str, parsed))) != len(parsed):
        raise SweepError("--grid", f"{key}: a value is listed twice")
    return key, parsed


def parse_range(text: str) -> tuple[str, list]:
    """'lr=1e-4:1e-1:log' -> ('learning_rate', [0.0001, 0.1, True])."""
    name, sep, rest = text.partition("=")
    parts = rest.split(":")
    if not sep or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip().lower() != "log"):
        raise SweepError("--range", f"'{text}' should read NAME=LOW:HIGH or NAME=LOW:HIGH:log (for example "
                                    "lr=0.0001:0.1:log)")
    key = param_name(name, "--range")
    if PARAMS[key].kind == "choice":
        raise SweepError("--range", f"{key} takes named values: give them with --grid {key}=A,B")
    low, high = _value(key, parts[0], "--range"), _value(key, parts[1], "--range")
    log_scale = len(parts) == 3
    if not low < high or (log_scale and low <= 0):
        above_zero = " and above 0 on a log scale" if log_scale else ""
        raise SweepError("--range", f"{key}: LOW must be below HIGH{above_zero}")
    return key, [low, high, log_scale]


def apply(base: RunConfig, params: dict) -> RunConfig:
    """`base` with the trial's hyperparameters set."""
    run_fields, model_fields = {}, {}
    for key, value in params.items():
        p = PARAMS[key]
        (model_fields if p.on_model else run_fields)[p.field] = value
    model = base.model
    if "dropout" in model_fields:
        model_fields["dropout"] = tuple(float(model_fields["dropout"]) for _ in model.dense)
    if model_fields:
        model = dataclasses.replace(model, **model_fields)
    return base.with_(model=model, **run_fields)


def make_spec(base: RunConfig, grid: dict | None = None, ranges: dict | None = None, sampler: str | None = None,
              trials: int | None = None, prune: str | None = None) -> dict:
    """A checked sweep spec (what the sweeps table stores); SweepError or ConfigError say what to change."""
    grid, ranges = dict(grid or {}), dict(ranges or {})
    if not grid and not ranges:
        raise SweepError("--grid", "name at least one hyperparameter to vary, e.g. --grid lr=0.001,0.01")
    if both := set(grid) & set(ranges):
        raise SweepError("--range", f"{', '.join(sorted(both))}: give either a grid or a range, not both")
    sampler = (sampler or ("random" if ranges else "grid")).lower()
    if sampler not in SAMPLERS:
        raise SweepError("--sampler", f"one of {', '.join(SAMPLERS)} (got {sampler!r})")
    if sampler == "grid" and ranges:
        raise SweepError("--sampler", "the grid sampler tries listed values only: give --grid values, or use "
                                      "--sampler random or tpe for a --range")
    if prune is not None and prune not in PRUNERS:
        raise SweepError("--prune", f"one of {', '.join(PRUNERS)} (got {prune!r})")
    if prune and not base.is_keras:
        raise SweepError("--prune", "pruning needs epochs to compare; a baseline trains in one step")
    size = 1
    for values in grid.values():
        size *= len(values)
    cap = trials if trials is not None else (size if sampler == "grid" else DEFAULT_TRIALS)
    if not isinstance(cap, int) or not 1 <= cap <= MAX_TRIALS:
        raise SweepError("--trials", f"from 1 to {MAX_TRIALS} trials (got {cap!r})")
    _check_values(base, grid, ranges)
    base.validate()
    return {"base": json_of(base), "grid": grid, "ranges": ranges, "params": [*grid, *ranges], "sampler": sampler,
            "trials": min(cap, size) if sampler == "grid" else cap, "prune": prune, "seed": base.seed}


def json_of(config: RunConfig) -> dict:
    return json.loads(config.to_json())


def _check_values(base: RunConfig, grid: dict, ranges: dict) -> None:
    """Every value on its own, so a bad one is named before any trial is queued."""
    listed = [("--grid", k, v) for k, v in grid.items()] + [("--range", k, v[:2]) for k, v in ranges.items()]
    for option, key, values in listed:
        if key == "dropout" and not base.model.dense:
            raise SweepError(option, "dropout: this network has no dense hidden layers to drop out from")
        for value in values:
            try:
                apply(base, {key: value}).validate()
            except ConfigError as exc:
                raise SweepError(option, f"{key}={value}: {'; '.join(exc.errors.values())}") from None


def short(value) -> str:
    """A hyperparameter value as a trial's name and the best-so-far line show it."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)
