"""The Ray executor against a real local Ray head (tests/servers.py): start, liveness, reasons, cancel, log.

The jobs here run a tiny shell command in place of the worker (ray_jobs.entrypoint is swapped), so what
is checked is the executor and Ray, not a training; tests/test_run_lifecycle.py runs real workers."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from fmnist import settings as settings_mod
from fmnist.executors import for_settings, ray_jobs
from fmnist.executors.ray_jobs import (
    Cluster,
    RayExecutor,
    RayUnavailable,
    ended_reason,
    resources_for,
)
from tests import waiting
from tests.servers import free_port


def wait_for(predicate, timeout=120.0, every=0.2):
    return waiting.wait_for(predicate, timeout, every)




def ray_settings(monkeypatch, tmp_path, address: str | None, **env):
    monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FMNIST_EXECUTOR", "ray")
    if address is None:
        monkeypatch.delenv("FMNIST_RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("FMNIST_RAY_ADDRESS", address)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    return settings_mod.load()


# ---------------------------------------------------------------- without a cluster

def test_a_gpu_is_asked_for_only_by_convolutional_runs_and_only_when_the_cluster_has_one():
    cpu_only, with_gpu = Cluster(gpus=0, max_node_cpus=8), Cluster(gpus=2, max_node_cpus=8)
    assert resources_for("cnn", with_gpu) == {"entrypoint_num_cpus": 1, "entrypoint_num_gpus": 1}
    assert resources_for("resnet", with_gpu)["entrypoint_num_gpus"] == 1
    assert resources_for("cnn", cpu_only, threads=4) == {"entrypoint_num_cpus": 4, "entrypoint_num_gpus": 0}
    assert resources_for("mlp", with_gpu, threads=2) == {"entrypoint_num_cpus": 2, "entrypoint_num_gpus": 0}
    assert resources_for("majority", with_gpu) == {"entrypoint_num_cpus": 1, "entrypoint_num_gpus": 0}
    # never more CPUs than the largest node has: such a job would stay PENDING for ever
    assert resources_for("mlp", Cluster(gpus=0, max_node_cpus=2), threads=4)["entrypoint_num_cpus"] == 2


def test_the_reasons_read_like_the_local_executors():
    assert ended_reason("FAILED", "Job entrypoint command failed with exit code -9, last ...", -9) == \
        "worker died: signal 9"
    failed = "Job entrypoint command failed with exit code 3, ..."
    assert ended_reason("FAILED", failed, 3) == "worker died: exit code 3"
    assert ended_reason("FAILED", "Job entrypoint command failed with exit code 137, ...", 137) == \
        "worker died: signal 9"  # the entrypoint's shell outlived the worker it ran
    stopped = ended_reason("STOPPED", "Job was intentionally stopped.", None)
    assert stopped == "worker stopped through Ray (ray job stop)"
    assert ended_reason("FAILED", "Job supervisor actor died.\nmore", None) == "worker died: Job supervisor actor died."
    assert ended_reason("SUCCEEDED", "Job finished successfully.", 0) == "worker exited without ending its run"


def test_handles_are_unique_and_name_the_run():
    first, second = ray_jobs.submission_id(7), ray_jobs.submission_id(7)
    assert first != second and first.startswith("fmnist-run-7-") and second.startswith("fmnist-run-7-")


def test_for_settings_picks_ray(monkeypatch, tmp_path):
    assert isinstance(for_settings(ray_settings(monkeypatch, tmp_path, "127.0.0.1:1")), RayExecutor)


def test_no_address_says_what_to_set(monkeypatch, tmp_path):
    ex = RayExecutor(ray_settings(monkeypatch, tmp_path, None), kind_of=lambda _: "mlp")
    with pytest.raises(RayUnavailable, match="needs FMNIST_RAY_ADDRESS: the host:port that `ray start --head` prints"):
        ex.start(1)


def test_a_malformed_address_is_named(monkeypatch, tmp_path):
    ex = RayExecutor(ray_settings(monkeypatch, tmp_path, "head-without-port"), kind_of=lambda _: "mlp")
    with pytest.raises(RayUnavailable, match="'head-without-port' is not host:port"):
        ex.start(1)


def test_an_unreachable_cluster_is_reported_at_once_with_what_to_do(monkeypatch, tmp_path):
    port = free_port()  # free a moment ago: nothing listens there
    ex = RayExecutor(ray_settings(monkeypatch, tmp_path, f"127.0.0.1:{port}"), kind_of=lambda _: "mlp")
    with pytest.raises(RayUnavailable) as info:
        ex.start(1)
    assert f"The Ray cluster at 127.0.0.1:{port} (FMNIST_RAY_ADDRESS) cannot be reached" in str(info.value)
    assert f"ray start --head --port {port}" in str(info.value)
    # the supervisor's questions do not fail on it: the run's heartbeat decides, and the log says why
    assert ex.liveness("fmnist-run-1-abcd").alive is True
    assert "cannot be reached now" in ex.log("fmnist-run-1-abcd", 1)


def test_without_ray_installed_the_message_says_how_to_install(monkeypatch, tmp_path):
    import builtins
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    ex = RayExecutor(ray_settings(monkeypatch, tmp_path, f"127.0.0.1:{free_port()}"), kind_of=lambda _: "mlp")
    wanted = r'needs Ray\'s job API on this machine: python -m pip install "ray\[default\]"'
    with pytest.raises(RayUnavailable, match=wanted):
        ex.start(1)


# ---------------------------------------------------------------- against the real head

@pytest.fixture
def executor(ray_head, monkeypatch, tmp_path):
    """A RayExecutor on the session's head; every run is an 'mlp', the command is `COMMAND` below."""
    s = ray_settings(monkeypatch, tmp_path, ray_head.address, FMNIST_THREADS_PER_RUN=1,
                     FMNIST_DATABASE_URL="postgresql+psycopg://lab@db.example:5432/fmnist")
    commands: dict[int, str] = {}
    monkeypatch.setattr(ray_jobs, "entrypoint", lambda run_id: commands[run_id])
    ex = RayExecutor(s, kind_of=lambda _: "mlp")
    ex.commands = commands
    return ex


