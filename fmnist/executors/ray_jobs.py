"""Each run is one Ray Job on a cluster: `python -m fmnist.worker RUN_ID`, submitted to the head's job server.

Why a Job, not a task or an actor: a task or an actor belongs to the driver that created it and dies
with it, so a restart of the app server would kill every run; a Job belongs to the cluster and keeps
running, and its submission id (the handle kept in the store) finds it again from a new server. A
Job also brings what the supervisor needs without any code of ours on the nodes: a status (PENDING,
RUNNING, SUCCEEDED, FAILED with the entrypoint's exit code and a message, STOPPED), `stop_job`
(SIGTERM to the worker's process group, SIGKILL a few seconds later) and the captured output. The
worker itself is the same program as with the local executor: it reads and writes the store named by
FMNIST_DATABASE_URL (PostgreSQL once more than one machine takes part: SQLite's WAL needs one local disk).

Address: FMNIST_RAY_ADDRESS takes what `ray start --head` prints, the GCS's host:port; the job server's
HTTP address is read from the GCS, as `ray job submit --address host:port` does. An http(s):// address
(the dashboard, e.g. http://head:8265) is used as it is, and ray:// (Ray Client) is passed to Ray. Ray's
own rule holds too: RAY_API_SERVER_ADDRESS or RAY_ADDRESS, when set, win over the address given.

Code and settings: the lab's own package travels with each job (runtime_env py_modules, uploaded once
per version of its files), so every node runs the app server's code; a node needs only the Python
packages of requirements.txt and the dataset. The app's FMNIST_* settings travel as env_vars.

Resources: a network (mlp, cnn, resnet) or a forest reserves the worker's thread budget in CPUs
(FMNIST_THREADS_PER_RUN, which the worker gives TensorFlow and scikit-learn; at most the largest node's
count, or it could never be placed), so Ray packs a node as full as the local executor's slots would.
A cnn or resnet asks for one GPU and one CPU instead, but only while some live node of the cluster
has a GPU (asked of the head's state API, remembered for GPU_CHECK_S): a GPU node joining for a term
then takes the convolutional runs, and a CPU-only cluster still runs them instead of leaving them
PENDING for ever. The majority baseline takes one CPU. `capacity()` says how many runs the cluster
can hold at once, so that the supervisor claims no more than Ray can start (a PENDING job beats no
heartbeat)."""
from __future__ import annotations

import logging
import os
import secrets
import shlex
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fmnist.config import KERAS_KINDS
from fmnist.executors import Liveness

log = logging.getLogger("fmnist.executors.ray")

GPU_KINDS = ("cnn", "resnet")  # worth a GPU; a small MLP gains little from one
GPU_CHECK_S = 30   # how long the cluster's GPU count is trusted: nodes come and go
CONNECT_TIMEOUT_S = 3
LOG_TAIL_CHARS = 20_000
SHELL_SIGNAL = 128  # a shell's exit status for a child killed by signal N is 128 + N
AGENT_WAIT_S = 30  # a freshly started head answers "no available agent, try again later" for some seconds
RAY_INSTALL = 'python -m pip install "ray[default]"'
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # fmnist/
# Settings that mean the same on every node; FMNIST_HOME and FMNIST_DATABASE_URL are set explicitly.
FORWARDED_PREFIX = "FMNIST_"


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached; the message says what to do."""


@dataclass(frozen=True)
class Cluster:
    gpus: float
    max_node_cpus: float


def resources_for(kind: str, cluster: Cluster, threads: int = 2) -> dict[str, float]:
    """submit_job's entrypoint_num_cpus / entrypoint_num_gpus for a run of this model kind.

    `threads` is the worker's thread budget (FMNIST_THREADS_PER_RUN): what a CPU fit really uses."""
    if kind in GPU_KINDS and cluster.gpus >= 1:
        return {"entrypoint_num_cpus": 1, "entrypoint_num_gpus": 1}
    if kind in KERAS_KINDS or kind == "forest":
        return {"entrypoint_num_cpus": max(1, min(threads, int(cluster.max_node_cpus or 1))),
                "entrypoint_num_gpus": 0}
    return {"entrypoint_num_cpus": 1, "entrypoint_num_gpus": 0}


def entrypoint(run_id: int) -> str:
    """`python` on a node's PATH: Ray puts the interpreter that runs the node's raylet first."""
    return shlex.join(["python", "-m", "fmnist.worker", str(int(run_id))])


def submission_id(run_id: int) -> str:
    """Unique even when a run is started twice (a retry, a second cluster): Ray refuses a reused id."""
    return f"fmnist-run-{run_id}-{secrets.token_hex(4)}"


