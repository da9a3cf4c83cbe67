"""The results page under AppTest: the table, a filter, the CSV, rename, delete, and the test-set view."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import plotly.io
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest, app_test as app_test_mod

from fmnist import data, evaluate, presets, schema, summary
from fmnist.data import CLASS_NAMES

PAGE = str(Path(__file__).resolve().parents[2] / "views" / "results.py")


@pytest.fixture
def downloads(monkeypatch):
    """The bytes of every file the page offers, by URL (AppTest drops its media store after each run)."""
    files: dict[str, bytes] = {}

    class Keeping(MemoryMediaFileStorage):
        def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
            file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
            files[self.get_url(file_id)] = self.get_file(file_id).content
            return file_id

    monkeypatch.setattr(app_test_mod, "MemoryMediaFileStorage", Keeping)
    return files


@pytest.fixture
def make_finished(store, workspace, run_factory):
    """finished(name, train, val, preset) -> Run, with a small model file of its own (hash recorded)."""
    def make(name: str, train: float, val: float, preset: str = "mlp1"):
        run = run_factory(preset, name=name, user="ana", status="running")
        path = workspace.models_dir / f"run-{run.id}.keras"
        path.write_bytes(f"weights of {name}".encode())
        store.add_epoch(run.id, 1, {"val_accuracy": val - 0.1, "val_loss": 0.9})
        store.add_epoch(run.id, 2, {"val_accuracy": val, "val_loss": 0.6})
        store.finish(run.id, {"train_acc": train, "val_acc": val, "test_acc": val - 0.01, "params": 202_735,
                              "epochs": 2, "seconds": 12.0, "model_path": str(path),
                              "model_sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
        return store.get(run.id)
    return make


@pytest.fixture
def runs(store, run_factory, make_finished):
    made = [make_finished("wide net", 0.95, 0.88), make_finished("cnn champion", 0.99, 0.92, "cnn2"),
            make_finished("small net", 0.86, 0.85)]
    failed = run_factory("cnn1", name="broken cnn", user="bo", status="running")
    store.mark_failed(failed.id, "loss became NaN at epoch 3; lower the learning rate")
    return made + [store.get(failed.id)]


def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def table(at):
    return at.dataframe[0].value


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def final_tab(**query) -> AppTest:
    return page(tab="Final model on the test set", **query)


def test_table_lists_runs_newest_first_with_the_best_marked(runs):
    at = page()
    frame = table(at)
    assert frame["Model"].tolist() == ["broken cnn", "small net", "cnn champion", "wide net"]
    assert frame["Status"].tolist() == ["failed", "finished", "finished", "finished"]
    assert frame.loc[frame["Best"] == summary.BEST_MARK, "Model"].tolist() == ["cnn champion"]
    assert frame["User"].tolist() == ["bo", "ana", "ana", "ana"]
    assert frame.loc[frame["Model"] == "cnn champion", "Gap"].item() == "7.00%"  # the text a user reads
    assert frame.loc[frame["Model"] == "broken cnn", ["Val accuracy", "Gap", "Params"]].values.tolist() == \
        [["–", "–", "–"]]  # never "None"
    every = table(at.toggle(key="all_columns").set_value(True).run())  # the hidden columns, a toggle away
    assert every.loc[every["Model"] == "broken cnn", "Error"].item().startswith("loss became NaN")
    caption = at.caption[0].value
    assert caption.startswith("4 runs match, newest first.")
    assert f"(#{runs[1].id} cnn champion, 92.00%)" in caption and "sign of overfitting" in caption


def test_filters_narrow_the_table(runs):
    at = page()
    at.multiselect(key="status").set_value(["finished"]).run()
    assert table(at)["Model"].tolist() == ["small net", "cnn champion", "wide net"]
    at.text_input(key="name").set_value("NET").run()
    assert table(at)["Model"].tolist() == ["small net", "wide net"]
    at.multiselect(key="preset").set_value(["cnn2"]).run()
    assert table(at).empty
    assert at.caption[0].value.startswith("0 runs match")
    assert "No runs match. Start one on the Train page, or clear the filters." in [i.value for i in at.info]


def test_notebook_reference_rows_toggle(runs):
    at = page()
    at.toggle(key="notebook").set_value(True).run()
    at.toggle(key="all_columns").set_value(True).run()
    frame = table(at)
    ref = frame[frame["Status"] == "notebook"]
    assert "Multi CNN (notebook)" in ref["Model"].tolist() and len(frame) == 4 + len(ref)
    assert ref.loc[ref["Model"] == "Multi CNN (notebook)", "Val accuracy"].item() == "91.74%"
    assert ".0" not in "".join(frame["Batch"])  # no "128.0" beside the notebook's rows


def test_csv_download_holds_the_table_as_shown(runs, downloads, store, run_factory):
    store.rename(runs[2].id, "=HYPERLINK(\"http://x\")")
    at = page()
    button = at.download_button[0]
    assert button.label == "Download this table as CSV"
    rows = list(csv.reader(io.StringIO(downloads[button.proto.url].decode("utf-8"))))
    header = rows[0]
    assert header[:4] == ["Best", "Run", "Model", "Train accuracy"]
    models = [r[header.index("Model")] for r in rows[1:]]
    assert models == ["broken cnn", "'=HYPERLINK(\"http://x\")", "cnn champion", "wide net"]
    assert [r[header.index("Val accuracy")] for r in rows[1:]] == ["", "0.85", "0.92", "0.88"]
    assert [r[header.index("Test accuracy")] for r in rows[1:]] == ["", *[summary.LOCKED] * 3]


def test_test_accuracy_stays_locked_until_revealed_and_each_reveal_counts_a_look(runs, store, downloads):
    at = page()
    assert table(at)["Test accuracy"].tolist() == ["–", *[summary.LOCKED] * 3]  # the failed run measured none
    button(at, "Reveal every test score").click().run()
    assert [s.value for s in at.success] == ["Revealed the test accuracy of 3 run(s); one look at the test set "
                                             "was counted for each."]
    assert table(at)["Test accuracy"].tolist()[1:] == ["84.00%", "91.00%", "87.00%"]
    assert [store.get(r.id).test_views for r in runs] == [1, 1, 1, 0]  # the failed run had nothing to reveal
    button(at, "Reveal every test score").click().run()
    assert [s.value for s in at.success] == ["Every test accuracy was open."]
    assert [store.get(r.id).test_views for r in runs] == [1, 1, 1, 0]  # nothing new revealed, nothing counted
    at.toggle(key="notebook").set_value(True).run()
    ref = table(at)[table(at)["Status"] == "notebook"]
    assert ref.loc[ref["Model"] == "Multi CNN (notebook)", "Test accuracy"].item() == "91.58%"  # always visible


def test_table_filters_by_user_and_fits_the_page_until_every_column_is_asked_for(runs):
    at = page()
    assert at.multiselect(key="user").options == ["ana", "bo"]
    assert list(table(at).columns) == summary.MAIN_COLUMNS
    at.multiselect(key="user").set_value(["bo"]).run()
    assert table(at)["Model"].tolist() == ["broken cnn"]
    assert at.caption[0].value.startswith("1 runs match")
    at.toggle(key="all_columns").set_value(True).run()
    assert list(table(at).columns) == ["Best", *summary.COLUMNS]  # every column, the page scrolls sideways


def test_in_classroom_mode_only_the_instructor_reveals_test_scores(runs, monkeypatch):
    from fmnist import classroom
    monkeypatch.setenv(classroom.INSTRUCTOR_KEY, classroom.hash_password("correct horse", salt=b"0" * 16))
    at = page()
    assert "Reveal every test score" not in [b.label for b in at.button]
    assert table(at)["Test accuracy"].tolist() == ["–", *[summary.LOCKED] * 3]


def test_rename_flow(runs, store):
    at = page()
    at.selectbox(key="edit_run").set_value(runs[0].id).run()
    assert at.text_input(key=f"new_name_{runs[0].id}").value == "wide net"
    at.text_input(key=f"new_name_{runs[0].id}").set_value("  renamed net ").run()
    button(at, "Rename").click().run()
    assert [s.value for s in at.success] == [f"Run #{runs[0].id} renamed to “renamed net”."]
    assert store.get(runs[0].id).name == "renamed net"
    assert "renamed net" in table(at)["Model"].tolist()
    at.text_input(key=f"new_name_{runs[0].id}").set_value("   ").run()
    button(at, "Rename").click().run()
    assert [e.value for e in at.error] == ["A run's name needs 1 to 80 characters."]


def test_delete_asks_for_confirmation_and_removes_the_model_file(runs, store):
    victim = runs[0]
    at = page()
    at.selectbox(key="edit_run").set_value(victim.id).run()
    delete = next(b for b in at.button if b.label == "Delete")
    assert delete.disabled
    at.checkbox(key="confirm_delete").check().run()
    next(b for b in at.button if b.label == "Delete").click().run()
    assert [s.value for s in at.success] == [f"Run #{victim.id} and its model file were deleted."]
    assert store.get(victim.id) is None and not os.path.exists(victim.model_path)
    assert "wide net" not in table(at)["Model"].tolist()
    assert at.checkbox(key="confirm_delete").value is False


def test_delete_refuses_an_active_run(runs, store, run_factory):
    active = run_factory("mlp1", name="still training", status="running")
    store.mark_running(active.id, os.getpid())  # a live process with a fresh heartbeat: not reaped
    at = page()
    at.selectbox(key="edit_run").set_value(active.id).run()
    at.checkbox(key="confirm_delete").check().run()
    next(b for b in at.button if b.label == "Delete").click().run()
    assert [e.value for e in at.error] == [f"Run {active.id} is still running; stop it before deleting it."]
    assert store.get(active.id).status == "running"


def test_a_tampered_model_is_not_offered_for_download(runs):
    with open(runs[2].model_path, "ab") as fh:
        fh.write(b"!")
    at = page()
    at.selectbox(key="edit_run").set_value(runs[2].id).run()
    assert any("does not match its recorded SHA-256" in e.value for e in at.error)
    assert [b.label for b in at.download_button] == ["Download this table as CSV"]
    at.selectbox(key="edit_run").set_value(runs[1].id).run()
    assert [b.label for b in at.download_button][1] == f"Download the model of run #{runs[1].id}"


@pytest.fixture
def with_dataset(workspace, split_workspace, split):
    shutil.copy(data.cache_path(split_workspace), data.cache_path(workspace))
    return split


def _precomputed(store, run, y):
    """A stored report for `run` as if evaluated: every 10th test image taken for the next class."""
    pred = y.astype(int).copy()
    pred[::10] = (pred[::10] + 1) % 10
    probs = np.full((len(y), 10), 0.01)
    probs[np.arange(len(y)), pred] = 0.9
    report = evaluate.build_report(probs, y, run.val_acc)
    report["model_sha256"] = run.model_sha256
    store.save_evaluation(run.id, report)
    return pred


def test_test_set_view_with_a_precomputed_evaluation(runs, store, with_dataset):
    y = with_dataset.y_test.astype(int)
    best = runs[1]
    pred = _precomputed(store, best, y)
    at = final_tab()
    assert evaluate.WHY_LAST in [i.value for i in at.info]
    assert at.selectbox(key="final").value == best.id  # the best finished run by validation accuracy
    assert at.selectbox(key="final").options[0] == f"#{best.id} cnn champion · val 92.00%"
    assert f"Run #{best.id}'s test accuracy is still locked: nobody has opened its test evaluation." in \
        [c.value for c in at.caption]
    assert not at.metric  # nothing about the test set until asked
    next(b for b in at.button if b.label == f"Evaluate run #{best.id} on the test set").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Test accuracy": "90.00%", "Test error": "10.00%", "Validation accuracy": "92.00%",
                       "Validation error": "8.00%"}
    assert f"Run #{best.id} has been evaluated on the test set 1 time(s)." in [c.value for c in at.caption]
    assert store.get(best.id).test_views == 1
    per_class = at.dataframe[0].value  # only the open tab runs
    assert per_class["Class"].tolist() == list(CLASS_NAMES)
    assert per_class["Recall"].tolist() == pytest.approx([np.mean(pred[y == k] == k) for k in range(10)])
    assert "1000 test images, the 24 most confident shown" in [c.value for c in at.caption]

    cm_chart = next(plotly.io.from_json(c.proto.spec) for c in at.get("plotly_chart")
                    if "Confusion matrix" in c.proto.spec)
    heat, cells = cm_chart.data
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (y, pred), 1)
    np.testing.assert_array_equal(np.asarray(heat.text).astype(int), counts)  # the counts a user reads
    # the invisible layer a click selects: one marker per cell, y = true class, x = predicted
    assert cells.name == "cells" and (cells.y[6 * 10 + 7], cells.x[6 * 10 + 7]) == ("Shirt", "Sneaker")

    at.selectbox(key="cm_true").set_value("Shirt").run()
    at.selectbox(key="cm_pred").set_value("Sneaker").run()
    shirt_as_sneaker = int(np.sum((y == 6) & (pred == 7)))
    assert f"{shirt_as_sneaker} test images, the 24 most confident shown" in [c.value for c in at.caption]
    assert shirt_as_sneaker > 24
    at.selectbox(key="cm_pred").set_value("Shirt").run()  # the diagonal: shirts seen as shirts
    shirts = int(np.sum((y == 6) & (pred == 6)))
    assert f"{shirts} test images, the 24 most confident shown" in [c.value for c in at.caption]
    assert store.get(best.id).test_views == 1  # looking at the cells is not another evaluation


def test_the_final_model_chosen_is_kept_in_the_url(runs, store):
    at = final_tab(model=str(runs[0].id))  # a shared link naming "wide net", not the best run
    assert at.selectbox(key="final").value == runs[0].id
    at.selectbox(key="final").set_value(runs[2].id).run()
    assert at.query_params["model"] == str(runs[2].id)
    assert button(at, f"Evaluate run #{runs[2].id} on the test set")
    store.delete(runs[2].id)
    at = final_tab(model=str(runs[2].id))  # a link to a run deleted since: the best run, no error
    assert at.selectbox(key="final").value == runs[1].id and not at.exception


def test_a_missing_model_shows_its_message_on_evaluation(runs, with_dataset):
    os.remove(runs[1].model_path)
    at = final_tab()
    next(b for b in at.button if b.label.startswith("Evaluate run")).click().run()
    assert not at.exception
    assert [e.value for e in at.error][-1] == (f"The model file {runs[1].model_path} is missing. Retrain the run, "
                                               "or delete it from the results page.")
    assert not at.metric


def test_ten_thousand_runs_render_quickly(store):
    config = presets.config_for("mlp1").to_json()
    rows = [{"name": f"run {i}", "preset": "mlp1", "kind": "mlp", "config": config, "status": "finished",
             "created_at": time.time(), "train_acc": 0.9, "val_acc": 0.5 + i / 40_000, "test_acc": 0.8,
             "params": 1000, "epochs": 5, "seconds": 3.0} for i in range(10_000)]
    with store.write() as c:
        c.execute(schema.runs.insert(), rows)
    at = page()  # the first run pays for imports
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    assert len(table(at)) == summary.PAGE_SIZE and table(at)["Model"].iloc[0] == "run 9999"
    assert at.number_input(key="page").label == "Page (of 200)"
    print(f"a page of 10,000 runs rendered in {elapsed:.2f} s")  # a figure, not a target: the benchmark holds those
