"""One store under a class: many threads sharing one Store object and several processes with their own,
all writing and reading at once. Zero errors, nothing lost, a clean integrity check."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

from fmnist import jobs, presets
from fmnist.store import QueueFull, Store
from tests.servers import store_on_both  # noqa: F401 - `store`, on SQLite and on PostgreSQL

THREADS = 16
PROCESSES = 3
CYCLES = 6    # submit, poll, stop: each thread's rounds
EPOCHS = 40   # each process's epoch rows, each with a heartbeat

# A process that does what a worker does (epochs and heartbeats on its own run) as fast as it can.
WRITER = """
import sys, time
from fmnist import presets
from fmnist.store import Store
store = Store(sys.argv[1])
run_id = int(sys.argv[2])
for epoch in range(1, int(sys.argv[3]) + 1):
    store.add_epoch(run_id, epoch, {"loss": 1.0 / epoch, "accuracy": 0.5, "seconds": 0.01})
    store.heartbeat(run_id)
print(epoch)
"""


def test_threads_and_processes_hammering_one_store_see_no_error(store, workspace):
    workers = [store.create_run(presets.config_for("mlp1", name=f"worker {i}"), status="running")
               for i in range(PROCESSES)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, store.url, str(run_id), str(EPOCHS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for run_id in workers]
    errors, counts, lock = [], {"submitted": 0, "reads": 0}, threading.Lock()
    started = time.perf_counter()

    def session(i: int) -> None:  # a student's script thread: submits, polls, stops, on the shared Store
        for n in range(1, CYCLES + 1):
            try:
                config = presets.config_for("mlp1", name=f"s{i}-{n}", user=f"student{i}", subset=200)
                run_id = jobs.submit(config, store, workspace)
                jobs.active_runs(store)
                store.epochs(workers[n % PROCESSES])
                store.count_matching(users=(f"student{i}",))
                jobs.stop(run_id, store, workspace)  # queued -> stopped: room for the next one
                with lock:
                    counts["submitted"] += 1
                    counts["reads"] += 3
            except QueueFull:
                pass  # a cap doing its job is not a store error
            except Exception as exc:  # noqa: BLE001 - any other error is the finding
                errors.append(repr(exc))

    threads = [threading.Thread(target=session, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outs = [p.communicate(timeout=60) for p in procs]
    print(f"{counts['submitted']} submits and {counts['reads']} reads from {THREADS} threads, "
          f"{PROCESSES} x {EPOCHS} epochs from processes, in {time.perf_counter() - started:.1f} s")
    assert errors == []
    assert [p.returncode for p in procs] == [0] * PROCESSES, [o[1][-500:] for o in outs]
    assert counts["submitted"] == THREADS * CYCLES  # no submit was lost or refused
    for run_id in workers:
        assert [e["epoch"] for e in store.epochs(run_id)] == list(range(1, EPOCHS + 1))
    assert store.count(statuses=("stopped",)) == counts["submitted"]
    assert store.integrity_ok()


def test_claiming_slots_from_many_threads_never_overfills_them(store):
    for i in range(30):
        store.create_run(presets.config_for("mlp1", name=f"queued {i}"))
    claimed, lock = [], threading.Lock()

    def supervisor_like():
        for _ in range(10):
            ids = store.claim_next(slots=4, executor="local")
            with lock:
                claimed.extend(ids)

    threads = [threading.Thread(target=supervisor_like) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == len(set(claimed)) == 4  # four slots, each run claimed once
    assert store.count(statuses=("running",)) == 4 and store.count(statuses=("queued",)) == 26


def test_a_users_own_cap_overrides_the_default_and_clear_queue_stops_only_the_queue(store, workspace):
    store.set_user_cap("ana", 1)
    jobs.submit(presets.config_for("mlp1", user="ana"), store, workspace)
    try:
        jobs.submit(presets.config_for("mlp1", user="ana", name="second"), store, workspace)
        raise AssertionError("ana's cap of 1 was not applied")
    except QueueFull as exc:
        assert "limit is 1" in str(exc)
    jobs.submit(presets.config_for("mlp1", user="bo"), store, workspace)
    running = store.create_run(presets.config_for("mlp1", user="cy"), status="running")
    assert store.users() == ["ana", "bo", "cy"] and store.user_caps() == {"ana": 1}
    assert store.clear_queue() == 2
    assert store.get(running).status == "running"
    assert {r.error for r in store.runs(statuses=("stopped",))} == {"queue cleared by the instructor"}
    store.set_user_cap("ana", None)
    assert store.user_caps() == {}


def test_a_second_store_object_on_the_same_file_sees_every_write(store):
    other = Store(store.url)
    try:
        run_id = store.create_run(presets.config_for("mlp1"), status="running")
        store.add_epoch(run_id, 1, {"loss": 0.5})
        assert other.epochs(run_id)[0]["loss"] == 0.5
        other.put_artifact(run_id, "ab" * 32, ".keras", b"\x00model bytes")
        assert store.artifact(run_id) == ("ab" * 32, ".keras", b"\x00model bytes")
    finally:
        other.close()
