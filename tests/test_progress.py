"""fmnist.progress: epoch-time estimates, progress and ETA, checked against arithmetic done by hand."""
from __future__ import annotations

from dataclasses import replace

import pytest

from fmnist import layer_table, presets, progress
from fmnist.config import ConvBlock
from tests.playing import start_by_hand

NOW = 1_000_000.0


def epoch(n, seconds, val=0.5):
    return {"epoch": n, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": val, "seconds": seconds}


def ended_run(store, config, seconds, status="finished"):
    """A run that went through the worker's states, with one epoch row per entry of `seconds`."""
    run_id = store.create_run(config)
    start_by_hand(store, run_id, pid=1, proc_start=None)
    for n, s in enumerate(seconds, 1):
        store.add_epoch(run_id, n, epoch(n, s))
    if status == "finished":
        store.finish(run_id, {"epochs": len(seconds)})
    else:
        store.mark_stopped(run_id, "stopped by request")
    return run_id


def test_duration_text():
    assert [progress.duration(s) for s in (0, 42.4, 60, 185, 3599, 3720, 7322)] == \
        ["0 s", "42 s", "1 min 00 s", "3 min 05 s", "59 min 59 s", "1 h 02 min", "2 h 02 min"]
    assert [progress.about(s) for s in (0.2, 0.6, 185)] == ["under a second", "about 1 s", "about 3 min 05 s"]


def test_scaling_counts_the_validation_pass():
    # 42,000 train + 18,000/3 validation = 48,000 units; 300 + 6,000 = 6,300 units.
    assert progress.scale_epoch_seconds(48.0, None, 300) == pytest.approx(48.0 * 6_300 / 48_000)
    assert progress.scale_epoch_seconds(6.3, 300, None) == pytest.approx(48.0)


def test_estimate_from_earlier_runs_of_the_same_model(store):
    full = presets.config_for("mlp1")
    ended_run(store, full, [30.0, 20.0, 22.0])                  # after the first: median 21 s on 42,000 images
    ended_run(store, full.with_(subset=1000), [9.0, 3.5], "stopped")  # after the first: 3.5 s on 1,000 images
    ended_run(store, full.with_(batch_size=32), [99.0])          # another batch size: ignored
    ended_run(store, presets.config_for("mlp3"), [77.0])         # another model: ignored
    ended_run(store, full.with_(precision="bfloat16"), [5.0])   # another precision: ignored
    wanted = full.with_(subset=300, epochs=2)
    by_hand = [21.0 * 6_300 / 48_000, 3.5 * 6_300 / 7_000]
    assert progress.epoch_seconds_estimate(wanted, store) == pytest.approx(sum(by_hand) / 2)


def test_no_estimate_without_history_or_for_baselines(store):
    assert progress.epoch_seconds_estimate(presets.config_for("mlp1"), store) is None
    ended_run(store, presets.config_for("forest"), [37.0])
    assert progress.epoch_seconds_estimate(presets.config_for("forest"), store) is None


def test_progress_of_a_running_run(run_factory):
    run = replace(run_factory("mlp1", epochs=10), status="running", started_at=NOW - 100)
    rows = [epoch(1, 30.0), epoch(2, 12.0), epoch(3, 11.0), epoch(4, 13.0)]  # the first also built the graph
    p = progress.progress(run, rows, now=NOW)
    assert (p.done, p.total, p.elapsed, p.remaining) == (4, 10, 100, 12.0 * 6)
    assert p.fraction == pytest.approx(0.4)
    assert p.text() == "Running · Epoch 4 of 10 · 1 min 40 s elapsed · about 1 min 12 s left"
    assert progress.progress(run, rows[:1], now=NOW).remaining == 30.0 * 9  # one epoch: all there is


def test_progress_before_the_first_epoch(run_factory):
    run = replace(run_factory("mlp3_reg", epochs=40), status="running", started_at=NOW - 5)
    assert progress.progress(run, [], now=NOW).text() == \
        "Running · Epoch 0 of 40 · 5 s elapsed · time left unknown until the first epoch"
    guessed = progress.progress(run, [], estimate=30.0, now=NOW)
    assert guessed.remaining == 1200.0  # the start-up (TensorFlow, data, graph) is not counted down
    assert guessed.text() == \
        "Running · Epoch 0 of 40 · 5 s elapsed · about 20 min 00 s for 40 epochs after start-up at most"  # early stop
    rough = progress.progress(run, [], estimate=30.0, now=NOW, rough=True)
    assert rough.text() == \
        "Running · Epoch 0 of 40 · 5 s elapsed · roughly 20 min 00 s for 40 epochs after start-up at most"


def test_the_time_left_counts_down_between_epochs(run_factory):
    run = replace(run_factory("mlp1", epochs=6), status="running", started_at=NOW - 60)
    rows = [epoch(1, 12.0), {**epoch(2, 10.0), "ended_at": NOW}]  # steady: 10 s an epoch, 4 epochs to go
    left = [progress.progress(run, rows, now=NOW + t).remaining for t in (0, 3, 9, 25)]
    assert left == [40.0, 37.0, 31.0, 30.0]  # an epoch running late stops the count at the epochs still to go
    rows[-1]["ended_at"] = NOW - 4  # counted from when the row was written, not from when a page saw it
    assert progress.progress(run, rows, now=NOW).remaining == 36.0
    five = [{**epoch(n, 10.0), "ended_at": NOW} for n in range(1, 6)]
    assert progress.progress(replace(run, epochs=6), five, now=NOW + 9.8).text().endswith("under a second left")


def test_a_demo_pace_is_the_least_an_epoch_takes(run_factory):
    paced = replace(run_factory("mlp1", epochs=6, pace_s=5.0), status="running", started_at=NOW - 60)
    fast = [epoch(1, 1.2), {**epoch(2, 1.0), "ended_at": NOW}]  # the epochs themselves take a second
    assert progress.progress(paced, fast, now=NOW + 2).remaining == 5.0 * 4 - 2
    assert progress.progress(paced, [], estimate=0.5, now=NOW).remaining == 5.0 * 6


def test_a_queued_run_says_where_it_waits_not_a_time(run_factory):
    first, second = run_factory("mlp1"), run_factory("cnn2", epochs=10)
    p = progress.progress(second, [], estimate=4.0, now=NOW, position=progress.queue_position(second, [first, second]))
    assert (p.remaining, p.text()) == (None, "Queued · waiting for a free training slot, #2 in line")
    assert progress.queue_position(replace(second, status="running"), [first]) is None


def test_a_rough_guess_for_a_model_never_run_scales_with_its_arithmetic(store):
    big = presets.config_for("cnn2").with_(model=replace(presets.config_for("cnn2").model, conv=(
        ConvBlock(512, 3, 0), ConvBlock(512, 3, 0), ConvBlock(512, 3, 2))), subset=1000)
    assert progress.epoch_seconds_estimate(big, store) is None
    macs = layer_table.multiply_adds(big)
    by_hand = 3 * macs * (1000 + 6000) / progress.DEFAULT_MACS_PER_S["float32"]
    guess = progress.expected_epoch(big, store)
    assert guess.rough and guess.seconds == pytest.approx(by_hand)
    assert guess.text().startswith(f"Expected time per epoch: roughly {progress.duration(by_hand)}, a rough guess")
    # a conv run measured here sets the speed: 2 s an epoch on 300 images
    ended_run(store, presets.config_for("cnn1", subset=300), [5.0, 2.0])
    rate = 3 * layer_table.multiply_adds(presets.config_for("cnn1")) * (300 + 6000) / 2.0
    assert progress.rough_epoch_seconds(big, store) == pytest.approx(3 * macs * 7000 / rate)
    # a run in another precision computes at another speed: it sets nothing for float32
    ended_run(store, presets.config_for("cnn2", subset=300, precision="bfloat16"), [5.0, 0.1])
    assert progress.rough_epoch_seconds(big, store) == pytest.approx(3 * macs * 7000 / rate)


def test_a_rough_guess_in_bfloat16_uses_its_own_default_speed_and_auto_asks_the_cpu(store, monkeypatch):
    from fmnist import system
    config = presets.config_for("lab_best")
    macs = layer_table.multiply_adds(config)
    rate = progress.DEFAULT_MACS_PER_S
    assert progress.rough_epoch_seconds(config.with_(precision="bfloat16"), store) == pytest.approx(
        3 * macs * 48_000 / rate["bfloat16"])
    for amx, precision in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(system, "cpu_flags", lambda amx=amx: frozenset({"amx_bf16"} if amx else {"avx2"}))
        assert progress.rough_epoch_seconds(config.with_(precision="auto"), store) == pytest.approx(
            3 * macs * 48_000 / rate[precision])


def test_progress_of_an_ended_run_uses_its_end_time(run_factory):
    run = replace(run_factory("mlp1", epochs=5), status="stopped", started_at=NOW - 50, ended_at=NOW - 20)
    p = progress.progress(run, [epoch(1, 9.0), epoch(2, 9.0)], now=NOW)
    assert (p.elapsed, p.text()) == (30, "Stopped · Epoch 2 of 5 · 30 s elapsed")


def test_a_stopped_run_without_epochs_does_not_wait_for_one(run_factory):
    run = replace(run_factory("mlp1"), status="stopped")
    (note,) = [a.text for a in progress.curves(run, []).layout.annotations if "epoch" in a.text.lower()]
    assert note == "No epoch was completed."
    waiting = progress.curves(replace(run, status="running"), []).layout.annotations
    assert [(a.x, a.xanchor) for a in waiting if a.text == "Waiting for the first epoch…"] == [
        (pytest.approx(0.225), "center")]  # the middle of the accuracy panel, clear of the loss axis title


def test_curve_marks(run_factory):
    rows = [epoch(1, 1, 0.7), epoch(2, 1, 0.8), epoch(3, 1, 0.75)]
    running = replace(run_factory("mlp1"), status="running")
    assert progress.curve_marks(running, rows) == (2, None)
    stopped_early = replace(running, status="finished", best_epoch=2, epochs=3, stopped_early=1)
    assert progress.curve_marks(stopped_early, rows) == (2, 3)


def test_queue_rows_put_running_first_and_number_the_waiting(run_factory):
    waiting_a = replace(run_factory("mlp1", user="ana"), created_at=NOW - 30)
    waiting_b = replace(run_factory("cnn2", user=""), created_at=NOW - 10)
    running = replace(run_factory("mlp3", user="bo", epochs=100), status="running", started_at=NOW - 125,
                      epochs=4, stop_requested_at=NOW - 1)
    rows = progress.queue_rows([running, waiting_a, waiting_b], now=NOW)
    assert [(r["id"], r["label"], r["user"], r["state"], r["for"], r["stopping"]) for r in rows] == [
        (running.id, f"#{running.id} 3 hidden layers", "bo", "running, epoch 4 of 100", "2 min 05 s", True),
        (waiting_a.id, f"#{waiting_a.id} Single hidden layer", "ana", "waiting, #1 in line", "30 s", False),
        (waiting_b.id, f"#{waiting_b.id} Multi CNN", "(no name)", "waiting, #2 in line", "10 s", False)]


def test_verdicts_of_ended_runs(run_factory):
    run = run_factory("mlp1")
    assert progress.verdict(run) is None
    assert progress.verdict(replace(run, status="failed", error="worker died: signal 9")) == \
        ("error", "This run failed: worker died: signal 9")
    assert progress.verdict(replace(run, status="stopped", error="removed from the queue")) == \
        ("info", "Stopped: removed from the queue")
    assert progress.verdict(replace(run, status="finished", epochs=2, train_acc=0.91234, val_acc=0.88)) == \
        ("success", "Finished after 2 epochs: train 0.9123 · validation 0.8800")


def test_selected_run_from_the_url(store, run_factory):
    run = run_factory("mlp1")
    assert progress.selected_run(str(run.id), store) == (run, None)
    assert progress.selected_run("", store) == (None, None)
    assert progress.selected_run("abc", store) == (None, "There is no run 'abc'. Choose one from the list below.")
    assert progress.selected_run("99", store)[1] == "There is no run '99'. Choose one from the list below."
    for odd in ("²", "9" * 25, "-1", "1.0"):  # a digit int() refuses, an id too large for SQLite, signs, decimals
        assert progress.selected_run(odd, store) == (None, f"There is no run '{odd}'. Choose one from the list below.")


def test_a_time_budget_caps_the_time_left(run_factory):
    budgeted = replace(run_factory("mlp1", epochs=100, minutes=1.0), status="running", started_at=NOW - 40)
    rows = [epoch(1, 12.0), epoch(2, 10.0), {**epoch(3, 10.0), "ended_at": NOW - 4}]
    p = progress.progress(budgeted, rows, now=NOW)
    # 97 epochs at 10 s would take 970 s; the budget has 60 - 32 - 4 s left
    assert (p.remaining, p.upper_bound) == (24.0, True)
    assert p.text() == "Running · Epoch 3 of 100 · 1-minute budget · 40 s elapsed · about 24 s left at most"
    ended = progress.progress(replace(budgeted, status="finished", ended_at=NOW), rows, now=NOW)
    assert (ended.fraction, ended.text()) == (1.0, "Finished · Epoch 3 of 100 · ended by its 1-minute budget · "
                                                   "40 s elapsed")
    spent = [epoch(1, 30.0), {**epoch(2, 31.0), "ended_at": NOW}]
    assert progress.progress(budgeted, spent, now=NOW).remaining == 0.0
    plain = replace(budgeted, config=budgeted.run_config().with_(minutes=None).to_json())
    assert progress.progress(plain, rows, now=NOW).remaining == 10.0 * 97 - 4
