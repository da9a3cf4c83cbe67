"""Real servers for the tests: a PostgreSQL started from Debian's binaries, a local Ray head, the app itself.

All are started by the tests, in a temporary folder, on free ports, and stopped by what identifies
them (PostgreSQL's postmaster.pid, the Ray head's process group and every process it had started),
never by a name pattern. Where a program is missing the tests that need it skip, saying what to
install; in CI (CI=true) they fail instead, so that a green CI run means they ran."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fmnist.store import Store

PG_INSTALL = "apt-get install postgresql (Debian/Ubuntu), or `python -m fmnist setup --tests`"
RAY_INSTALL = 'python -m pip install "ray[default]" (it is in requirements-test.txt)'
REPO = Path(__file__).resolve().parents[1]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str):
    """Skip, or in CI fail: there these tests must run."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: these tests must run there, not skip)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, ready, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s"
                       + (f" (it exited with {proc.returncode})" if proc and proc.poll() is not None else "")
                       + (f"; its log ends:\n{tail}" if tail else ""))


# --------------------------------------------------------------------------- PostgreSQL

def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL server's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: [int(x) for x in Path(p).parent.parent.name.split(".") if x.isdigit()])
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    bin: Path
    root: Path      # temporary folder owned by the server's user
    port: int
    as_user: list[str] = field(default_factory=list)  # prefix that runs a command as the server's user

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "fmnist") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.as_user, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              cwd=self.root, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
        return done

    def create_database(self, name: str) -> str:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def start(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")  # a throw-away cluster
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        pid = self.pid()
        if self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop",
                     check=False).returncode != 0 and pid:
            try:  # pg_ctl could not stop it: end it by its own pid file
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Postgres:
    """initdb + pg_ctl start in a fresh folder on a free port; the caller stops it. Skips (or fails in CI)."""
    bin_dir = postgres_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        unavailable(f"PostgreSQL's server programs are not installed (no /usr/lib/postgresql/*/bin); {PG_INSTALL}")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable('psycopg is not installed: python -m pip install "psycopg[binary]"')
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))  # under /tmp: pytest's own tmp folders are root-only
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        runuser = shutil.which("runuser")
        if not runuser:
            unavailable("the tests run as root and need runuser (util-linux) to start PostgreSQL as postgres")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    server = Postgres(bin=bin_dir, root=root, port=free_port(), as_user=as_user)
    try:
        server.start()
        server.create_database("fmnist")
    except BaseException:
        server.stop()
        raise
    return server


# --------------------------------------------------------------------------- Ray

