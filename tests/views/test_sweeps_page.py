"""The sweeps page, and the train page's continue and repeat buttons, under AppTest. Another holder keeps the
supervisor's lease, so nothing the page queues starts (trials are played by hand where they must end)."""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np
import plotly.io
import pytest
from streamlit.testing.v1 import AppTest

from fmnist import presets, supervisor, sweep_spec, sweep_store, sweeps
from tests.playing import start_by_hand

VIEWS = Path(__file__).resolve().parents[2] / "views"


@pytest.fixture
def quiet(store, workspace):
    """No supervisor of the page's moves anything: a test holder has the lease."""
    sweeps._storages.clear()
    store.take_lease(supervisor.LEASE, "test holder", 3600)
    return store, workspace


def play(store, run_id, vals):
    start_by_hand(store, run_id, executor="local", handle="simulated")
    for epoch, val in enumerate(vals, 1):
        store.add_epoch(run_id, epoch, {"val_accuracy": val})
    store.finish(run_id, {"val_acc": vals[-1], "train_acc": vals[-1] + 0.02, "epochs": len(vals)})


@pytest.fixture
def done_sweep(quiet):
    store, s = quiet
    spec = sweep_spec.make_spec(presets.config_for("mlp1", epochs=2, subset=1000),
                            grid={"learning_rate": [0.001, 0.01, 0.1], "batch_size": [32, 64]}, trials=4)
    sweep_id = sweeps.create(store, s, spec, name="lr and batch")
    scores = {0.001: 0.84, 0.01: 0.87, 0.1: 0.62}
    while (queued := sweeps.advance(store, s)):
        for run_id in queued:
            lr = store.get(run_id).run_config().learning_rate
            play(store, run_id, [scores[lr] - 0.05, scores[lr]])
    assert sweep_store.get_sweep(store, sweep_id).status == "done"
    return sweep_id


def plotly_array(value) -> list:
    """A Plotly JSON array: a list, or {"dtype", "bdata"} base64 (Plotly 6+)."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(VIEWS / name), default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_finished_sweep_shows_its_trials_best_parallel_coordinates_and_importance(quiet, done_sweep):
    store, s = quiet
    at = page("sweeps.py", sweep=done_sweep)
    runs = store.runs(sweep_id=done_sweep)
    top = max(runs, key=lambda r: r.val_acc)
    assert at.subheader[0].value == f"#{done_sweep} lr and batch"
    [best] = [e.value for e in at.success]
    assert best.startswith("Best: trial ") and f"(run #{top.id}), validation accuracy {top.val_acc:.4f}" in best
    assert "learning rate 0.01" in best
    trials = at.dataframe[0].value
    assert len(trials) == 4 and set(trials["State"]) == {"finished"}
    assert sorted(trials["Val accuracy"]) == sorted(r.val_acc for r in runs)
    dims = plotly.io.from_json(at.get("plotly_chart")[0].proto.spec).data[0].dimensions
    assert [d.label for d in dims] == ["Learning rate", "Batch size", "Val accuracy"]
    assert sorted(plotly_array(dims[2].values)) == sorted(r.val_acc for r in runs)
    importance = at.dataframe[1].value
    assert set(importance["Hyperparameter"]) == {"Learning rate", "Batch size"}
    assert importance["Importance"].sum() == pytest.approx(1.0)
    assert not [b for b in at.button if b.label in ("Stop the sweep", "Resume the sweep")]  # done: nothing to do


def test_the_form_names_a_bad_hyperparameter_and_starts_a_good_sweep(quiet):
    store, s = quiet
    at = page("sweeps.py")
    assert "No sweep yet" in at.info[0].value
    at.text_area(key="sweep_grid").set_value("momentum=0.9,0.99")
    at.button[0].click().run()  # the form's submit button
    assert [e.value for e in at.error] == ["'momentum' is not a hyperparameter a sweep can vary; choose from lr, "
                                           + ", ".join(sorted(sweep_spec.PARAMS))]
    assert sweep_store.sweeps(store) == []
    at.text_area(key="sweep_grid").set_value("lr=0.001,0.01\nbatch=32,64")
    at.number_input(key="sweep_trials").set_value(3)
    at.selectbox(key="sweep_prune").set_value("median")
    at.button[0].click().run()
    [sweep] = sweep_store.sweeps(store)
    assert at.query_params["sweep"] == [str(sweep.id)] or at.query_params["sweep"] == str(sweep.id)
    assert sweep.spec["grid"] == {"learning_rate": [0.001, 0.01], "batch_size": [32, 64]}
    assert sweep.spec["trials"] == 3 and sweep.spec["prune"] == "median" and sweep.status == "active"
    assert sweep.spec["base"]["epochs"] == 2 and sweep.spec["base"]["subset"] == 2000


def test_stop_and_resume_a_sweep_from_its_page(quiet):
    store, s = quiet
    spec = sweep_spec.make_spec(presets.config_for("mlp1", epochs=1, subset=500), grid={"learning_rate": [0.001, 0.01]})
    sweep_id = sweeps.create(store, s, spec, name="pausable")
    (run_id,) = sweeps.advance(store, s)
    at = page("sweeps.py", sweep=sweep_id)
    next(b for b in at.button if b.label == "Stop the sweep").click().run()
    assert sweep_store.get_sweep(store, sweep_id).status == "stopped" and store.get(run_id).status == "stopped"
    assert any(b.label == "Resume the sweep" for b in at.button)
    next(b for b in at.button if b.label == "Resume the sweep").click().run()
    assert sweep_store.get_sweep(store, sweep_id).status == "active"


def test_the_train_page_continues_a_finished_run_and_repeats_it_with_seeds(quiet, run_factory):
    store, s = quiet
    run = run_factory("mlp1", status="running", name="base", subset=1000, epochs=2)
    path = s.models_dir / f"run-{run.id}.keras"
    path.write_bytes(b"weights")
    store.add_epoch(run.id, 1, {"val_accuracy": 0.8})
    store.add_epoch(run.id, 2, {"val_accuracy": 0.82})
    store.finish(run.id, {"val_acc": 0.82, "epochs": 2, "model_path": str(path),
                          "model_sha256": hashlib.sha256(b"weights").hexdigest()})
    at = page("train.py", run=run.id)
    at.number_input(key=f"more-{run.id}").set_value(3).run()
    next(b for b in at.button if b.label == "Continue 3 more epochs").click().run()
    [child] = store.runs(statuses=("queued",))
    assert child.parent_id == run.id and child.run_config().epochs == 3 and child.run_config().initial_epoch == 2
    assert at.query_params["run"] in (str(child.id), [str(child.id)])
    at = page("train.py", run=child.id)  # the continuation: its own curves, then the whole history
    history = plotly.io.from_json(at.get("plotly_chart")[1].proto.spec)
    assert history.layout.title.text == "base +3 epochs: the whole history"
    assert [a.text for a in history.layout.annotations].count(f"continued as #{child.id}") == 2
    assert plotly_array(history.data[1].x) == [1, 2]  # the parent's epochs; the child has none yet
    assert not [b for b in at.button if b.label.startswith("Continue ")]  # queued: nothing to continue from yet
    at = page("train.py", run=run.id)
    next(b for b in at.button if b.label == "Repeat with 3 seeds").click().run()
    repeats = [r for r in store.runs(statuses=("queued",)) if r.group_key]
    assert sorted(r.run_config().seed for r in repeats) == [run.run_config().seed + i for i in (1, 2, 3)]
    assert store.get(run.id).group_key == repeats[0].group_key
