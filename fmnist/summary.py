"""The summary table of runs (the notebook's columns and the rest), its safe exports (CSV, a verified
model file) and the edits a user makes to it (rename, delete)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fmnist import labels
from fmnist.artifacts import ArtifactError, sha256
from fmnist.config import KERAS_KINDS
from fmnist.presets import all_presets
from fmnist.settings import Settings
from fmnist.store import Run, Store

COLUMNS = ["Run", "Model", "Train accuracy", "Val accuracy", "Test accuracy", "Gap", "Params", "Epochs",
           "Seconds", "Status", "User", "Preset", "Batch", "Optimizer", "LR", "Early stopping", "Test views",
           "Error", "Started", "Sweep", "Continues", "Seed group"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ACCURACY_COLUMNS = ["Train accuracy", "Val accuracy", "Test accuracy", "Gap"]
BEST_MARK = "★ best val"
LOCKED = "locked: choose on validation"  # a test accuracy nobody has deliberately opened yet
PAGE_SIZE = 50
# The columns the page shows by default: the rest (hyperparameters, errors) are one toggle away, so the
# table fits a projector's width.
MAIN_COLUMNS = ["Best", "Run", "Model", "User", "Status", "Train accuracy", "Val accuracy", "Test accuracy", "Gap",
                "Params"]
# Train minus validation accuracy above 5 points: the model fits its training images much better than new ones.
OVERFIT_GAP = 0.05


def _hyper(config_json: str) -> dict:
    cfg = json.loads(config_json)
    keras_run = cfg["model"]["kind"] in KERAS_KINDS
    return {"Batch": cfg["batch_size"] if keras_run else None,
            "Optimizer": cfg["optimizer"] if keras_run else None,
            "LR": cfg["learning_rate"] if keras_run else None,
            "Early stopping": ((f"patience {cfg['patience']}" if cfg["early_stopping"] else "off")
                               if keras_run else None)}


def summary_frame(store: Store, limit: int = 500, offset: int = 0, statuses=None, users=()) -> pd.DataFrame:
    """One row per run, newest first; paged in SQL so a large store is never loaded whole."""
    return frame_of(store.search(statuses=tuple(statuses or ()), users=tuple(users), limit=limit, offset=offset))


def text_table(frame: pd.DataFrame, columns: list[str]) -> str:
    """The table for a terminal: accuracies to four places, a locked test accuracy in words, "-" when empty."""
    shown = frame[columns].astype(object).where(frame[columns].notna(), "-")
    for col in ("Train accuracy", "Val accuracy", "Test accuracy", "Seconds"):
        if col in shown:
            shown[col] = shown[col].map(lambda v: f"{v:.4f}" if isinstance(v, float) else v)
    return shown.to_string(index=False) if len(shown) else "no runs yet"


def test_cell(run: Run):
    """A run's test accuracy once its test evaluation was opened (counted in test_views), else LOCKED."""
    if run.test_acc is None:
        return None
    return run.test_acc if run.test_views > 0 else LOCKED


def frame_of(runs: list[Run]) -> pd.DataFrame:
    rows = []
    for run in runs:
        gap = run.train_acc - run.val_acc if run.train_acc is not None and run.val_acc is not None else None
        rows.append({"Run": run.id, "Model": run.name, "Train accuracy": run.train_acc, "Val accuracy": run.val_acc,
                     "Test accuracy": test_cell(run), "Gap": gap, "Params": run.params, "Epochs": run.epochs,
                     "Seconds": run.seconds, "Status": run.status, "User": run.user, "Preset": run.preset,
                     **_hyper(run.config), "Test views": run.test_views, "Error": run.error,
                     "Started": pd.Timestamp(run.created_at, unit="s").strftime("%Y-%m-%d %H:%M"),
                     "Sweep": run.sweep_id, "Continues": run.parent_id, "Seed group": run.group_key})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("Run", "Params", "Epochs", "Batch", "Test views", "Sweep", "Continues"):
        frame[col] = frame[col].astype("Int64")
    return frame


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
    ours_cols = ["Preset", "Train accuracy", "Val accuracy", "Test accuracy", "Params", "Epochs", "Seconds"]
    merged = ref.merge(done[ours_cols], on="Preset", how="left", suffixes=(" (notebook)", " (lab)"))
    for col in ("Params (notebook)", "Params (lab)", "Epochs (lab)"):
        merged[col] = merged[col].astype("Int64")
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


