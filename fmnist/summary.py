"""The summary table of runs (the notebook's columns and the rest) and its safe CSV export."""
from __future__ import annotations

import json

import pandas as pd

from fmnist.presets import all_presets
from fmnist.store import Store

COLUMNS = ["Run", "Model", "Train accuracy", "Val accuracy", "Test accuracy", "Gap", "Params", "Epochs",
           "Seconds", "Status", "User", "Preset", "Batch", "Optimizer", "LR", "Early stopping", "Error", "Started"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _hyper(config_json: str) -> dict:
    cfg = json.loads(config_json)
    keras_run = cfg["model"]["kind"] in ("mlp", "cnn", "resnet")
    return {"Batch": cfg["batch_size"] if keras_run else None,
            "Optimizer": cfg["optimizer"] if keras_run else None,
            "LR": cfg["learning_rate"] if keras_run else None,
            "Early stopping": (f"patience {cfg['patience']}" if cfg["early_stopping"] else "off") if keras_run else None}


def summary_frame(store: Store, limit: int = 500, offset: int = 0, statuses=None) -> pd.DataFrame:
    """One row per run, newest first; paged in SQL so a large store is never loaded whole."""
    rows = []
    for run in store.runs(statuses=statuses, limit=limit, offset=offset):
        gap = run.train_acc - run.val_acc if run.train_acc is not None and run.val_acc is not None else None
        rows.append({"Run": run.id, "Model": run.name, "Train accuracy": run.train_acc, "Val accuracy": run.val_acc,
                     "Test accuracy": run.test_acc, "Gap": gap, "Params": run.params, "Epochs": run.epochs,
                     "Seconds": run.seconds, "Status": run.status, "User": run.user, "Preset": run.preset,
                     **_hyper(run.config), "Error": run.error,
                     "Started": pd.Timestamp(run.created_at, unit="s").strftime("%Y-%m-%d %H:%M")})
    return pd.DataFrame(rows, columns=COLUMNS)


def notebook_frame() -> pd.DataFrame:
    """The notebook's reported figures, as reference rows."""
    rows = [{"Preset": p.key, "Model": p.title, "Params": p.notebook.params, "Epochs": p.notebook.epochs,
             "Train accuracy": p.notebook.train, "Val accuracy": p.notebook.val, "Test accuracy": p.notebook.test}
            for p in all_presets().values() if p.notebook]
    return pd.DataFrame(rows)


def beside_notebook(ours: pd.DataFrame) -> pd.DataFrame:
    """Our latest finished run of each notebook preset beside the notebook's figures."""
    ref = notebook_frame()
    done = ours[ours["Status"] == "finished"].drop_duplicates("Preset", keep="first")
    merged = ref.merge(done[["Preset", "Train accuracy", "Val accuracy", "Test accuracy", "Params", "Epochs", "Seconds"]],
                       on="Preset", how="left", suffixes=(" (notebook)", " (lab)"))
    return merged[["Model", "Params (notebook)", "Params (lab)", "Epochs (notebook)", "Epochs (lab)",
                   "Train accuracy (notebook)", "Train accuracy (lab)", "Val accuracy (notebook)",
                   "Val accuracy (lab)", "Test accuracy (notebook)", "Test accuracy (lab)", "Seconds"]]


def escape_cell(value):
    """Neutralise spreadsheet formulas: a text cell starting with = + - @ gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(frame: pd.DataFrame) -> bytes:
    safe = frame.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(escape_cell)
    safe.columns = [escape_cell(str(c)) for c in safe.columns]
    return safe.to_csv(index=False).encode("utf-8")