def _split_host_port(address: str) -> tuple[str, int] | None:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


def _reachable(host: str, port: int) -> str | None:
    """None when something listens there, else why not (Ray itself would retry for 40 s before saying)."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return None
    except OSError as exc:
        return exc.strerror or exc.__class__.__name__


def _one_line(text: str | None) -> str:
    first = (text or "").strip().splitlines()
    return first[0].rstrip(",:") if first else ""


def ended_reason(status: str, message: str | None, exit_code: int | None) -> str:
    """A user's words for why a Ray job that is no longer running ended (the local executor's words where
    they mean the same; the job's id is the run's handle, beside it in the store)."""
    if status == "STOPPED":
        return "worker stopped through Ray (ray job stop)"
    if status == "SUCCEEDED":
        return "worker exited without ending its run"
    if exit_code is not None and exit_code < 0:
        return f"worker died: signal {-exit_code}"
    if exit_code is not None and SHELL_SIGNAL < exit_code < SHELL_SIGNAL + 32:  # Ray's shell reports 128 + N
        return f"worker died: signal {exit_code - SHELL_SIGNAL}"
    if exit_code is not None:
        return f"worker died: exit code {exit_code}"
    return f"worker died: {_one_line(message) or 'its Ray job failed'}"


class RayExecutor:
    name = "ray"

    def __init__(self, settings, kind_of: Callable[[int], str] | None = None):
        """`kind_of(run_id)` gives a run's model kind (default: read from the store)."""
        self.settings = settings
        self.address = (getattr(settings, "ray_address", None) or "").strip()
        self._kind_of = kind_of or _store_kind_reader(settings)
        self._lock = threading.Lock()
        self._client = None
        self._cluster: tuple[float, Cluster] | None = None

    # ------------------------------------------------------------------ connection

    def client(self):
        """The JobSubmissionClient, made on first use (one for every thread: each call is its own request)."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError:
            raise RayUnavailable(f"FMNIST_EXECUTOR=ray needs Ray's job API on this machine: {RAY_INSTALL}") from None
        address = self.address
        if not address:
            raise RayUnavailable("FMNIST_EXECUTOR=ray needs FMNIST_RAY_ADDRESS: the host:port that "
                                 "`ray start --head` prints (or the dashboard's http://host:8265).")
        self._check_reachable(address)
        try:
            return JobSubmissionClient(address)
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RpcError, ValueError: one meaning here
            raise RayUnavailable(f"The Ray cluster at {address} (FMNIST_RAY_ADDRESS) does not answer: "
                                 f"{_one_line(str(exc))}. Start it with `ray start --head`, "
                                 "or fix the address.") from exc

    @staticmethod
    def _check_reachable(address: str) -> None:
        bare = address.split("://", 1)[-1].split("/", 1)[0]
        hp = _split_host_port(bare)
        if "://" not in address and hp is None and address != "auto":
            raise RayUnavailable(f"FMNIST_RAY_ADDRESS={address!r} is not host:port (what `ray start --head` "
                                 "prints, e.g. 10.0.0.5:6379) nor an http:// dashboard address.")
        if hp is None:
            return
        why = _reachable(*hp)
        if why:
            raise RayUnavailable(f"The Ray cluster at {address} (FMNIST_RAY_ADDRESS) cannot be reached ({why}). "
                                 f"Start its head there with `ray start --head --port {hp[1]}`, or fix the address.")

    def _forget_client(self) -> None:
        with self._lock:
            self._client = None

    def cluster(self) -> Cluster:
        """GPUs and the largest node's CPUs of the live nodes, asked of the head every GPU_CHECK_S at most."""
        now = time.monotonic()
        with self._lock:
            if self._cluster and now - self._cluster[0] < GPU_CHECK_S:
                return self._cluster[1]
        from ray.util.state import list_nodes
        try:
            nodes = list_nodes(address=self.client().get_address(), filters=[("state", "=", "ALIVE")], timeout=10)
            found = Cluster(gpus=sum(n.resources_total.get("GPU", 0) for n in nodes),
                            max_node_cpus=max((n.resources_total.get("CPU", 0) for n in nodes), default=0))
        except Exception as exc:  # noqa: BLE001 - without the state API, ask for no GPU: never stuck PENDING
            log.warning("cannot list the Ray cluster's nodes (%s); asking for CPUs only", exc)
            found = Cluster(gpus=0, max_node_cpus=1)
        with self._lock:
            self._cluster = (now, found)
        return found

    def capacity(self) -> int:
        """How many CPU runs the live nodes hold at once (each reserves the thread budget), at least 1."""
        from ray.util.state import list_nodes
        try:
            nodes = list_nodes(address=self.client().get_address(), filters=[("state", "=", "ALIVE")], timeout=10)
        except Exception as exc:  # noqa: BLE001
            raise RayUnavailable(f"cannot list the Ray cluster's nodes: {_one_line(str(exc))}") from exc
        per_run = max(1, self.settings.threads_per_run)
        return max(1, sum(max(1, int(n.resources_total.get("CPU", 0)) // per_run) for n in nodes
                          if n.resources_total.get("CPU", 0) >= 1))

    # ------------------------------------------------------------------ the Executor protocol

    def start(self, run_id: int) -> str:
        client = self.client()
        handle = submission_id(run_id)
        kind = self._kind_of(run_id)
        job = dict(entrypoint=entrypoint(run_id), submission_id=handle, runtime_env=self.runtime_env(),
                   metadata={"fmnist_run": str(run_id), "kind": kind},
                   **resources_for(kind, self.cluster(), self.settings.threads_per_run))
        deadline = time.monotonic() + AGENT_WAIT_S
        while True:
            try:
                client.submit_job(**job)
                break
            except (OSError, RuntimeError) as exc:
                if "try again later" in str(exc) and time.monotonic() < deadline:
                    time.sleep(1)  # a head that has just started: its job agent is not up yet
                    continue
                self._forget_client()
                raise RayUnavailable(f"Ray did not take run {run_id} ({self.address}): {_one_line(str(exc))}") from exc
        log.info("run %s submitted to Ray as %s", run_id, handle)
        return handle

    def runtime_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIX)}
        env["FMNIST_HOME"] = str(self.settings.home)
        env["FMNIST_THREADS_PER_RUN"] = str(self.settings.threads_per_run)  # what resources_for reserved
        url = getattr(self.settings, "database_url", None)
        if url:
            env["FMNIST_DATABASE_URL"] = url
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        env["PYTHONUNBUFFERED"] = "1"  # the log reads live
        # __pycache__ changes whenever anything imports the package; leaving it out keeps one upload a version
        return {"py_modules": [str(PACKAGE_DIR)], "excludes": ["__pycache__", "*.pyc"], "env_vars": env}

    def liveness(self, handle: str) -> Liveness:
        try:
            info = self.client().get_job_info(handle)
        except RayUnavailable as exc:
            log.warning("liveness of %s unknown: %s", handle, exc)
            return Liveness(alive=True)  # unknown; a run whose work is gone stops beating and is reaped anyway
        except RuntimeError as exc:  # the job server's 404
            if "does not exist" in str(exc):
                return Liveness(False, f"worker gone: Ray has no job {handle} (was the cluster restarted?)")
            log.warning("liveness of %s unknown: %s", handle, exc)
            return Liveness(alive=True)
        except OSError as exc:
            self._forget_client()
            log.warning("liveness of %s unknown: the Ray cluster does not answer (%s)", handle, exc)
            return Liveness(alive=True)
        status = str(getattr(info.status, "value", info.status))
        if status in ("PENDING", "RUNNING"):
            return Liveness(alive=True, pending=status == "PENDING")
        return Liveness(False, ended_reason(status, info.message, info.driver_exit_code))

    def cancel(self, handle: str) -> None:
        try:
            self.client().stop_job(handle)
        except RuntimeError as exc:
            if "does not exist" not in str(exc):
                raise RayUnavailable(f"Ray could not stop {handle}: {_one_line(str(exc))}") from exc
        except OSError as exc:
            self._forget_client()
            raise RayUnavailable(f"Ray could not stop {handle}: the cluster does not answer ({exc})") from exc

    def log(self, handle: str, run_id: int) -> str:
        try:
            text = self.client().get_job_logs(handle)
        except RayUnavailable as exc:
            return f"The log of run {run_id} is on the Ray cluster, which cannot be reached now: {exc}"
        except (OSError, RuntimeError) as exc:
            if "does not exist" in str(exc):
                return f"Ray no longer has the log of run {run_id} ({handle}): the cluster was restarted."
            return f"The log of run {run_id} could not be read from Ray: {_one_line(str(exc))}"
        return text[-LOG_TAIL_CHARS:]


def _store_kind_reader(settings) -> Callable[[int], str]:
    """run id -> its model kind (runs.kind), through one store opened on first use and kept (it pools)."""
    opened = []
    lock = threading.Lock()

    def kind_of(run_id: int) -> str:
        from fmnist.store import Store
        with lock:
            if not opened:
                opened.append(Store.open(settings, create=False))
        run = opened[0].get(run_id)
        if run is None:
            raise KeyError(f"There is no run {run_id}.")
        return run.kind
    return kind_of