@dataclass(frozen=True)
class Filters:
    """What the results table is narrowed to; empty means everything."""
    statuses: tuple[str, ...] = ()
    name: str = ""
    presets: tuple[str, ...] = ()
    users: tuple[str, ...] = ()

    def query(self) -> dict:
        return {"statuses": tuple(self.statuses), "name_contains": self.name, "presets": tuple(self.presets),
                "users": tuple(self.users)}


def table_page(store: Store, filters: Filters = Filters(), page: int = 1, size: int = PAGE_SIZE) -> pd.DataFrame:
    """One page of the runs matching `filters`, newest first (Store.count_matching says how many in all).

    The first column marks the best finished run by validation accuracy across the whole store."""
    runs = store.search(**filters.query(), limit=size, offset=(max(page, 1) - 1) * size)
    frame = frame_of(runs)
    best = store.best_val()
    frame.insert(0, "Best", ["" if best is None or run_id != best.id else BEST_MARK for run_id in frame["Run"]])
    return frame


def with_notebook(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with the notebook's reported figures appended as reference rows (Status 'notebook')."""
    ref = notebook_frame()
    ref["Model"] = ref["Model"] + " (notebook)"
    ref["Status"] = "notebook"
    ref["Gap"] = ref["Train accuracy"] - ref["Val accuracy"]
    ref["Epochs"] = None  # the notebook reports "ES (37)" and the like, not a count of this column's type
    ref = ref.reindex(columns=frame.columns)
    ref["Best"] = ref["User"] = ""
    both = pd.concat([frame, ref], ignore_index=True) if len(frame) else ref
    return both.astype({c: "Int64" for c in ("Run", "Params", "Epochs", "Batch", "Test views") if c in both})


FORMATS = {**{c: "{:.2%}" for c in ACCURACY_COLUMNS}, "LR": "{:g}", "Seconds": "{:.1f}", "Params": "{:,.0f}",
           "Run": "{:.0f}", "Epochs": "{:.0f}", "Batch": "{:.0f}", "Test views": "{:.0f}", "Rank": "{:.0f}",
           "Finished runs": "{:.0f}"}
EMPTY = "–"
# Headers on screen: the short forms keep the table within a projector's width (the CSV keeps the long ones).
SHORT_LABELS = {"Train accuracy": "Train", "Val accuracy": "Val", "Test accuracy": "Test", "Seconds": "Time (s)",
                "Test views": "Test looks", "Early stopping": "Early stop"}
WIDTHS = {"Best": 80, "Model": 175, "Test accuracy": 200}


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as a person reads it, every cell text: percentages, LOCKED in words, "–" where there is nothing
    (st.dataframe draws an empty number as "None"). Numbers are padded on the left to one width, so sorting a
    column in the grid still puts them in numeric order."""
    shown = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        cells = [_cell(v, FORMATS.get(col)) for v in frame[col]]
        width = max((len(text) for text, number in cells if number), default=0)
        shown[col] = [text.rjust(width) if number else text for text, number in cells]
    return shown


def _cell(value, fmt: str | None) -> tuple[str, bool]:
    if isinstance(value, str):
        return value, False
    if value is None or pd.isna(value):
        return EMPTY, False
    if isinstance(value, (int, float)) or pd.api.types.is_number(value):
        return (fmt.format(value) if fmt else f"{value:g}"), True
    return str(value), False


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of numbers (to align right): those with a format, or of a numeric dtype."""
    return [c for c in frame.columns if c in FORMATS or pd.api.types.is_numeric_dtype(frame[c])]


def styled(frame: pd.DataFrame):
    """display_frame, with the best run's row highlighted and a large train-validation gap in red."""
    best = frame["Best"].eq(BEST_MARK) if "Best" in frame else pd.Series(False, frame.index)
    gap = pd.to_numeric(frame["Gap"], errors="coerce") if "Gap" in frame else pd.Series(float("nan"), frame.index)

    def best_row(row):
        return ["background-color: #fff3c4; font-weight: bold" if best[row.name] else ""] * len(row)

    def overfit(col):
        return ["color: #c0392b; font-weight: bold" if gap[i] > OVERFIT_GAP else "" for i in col.index]

    styler = display_frame(frame).style.apply(best_row, axis=1)
    return styler.apply(overfit, subset=["Gap"]) if "Gap" in frame else styler


def delete_run(store: Store, settings: Settings, run_id: int) -> Run | None:
    """Delete an ended run and its model file (StoreError, with the reason, for an active run)."""
    run = store.delete(run_id)
    if run is not None and run.model_path:
        file = Path(run.model_path)
        if file.resolve().parent == settings.models_dir.resolve():  # never remove a file outside the lab's models
            file.unlink(missing_ok=True)
    return run


def model_filename(run: Run) -> str:
    return f"fmnist-run-{run.id}{Path(run.model_path or '').suffix}"


def check_model(run: Run) -> None:
    """Raise ArtifactError (a message for the user) unless the run's model file exists and matches its SHA-256."""
    _verify(run, None)


def model_bytes(run: Run) -> bytes:
    """The model file's bytes, returned only if those very bytes match the recorded SHA-256."""
    data = Path(run.model_path).read_bytes() if run.model_path and Path(run.model_path).is_file() else None
    _verify(run, data)
    return data


def _verify(run: Run, data: bytes | None) -> None:
    if not run.model_path or not run.model_sha256:
        raise ArtifactError(f"Run {run.id} has no saved model (it did not finish), so there is nothing to download.")
    file = Path(run.model_path)
    if not file.is_file():
        raise ArtifactError(f"The model file {file} is missing. Retrain the run, or delete it.")
    digest = hashlib.sha256(data).hexdigest() if data is not None else sha256(file)
    if digest != run.model_sha256:
        raise ArtifactError(f"The model file {file} does not match its recorded SHA-256: it was changed or damaged. "
                            "It is not offered for download; retrain the run.")


def curves(store: Store, runs: list[Run]) -> dict[str, pd.DataFrame]:
    """Each run's epochs, for overlaying their curves."""
    return {labels.short(r): pd.DataFrame(store.epochs(r.id)) for r in runs}


def scatter_frame(runs: list[Run], x: str = "params") -> pd.DataFrame:
    """One point per run that has both `x` and a validation accuracy (baselines have no parameter count;
    0 parameters would not fit a log axis either). `tag` ("#5") is the short label drawn by the point."""
    frame = pd.DataFrame({"name": [labels.short(r) for r in runs], "tag": [f"#{r.id}" for r in runs],
                          "params": [r.params or None for r in runs], "seconds": [r.seconds for r in runs],
                          "val_acc": [r.val_acc for r in runs]})
    return frame.dropna(subset=[x, "val_acc"]).reset_index(drop=True)


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


def table_caption(total: int, best: Run | None) -> str:
    """What the table under it shows, in words: how many runs, which is best, what Gap and locked mean."""
    which = f" ({labels.short(best)}, {best.val_acc:.2%})" if best else ""
    return (f"{total} runs match, newest first. **{BEST_MARK}** marks the finished run with the highest validation "
            f"accuracy{which}. **Gap** = train − validation accuracy: above 5 points (red) the model fits its "
            "training images much better than new ones, a sign of overfitting. A test accuracy stays "
            f"*{LOCKED}* until that run's test evaluation is opened.")


def test_looks(run: Run) -> str:
    if run.test_views == 0:
        return f"Run #{run.id}'s test accuracy is still locked: nobody has opened its test evaluation."
    return f"Run #{run.id} has been evaluated on the test set {run.test_views} time(s)."