def status(ex, handle):
    return ex.client().get_job_status(handle)


def test_a_job_runs_is_alive_and_its_log_and_reason_come_from_ray(executor):
    executor.commands[11] = "echo hello from run 11; sleep 3; echo bye"
    handle = executor.start(11)
    assert handle.startswith("fmnist-run-11-")
    assert executor.liveness(handle).alive is True  # PENDING or RUNNING
    wait_for(lambda: status(executor, handle) == "RUNNING")
    assert executor.liveness(handle).alive is True
    wait_for(lambda: "hello from run 11" in executor.log(handle, 11))
    ended = wait_for(lambda: (lv := executor.liveness(handle)) and not lv.alive and lv)
    assert ended.reason == "worker exited without ending its run"  # a real worker ends its run first
    assert "bye" in executor.log(handle, 11)


def test_cancel_stops_the_job_through_ray(executor):
    executor.commands[12] = "echo started; sleep 300"
    handle = executor.start(12)
    wait_for(lambda: "started" in executor.log(handle, 12))
    executor.cancel(handle)
    ended = wait_for(lambda: (lv := executor.liveness(handle)) and not lv.alive and lv, timeout=60)
    assert ended.reason == "worker stopped through Ray (ray job stop)"
    executor.cancel(handle)  # cancelling what has ended is harmless
    assert status(executor, handle) == "STOPPED"


def test_an_exit_code_and_a_sigkill_are_the_reason(executor, tmp_path):
    pid_file = tmp_path / "pid"
    executor.commands[13] = "echo failing; exit 3"
    executor.commands[14] = f"echo $$ > {pid_file}; exec sleep 300"
    failing, victim = executor.start(13), executor.start(14)
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip())
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert wait_for(lambda: (lv := executor.liveness(victim)) and not lv.alive and lv).reason == "worker died: signal 9"
    assert wait_for(lambda: (lv := executor.liveness(failing)) and not lv.alive and lv).reason == \
        "worker died: exit code 3"
    assert "failing" in executor.log(failing, 13)


def test_a_new_executor_finds_a_job_by_its_handle(executor, ray_head, monkeypatch, tmp_path):
    """A restart of the app server: a fresh executor (fresh client) sees the job the old one started."""
    executor.commands[15] = "echo survivor; sleep 300"
    handle = executor.start(15)
    restarted = RayExecutor(settings_mod.load(), kind_of=lambda _: "mlp")
    wait_for(lambda: "survivor" in restarted.log(handle, 15))
    assert restarted.liveness(handle).alive is True
    restarted.cancel(handle)
    assert wait_for(lambda: not executor.liveness(handle).alive)


def test_a_handle_ray_does_not_know_is_dead_with_a_reason(executor):
    gone = executor.liveness("fmnist-run-99-00000000")
    assert gone.alive is False and gone.reason == \
        "worker gone: Ray has no job fmnist-run-99-00000000 (was the cluster restarted?)"
    assert "Ray no longer has the log of run 99" in executor.log("fmnist-run-99-00000000", 99)


def test_the_job_gets_the_labs_code_and_settings(executor, tmp_path):
    executor.commands[16] = ("python -c 'import fmnist, os; print(\"code:\", fmnist.__file__); "
                             "[print(k + \"=\" + v) for k, v in sorted(os.environ.items()) "
                             "if k.startswith(\"FMNIST_\")]'")
    handle = executor.start(16)
    wait_for(lambda: not executor.liveness(handle).alive)
    text = executor.log(handle, 16)
    assert f"FMNIST_HOME={tmp_path / 'home'}" in text
    assert "FMNIST_DATABASE_URL=postgresql+psycopg://lab@db.example:5432/fmnist" in text
    assert "FMNIST_THREADS_PER_RUN=1" in text and "FMNIST_EXECUTOR=ray" in text
    code = next(line for line in text.splitlines() if line.startswith("code:")).split(" ", 1)[1]
    # the head runs jobs outside this checkout: the package came through runtime_env py_modules
    assert not code.startswith(str(Path(ray_jobs.__file__).resolve().parent.parent)) and "_ray_pkg_" in code


def test_the_cluster_is_read_from_the_head(executor):
    assert executor.cluster() == Cluster(gpus=0, max_node_cpus=2)  # the head: --num-cpus 2, --num-gpus 0
    assert executor.capacity() == 2  # FMNIST_THREADS_PER_RUN=1: two runs at once on 2 CPUs
