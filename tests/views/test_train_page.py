"""The train page under AppTest: notebook figures, field errors, queueing (workers never start), run states."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist import presets, supervisor
from fmnist.executors.local import handle_of
from fmnist.store import Store
from tests.playing import start_by_hand
from tests.views.conftest import texts

PAGE = str(Path(__file__).resolve().parents[2] / "views" / "train.py")


@pytest.fixture
def no_workers(monkeypatch):
    """Runs stay queued: the page's supervisor thread reaps but never starts a TensorFlow worker."""
    monkeypatch.setattr(supervisor, "schedule", lambda store, settings, executor: [])


def page(user: str = "", run: int | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["user_name"] = user
    if run is not None:
        at.query_params["run"] = str(run)
    return at.run()


def field(at: AppTest, name: str, choice: str = "mlp1", kind: str = "mlp"):
    key = f"{choice}-{kind}-{name}"
    for widgets in (at.number_input, at.text_input, at.text_area, at.checkbox, at.selectbox):
        found = [w for w in widgets if w.key == key]
        if found:
            return found[0]
    raise KeyError(key)


def start(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Start training").click().run()


def test_choosing_a_preset_shows_the_notebooks_figures(workspace):
    at = page()
    assert not at.exception
    at.selectbox(key="train_choice").set_value("cnn2").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Params (notebook)": "723,359", "Train accuracy": "0.9885", "Val accuracy": "0.9174",
                       "Test accuracy": "0.9158", "Epochs": "ES (36)"}
    assert presets.get("cnn2").blurb in texts(at.caption)
    assert field(at, "conv", "cnn2").value == "64x3, pool 2\n32x3\n32x3"
    assert "**Model summary** · 723,359 parameters (the cap is 30,000,000)" in texts(at.markdown)


def test_out_of_range_epochs_are_named_and_nothing_is_queued(workspace, no_workers):
    at = page()
    field(at, "epochs").set_value("0")
    field(at, "dense").set_value("abc")
    at = start(at)
    assert not at.exception
    assert texts(at.error) == [
        "Hidden layer widths: 'abc' is not a whole number of units; "
        "type widths separated by commas, e.g. 255, 1020, 510",
        "Epochs (at most): must be a whole number from 1 to 500 (got 0)"]
    assert Store(workspace.db_path).count() == 0
    assert "run" not in at.query_params


def test_a_valid_run_is_queued_with_its_config_and_opened(workspace, no_workers):
    at = page(user="ana")
    field(at, "subset").set_value("300")
    field(at, "epochs").set_value("2")
    at = start(at)
    assert not at.exception and not at.error
    runs = Store(workspace.db_path).runs()
    assert len(runs) == 1 and runs[0].status == "queued"
    assert runs[0].run_config() == presets.config_for("mlp1", subset=300, epochs=2, user="ana")
    assert at.query_params["run"] == str(runs[0].id)
    assert f"#{runs[0].id} Single hidden layer · queued · ana" in texts(at.subheader)
    assert any(f"**#{runs[0].id} Single hidden layer** · ana · waiting, #1 in line" in m for m in texts(at.markdown))


def test_lab_best_offers_auto_precision_and_queues_the_precision_chosen(workspace, no_workers):
    at = page(user="ana")
    at.selectbox(key="train_choice").set_value("lab_best").run()
    precision = field(at, "precision", "lab_best", "mlp")
    assert precision.value == "auto" and precision.options == ["float32", "bfloat16", "auto"]
    assert field(at, "conv", "lab_best", "mlp").value == "32x3, same, bn\n32x3, same, pool 2, bn\n64x3, same, bn\n" \
                                                       "64x3, same, pool 2, bn"
    assert "**Model summary** · 872,426 parameters (the cap is 30,000,000)" in texts(at.markdown)
    precision.set_value("float32")
    field(at, "subset", "lab_best", "mlp").set_value("300")
    at = start(at)
    assert not at.exception and not at.error
    (run,) = Store(workspace.db_path).runs()
    assert run.run_config() == presets.config_for("lab_best", subset=300, precision="float32", user="ana")


def test_a_failed_run_shows_its_error(workspace, no_workers):
    store = Store(workspace.db_path)
    run_id = store.create_run(presets.config_for("mlp1", user="ana"))
    store.mark_failed(run_id, "worker died: signal 9")
    at = page(run=run_id)
    assert not at.exception
    assert texts(at.error) == ["This run failed: worker died: signal 9"]
    assert "Nothing is queued or running." in texts(at.caption)


def test_a_stopped_run_shows_why(workspace, no_workers):
    store = Store(workspace.db_path)
    run_id = store.create_run(presets.config_for("mlp1"))
    store.mark_stopped(run_id, "removed from the queue")
    at = page(run=run_id)
    assert texts(at.info) == ["Stopped: removed from the queue"]


def test_an_unknown_run_in_the_url_gets_a_warning(workspace, no_workers):
    at = page(run=99)
    assert texts(at.warning) == ["There is no run '99'. Choose one from the list below."]


def test_a_run_older_than_the_picker_list_opens_from_its_url(workspace, no_workers):
    store = Store(workspace.db_path)
    oldest = store.create_run(presets.config_for("mlp1", name="the oldest"))
    store.mark_stopped(oldest, "stopped by request")
    for _ in range(200):  # the picker lists the newest 200
        store.mark_stopped(store.create_run(presets.config_for("mlp1")), "stopped by request")
    at = page(run=oldest)
    assert not at.exception
    picker = next(s for s in at.selectbox if s.label == "Open an earlier run")
    assert picker.value == oldest and len(picker.options) == 201


def test_the_queue_lists_runs_with_who_started_them_and_stops_one(workspace, no_workers):
    store = Store(workspace.db_path)
    first = store.create_run(presets.config_for("mlp1", user="bo"))
    second = store.create_run(presets.config_for("cnn2", user="carla"))
    at = page()
    lines = [m for m in texts(at.markdown) if m.startswith("**#")]
    assert [line.split(" · for ")[0] for line in lines] == [
        f"**#{first} Single hidden layer** · bo · waiting, #1 in line",
        f"**#{second} Multi CNN** · carla · waiting, #2 in line"]
    at.button(key=f"queue-stop-{first}").click().run()
    assert store.get(first).status == "stopped" and store.get(second).status == "queued"
    lines = [m for m in texts(at.markdown) if m.startswith("**#")]
    assert len(lines) == 1 and "carla · waiting, #1 in line" in lines[0]


def test_a_full_queue_gives_its_message_and_queues_nothing(workspace, no_workers, monkeypatch):
    monkeypatch.setenv("FMNIST_ACTIVE_PER_USER", "1")
    store = Store(workspace.db_path)
    store.create_run(presets.config_for("cnn2", user="ana"))
    at = start(page(user="ana"))
    assert texts(at.warning) == [("The queue is full for 'ana': 1 runs active or waiting (the limit is 1 a person). "
                                  "Stop one or wait for one to finish.")]
    assert store.count() == 1


def test_run_the_whole_notebook_queues_up_to_the_cap(workspace, no_workers):
    at = page(user="ana")
    at = next(b for b in at.button if b.label == "Run the whole notebook").click().run()
    assert texts(at.success) == ["Queued 5 of 9 notebook runs."]
    assert len(at.warning) == 4 and at.warning[0].value.startswith("Regularized 5 hidden: The queue is full for 'ana'")
    assert [r.preset for r in Store(workspace.db_path).runs(order="id")] == list(presets.NOTEBOOK_KEYS[:5])


def test_the_parameter_cap_is_shown_beside_the_summary(workspace, monkeypatch):
    monkeypatch.setenv("FMNIST_MAX_PARAMS", "100000")
    at = page()
    assert texts(at.error) == ["202,735 parameters is over this lab's cap of 100,000; use fewer or narrower layers"]


def test_building_your_own_cnn_reports_a_bad_conv_row(workspace, no_workers):
    at = page()
    at.selectbox(key="train_choice").set_value("custom").run()
    at.radio[0].set_value("cnn").run()
    field(at, "conv", "custom", "cnn").set_value("32x3, pool 2\nbanana")
    at = start(at)
    assert texts(at.error) == [("Convolution layers: line 2 'banana' is not FILTERS x KERNEL[, same][, pool N]"
                                "[, bn]; e.g. 64x3, pool 2")]
    assert Store(workspace.db_path).count() == 0


def test_a_dead_worker_is_reaped_and_explained(workspace, no_workers):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store = Store(workspace.db_path)
    run_id = store.create_run(presets.config_for("mlp1", user="ana"))
    start_by_hand(store, run_id, gone.pid, None, executor="local", handle=handle_of(gone.pid))  # its process has exited
    at = page(run=run_id)  # the page's store starts the server's supervisor, which reaps it within a tick
    deadline = time.time() + 30
    while store.get(run_id).status == "running" and time.time() < deadline:
        time.sleep(0.2)
    at.run()
    assert not at.exception
    assert store.get(run_id).status == "failed"
    assert texts(at.error) == ["This run failed: worker died: its process is gone"]
    assert "Nothing is queued or running." in texts(at.caption)


def test_a_learning_rate_that_is_not_a_number_is_kept_named_and_starts_nothing(workspace, no_workers):
    at = page()
    field(at, "learning_rate").set_value("abc")
    field(at, "dense").set_value("64, 32")
    at = start(at)
    assert not at.exception
    assert field(at, "learning_rate").value == "abc"  # what the user typed stays in the box
    assert texts(at.error) == ["Learning rate: 'abc' is not a number; type e.g. 0.001"]
    assert Store(workspace.db_path).count() == 0 and "run" not in at.query_params
    # the summary shows the network typed (64, 32), not the preset's 255: 784*64+64 + 64*32+32 + 32*10+10
    assert "**Model summary** · 52,650 parameters (the cap is 30,000,000)" in texts(at.markdown)
    field(at, "learning_rate").set_value("")
    at = start(at)
    assert texts(at.error) == ["Learning rate: the box is empty; type a number, e.g. 0.001"]
    assert Store(workspace.db_path).count() == 0


def test_the_summary_says_it_waits_while_a_layer_field_is_bad(workspace, no_workers):
    at = page()
    field(at, "dense").set_value("64, x")
    at = next(b for b in at.button if b.label == "Update the summary").click().run()
    assert not at.get("arrow_data_frame") and not any("parameters" in m for m in texts(at.markdown))
    assert texts(at.info)[0].startswith("The summary shows your network once the layer fields are fixed")


def test_a_big_cnn_never_run_gets_a_rough_epoch_time(workspace, no_workers):
    at = page()
    at.selectbox(key="train_choice").set_value("custom").run()
    at.radio[0].set_value("cnn").run()
    field(at, "conv", "custom", "cnn").set_value("512x3\n512x3\n512x3, pool 2")
    at = next(b for b in at.button if b.label == "Update the summary").click().run()
    (caption,) = [c for c in texts(at.caption) if c.startswith("Expected time per epoch")]
    assert caption.startswith("Expected time per epoch: roughly ") and "rough guess" in caption


def test_a_queued_run_says_it_waits_and_a_stopped_one_does_not_wait_for_an_epoch(workspace, no_workers):
    store = Store(workspace.db_path)
    _first, second = (store.create_run(presets.config_for("mlp1")) for _ in range(2))
    at = page(run=second)
    assert at.get("progress")[0].proto.text == "Queued · waiting for a free training slot, #2 in line"
    store.mark_stopped(second, "removed from the queue")
    at = page(run=second)
    notes = [a["text"] for a in json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["annotations"]]
    assert "No epoch was completed." in notes and "Waiting for the first epoch…" not in notes