@dataclass
class RayHead:
    proc: subprocess.Popen
    root: Path
    port: int
    dashboard_port: int
    started: list = field(default_factory=list)  # psutil.Process of everything the head started

    @property
    def address(self) -> str:
        """What `ray start --head` prints and FMNIST_RAY_ADDRESS takes: the GCS host:port."""
        return f"127.0.0.1:{self.port}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def remember_children(self) -> None:
        """Ray starts some of its processes in sessions of their own; note them, to end them by pid."""
        import psutil
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        known = {p.pid for p in self.started}
        self.started.extend(p for p in kids if p.pid not in known)

    def normal_priority(self) -> None:
        """The jobs the raylet starts from now on inherit this: trainings compete with others fairly."""
        import psutil
        for p in [psutil.Process(self.proc.pid), *self.started]:
            try:
                p.nice(0)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass

    def stop(self) -> None:
        import psutil
        self.remember_children()
        try:  # a throw-away cluster: no graceful shutdown owed (SIGTERM took 17 s)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        for p in self.started:  # the same process (pid and start time), never a name
            try:
                if p.is_running():
                    p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(self.started, timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _warm_up(head: RayHead, log: Path) -> None:
    """One job that must succeed: the job agent is up only some seconds after the dashboard answers."""
    from ray.job_submission import JobSubmissionClient
    client = JobSubmissionClient(head.dashboard)
    job = None

    def done() -> bool:
        nonlocal job
        try:  # "No available agent to submit job, please try again later", or a dropped connection
            if job is None:
                job = client.submit_job(entrypoint="true", entrypoint_num_cpus=0)
            return client.get_job_status(job).is_terminal()
        except (RuntimeError, OSError):
            return False

    _wait("the Ray job agent", done, 120, head.proc, log)
    if client.get_job_status(job) != "SUCCEEDED":
        raise RuntimeError(f"the Ray head's warm-up job ended {client.get_job_status(job)}: "
                           f"{client.get_job_info(job).message}")


def ray_cli() -> str | None:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else shutil.which("ray")


def start_ray_head(num_cpus: int = 2, attempts: int = 3) -> RayHead:
    """`ray start --head --block` in its own process group, on free ports; returns once jobs can be submitted.

    A second attempt follows a failed one: Ray gives its raylet a fixed 30 s to register, which a loaded
    CI machine can miss."""
    for attempt in range(attempts):
        try:
            return _start_ray_head(num_cpus)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _start_ray_head(num_cpus: int) -> RayHead:
    try:
        import ray.job_submission  # noqa: F401
    except ImportError:
        unavailable(f"Ray's job API is not installed; {RAY_INSTALL}")
    cli = ray_cli()
    if cli is None:
        unavailable(f"the `ray` command is not installed; {RAY_INSTALL}")
    root = Path(tempfile.mkdtemp(prefix="fmray-", dir="/tmp"))  # short: Ray's unix sockets live under it
    port, dash = free_port(), free_port()
    # Ray gives its raylet fixed 15-30 s to come up; on a machine loaded with trainings it misses them. A
    # higher priority (root only; elsewhere `nice` just warns) for the start, back to normal once it is up.
    cmd = [shutil.which("nice") or "nice", "-n", "-5", cli, "start", "--head", "--block", f"--num-cpus={num_cpus}", "--num-gpus=0",
           f"--port={port}", f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1",
           "--include-dashboard=true", "--node-ip-address=127.0.0.1", f"--temp-dir={root / 'ray'}",
           f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
           f"--dashboard-agent-grpc-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
           f"--metrics-export-port={free_port()}", f"--node-manager-port={free_port()}",
           f"--object-manager-port={free_port()}",
           "--object-store-memory=100000000",  # 100 MB: the lab passes nothing through Ray's object store
           "--disable-usage-stats"]
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    log = root / "head.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=root,  # jobs start here: the lab's code must reach them by py_modules
                                start_new_session=True)
    head = RayHead(proc=proc, root=root, port=port, dashboard_port=dash)
    try:
        # /api/version answers as soon as the dashboard is up; the job list once its job module is too.
        _wait("the Ray dashboard", lambda: _answers(head.dashboard + "/api/version")
              and _answers(head.dashboard + "/api/jobs/"), 120, proc, log)
        _warm_up(head, log)
        head.remember_children()
        head.normal_priority()
    except BaseException:
        head.stop()
        raise
    return head


# --------------------------------------------------------------------------- the app under `streamlit run`

@contextmanager
def streamlit_app(home: Path, log: Path, **env: str) -> Iterator[str]:
    """The app on a free port with FMNIST_HOME=home (and `env`), its output in `log`; yields its URL once healthy,
    and stops the server it started after."""
    port = free_port()
    env = {**os.environ, "FMNIST_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait("streamlit", lambda: _answers(url + "/_stcore/health"), 90, proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


# --------------------------------------------------------------------------- fixtures (imported by conftest.py)

@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL for the session; tests take a database of their own from `postgres_url`."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server, request):
    """The URL of a fresh, empty database (postgresql+psycopg://postgres@127.0.0.1:PORT/NAME)."""
    postgres_url.count = getattr(postgres_url, "count", 0) + 1
    return postgres_server.create_database(f"fmnist_t{os.getpid()}_{postgres_url.count}")


@pytest.fixture(scope="session")
def ray_head():
    """One local Ray head (2 CPUs) for the session: `ray start --head --block` on free ports."""
    head = start_ray_head()
    yield head
    head.stop()


@pytest.fixture(name="store", params=["sqlite", "postgresql"])
def store_on_both(request, workspace):
    """`store` on a fresh SQLite file and on a fresh database of a real PostgreSQL; a test module that imports
    this runs each of its store tests on both."""
    where = request.getfixturevalue("postgres_url") if request.param == "postgresql" else workspace.db_path
    st = Store(where)
    yield st
    st.close()
