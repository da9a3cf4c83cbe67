"""A throw-away PostgreSQL and a local Ray head on this machine, for the tests and the benchmarks.

Both start in a temporary folder, on free ports, and stop by what identifies them (PostgreSQL's
postmaster.pid, the Ray head's process group and every process it had started), never by a name
pattern. Where a program is missing, `Unavailable` says what to install."""
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
from dataclasses import dataclass, field
from pathlib import Path

PG_INSTALL = "apt-get install postgresql (Debian/Ubuntu), or `python -m fmnist setup --tests`"
RAY_INSTALL = 'python -m pip install "ray[default]" (it is in requirements-test.txt)'


class Unavailable(Exception):
    """A server cannot be had on this machine (a program or package is missing); the message says what to install.

    Not a RuntimeError: a server that is installed but fails to come up raises RuntimeError and may be retried."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, ready, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Poll ready() until true; RuntimeError (with the end of `log`) when `timeout` passes or `proc` exits first."""
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


def answers(url: str) -> bool:
    """Does an HTTP GET of `url` answer 200 within 2 s?"""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


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
    """initdb + pg_ctl start in a fresh folder on a free port, with a database `fmnist`; the caller stops it.

    Raises Unavailable when PostgreSQL's server programs or psycopg are missing."""
    bin_dir = postgres_bin()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        raise Unavailable("PostgreSQL's server programs are not installed (no /usr/lib/postgresql/*/bin); "
                          + PG_INSTALL)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable('psycopg is not installed: python -m pip install "psycopg[binary]"') from None
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        runuser = shutil.which("runuser")
        if not runuser:
            raise Unavailable("running as root, starting PostgreSQL as postgres needs runuser (util-linux)")
        as_user = [runuser, "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))  # under /tmp: pytest's own tmp folders are root-only
    if as_user:
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

    wait_until("the Ray job agent", done, 120, head.proc, log)
    if client.get_job_status(job) != "SUCCEEDED":
        raise RuntimeError(f"the Ray head's warm-up job ended {client.get_job_status(job)}: "
                           f"{client.get_job_info(job).message}")


def ray_cli() -> str | None:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else shutil.which("ray")


def start_ray_head(num_cpus: int = 2, attempts: int = 3) -> RayHead:
    """`ray start --head --block` in its own process group, on free ports; returns once jobs can be submitted.

    A second attempt follows a failed one: Ray gives its raylet a fixed 30 s to register, which a loaded
    machine can miss. Raises Unavailable when Ray is not installed."""
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
        raise Unavailable(f"Ray's job API is not installed; {RAY_INSTALL}") from None
    cli = ray_cli()
    if cli is None:
        raise Unavailable(f"the `ray` command is not installed; {RAY_INSTALL}")
    root = Path(tempfile.mkdtemp(prefix="fmray-", dir="/tmp"))  # short: Ray's unix sockets live under it
    port, dash = free_port(), free_port()
    # Ray gives its raylet fixed 15-30 s to come up; on a machine loaded with trainings it misses them. A
    # higher priority (root only; elsewhere `nice` just warns) for the start, back to normal once it is up.
    cmd = [shutil.which("nice") or "nice", "-n", "-5", cli, "start", "--head", "--block",
           f"--num-cpus={num_cpus}", "--num-gpus=0",
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
        wait_until("the Ray dashboard", lambda: answers(head.dashboard + "/api/version")
                   and answers(head.dashboard + "/api/jobs/"), 120, proc, log)
        _warm_up(head, log)
        head.remember_children()
        head.normal_priority()
    except BaseException:
        head.stop()
        raise
    return head
