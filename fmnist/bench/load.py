"""Group `load`: a class on one server. A real `streamlit run app.py` in its own workspace, two runs
training in it (FMNIST_SLOTS=2, one thread each), and N sessions watching and clicking for T seconds.

Two drivers, each a child interpreter beside the pages (they read Streamlit's protocol, and this package
stays free of the UI library) that writes its measurements as JSON, turned into Figures here:
- browser (views/_load_driver.py): a headless Chromium context a session, the frames read off its websocket.
  Forty renderers saturate two cores by themselves, so it is for small classes (the CI test: 8 sessions).
- protocol (views/_load_protocol.py): each session a websocket that speaks the protocol as the browser does,
  all in one asyncio process, so the figures are the server's. The full plan's default.
FMNIST_LOAD_DRIVER=browser|protocol chooses.
Also counted: errors the pages showed, pages that never finished, and tracebacks in the server's log."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil

from fmnist import jobs, presets
from fmnist.bench.measure import Figure
from fmnist.executors.local import LocalExecutor, child_env
from fmnist.settings import REPO_ROOT, Settings, load
from fmnist.store import Store

DRIVERS = {"browser": "views._load_driver", "protocol": "views._load_protocol"}  # modules beside the pages
CHROMIUM = os.environ.get("FMNIST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                  "--disable-dev-shm-usage"]  # /dev/shm is small in containers; forty renderers need more
CACHE_FILE = "fashion-mnist-v1.npz"
REFRESH_GOAL_S = 2.0  # issue 10: p95 of the live panel's refresh under 2 s, 40 sessions, two runs live
LIVE_RUNS = 2
# mlp1 on all 42,000 images: an epoch of 1-2 s on one thread, so 500 epochs outlast any measurement (on
# 10,000 they ended within five minutes once the server took less of the machine, and the panels stopped polling)
LIVE_TRAIN_N, LIVE_EPOCHS = None, 500
SERVER_START_S = 120


@dataclasses.dataclass(frozen=True)
class ClassSize:
    sessions: int
    seconds: float
    open_timeout_s: float = 60  # a page not open by then counts as "never finished"
    driver: str = "browser"     # a key of DRIVERS

    @property
    def watch_s(self) -> float:
        """How long a session watches the live run before clicking on: a quarter of the time, 6-30 s."""
        return max(6.0, min(30.0, self.seconds / 4))


def class_size(plan) -> ClassSize:
    """The plan's class, unless FMNIST_LOAD_SESSIONS / FMNIST_LOAD_SECONDS / FMNIST_LOAD_OPEN_TIMEOUT /
    FMNIST_LOAD_DRIVER say otherwise; the full plan's forty sessions speak the protocol, the quick plan's browse."""
    sessions = int(os.environ.get("FMNIST_LOAD_SESSIONS") or plan.load_sessions)
    seconds = float(os.environ.get("FMNIST_LOAD_SECONDS") or plan.load_seconds)
    patience = float(os.environ.get("FMNIST_LOAD_OPEN_TIMEOUT") or 60)
    driver = os.environ.get("FMNIST_LOAD_DRIVER") or ("browser" if plan.quick else "protocol")
    if driver not in DRIVERS:
        raise ValueError(f"FMNIST_LOAD_DRIVER={driver!r}: use one of {', '.join(DRIVERS)}")
    return ClassSize(max(1, sessions), max(5.0, seconds), max(5.0, patience), driver)


def missing_tools(driver: str = "browser") -> str | None:
    """Why the driver's sessions cannot run here, or None."""
    if driver == "protocol":
        try:
            import websockets  # noqa: F401
        except ImportError:
            return "the protocol driver needs the websockets package (python -m pip install websockets)"
        return None
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found: install Debian's chromium (or set FMNIST_CHROMIUM)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (python -m pip install -r requirements-test.txt)"
    return None


def run(ctx) -> list[Figure]:
    size = class_size(ctx.plan)
    why = missing_tools(size.driver)
    if why:
        ctx.skip("load", why)
        return []
    ctx.split()  # build the dataset cache once; the server's workspace gets a copy
    shots = ctx.settings.home / "bench-load"  # the first session's view of each page, beside the report
    result = measure(ctx.tmp / "load-home", size, cache_from=ctx.settings.cache_dir, log=ctx.log, shots=shots)
    (shots / "load-result.json").write_text(json.dumps(result))
    shutil.copy(ctx.tmp / "load-home" / "streamlit.log", shots / "streamlit.log")
    shown = "screenshots of the first session's pages, " if size.driver == "browser" else ""
    ctx.notes.append(f"load ({size.driver} driver): {shown}the raw result and the server log in {shots}")
    stats = summarise(result)
    ctx.tables["load"] = [{"figure": k, "n": v["n"], "p50 s": v["p50"], "p95 s": v["p95"], "max s": v["max"]}
                          for k, v in stats.items() if v["n"]]
    ctx.notes.extend(findings(result, stats, size))
    return figures(result, stats, size)


def measure(home: Path, size: ClassSize, cache_from: Path | None = None,
            log: Callable[[str], None] = print, shots: Path | None = None) -> dict:
    """Serve the app from `home`, train LIVE_RUNS runs, drive `size` sessions; the driver's JSON plus
    the server log's tracebacks, the workers' tracebacks and the peak memory."""
    settings = _workspace(home, cache_from)
    store = Store(settings.db_path)
    sampler = _Sampler()
    try:
        with serve(settings) as (url, server):
            run_ids = queue_live_runs(store, settings)
            log(f"  server at {url}, runs {run_ids} queued; {size.sessions} sessions for {size.seconds:g} s ...")
            sampler.start(server=server)
            try:
                result = drive(url, run_ids, size, home, sampler, shots)
            finally:
                sampler.stop()
                statuses = end_runs(store, settings, run_ids)
        result["runs"] = statuses
    finally:
        store.close()
    result["tracebacks"] = tracebacks((home / "streamlit.log").read_text(errors="replace"))
    result["worker_tracebacks"] = [t for p in sorted(settings.logs_dir.glob("*.log"))
                                   for t in tracebacks(p.read_text(errors="replace"))]
    result["memory"] = sampler.peaks()
    return result


def _workspace(home: Path, cache_from: Path | None) -> Settings:
    settings = dataclasses.replace(load(), home=home.resolve(), slots=LIVE_RUNS, threads_per_run=1,
                                   database_url=None, executor="local")
    settings.ensure_dirs()
    if cache_from and (cache_from / CACHE_FILE).exists():  # a copy saves the parse, changes nothing
        shutil.copy(cache_from / CACHE_FILE, settings.cache_dir)
    return settings


def server_env(settings: Settings) -> dict[str, str]:
    env = child_env(settings, FMNIST_SLOTS=str(settings.slots), FMNIST_THREADS_PER_RUN=str(settings.threads_per_run),
                    FMNIST_EXECUTOR="local")
    env.pop("FMNIST_DATABASE_URL", None)  # this class has its own SQLite workspace
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(settings: Settings):
    """`streamlit run app.py` on a free port, logging to <home>/streamlit.log; yields (url, process)."""
    port = _free_port()
    # No file watcher: others may be editing the checkout, and a changed source must not rerun the class.
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    with open(settings.home / "streamlit.log", "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=server_env(settings), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, proc
    finally:
        _end_group(proc)


def _wait_healthy(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app server exited with {proc.returncode} (see streamlit.log in its workspace)")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the app server did not answer within {SERVER_START_S} s")


def _end_group(proc: subprocess.Popen) -> None:
    """The process group this module started, by its id: SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def queue_live_runs(store: Store, settings: Settings) -> list[int]:
    """LIVE_RUNS long mlp1 runs, queued for the server's supervisor to start."""
    base = presets.config_for("mlp1")
    return [jobs.submit(dataclasses.replace(base, name=f"class run {i + 1}", user="load-bench", subset=LIVE_TRAIN_N,
                                            epochs=LIVE_EPOCHS, early_stopping=False), store, settings)
            for i in range(LIVE_RUNS)]


def end_runs(store: Store, settings: Settings, run_ids: list[int], wait_s: float = 40) -> dict[int, str]:
    """Stop the live runs while the server still supervises; a worker that outlasts the wait is killed."""
    for run_id in run_ids:
        jobs.stop(run_id, store, settings)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(store.get(r).active for r in run_ids):
        time.sleep(0.5)
    for run_id in run_ids:
        run = store.get(run_id)
        if run.active and run.handle:
            LocalExecutor(settings).cancel(run.handle)
    return {r: store.get(r).status for r in run_ids}


def drive(url: str, run_ids: list[int], size: ClassSize, home: Path, sampler: _Sampler,
          shots: Path | None = None) -> dict:
    spec = {"url": url, "runs": run_ids, "sessions": size.sessions, "seconds": size.seconds,
            "watch_s": size.watch_s, "chromium": CHROMIUM, "flags": CHROMIUM_FLAGS,
            "shots": str(shots) if shots else None, "open_timeout_s": size.open_timeout_s, "driver": size.driver}
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    spec_path, out_path = home / "load-spec.json", home / "load-result.json"
    spec_path.write_text(json.dumps(spec))
    env = {**child_env(load(), FMNIST_HOME=str(home))}
    with open(home / "driver.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", DRIVERS[size.driver], str(spec_path), str(out_path)],
                                cwd=REPO_ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    sampler.watch_driver(proc, f"{size.driver} sessions")
    try:
        code = proc.wait(timeout=size.seconds + 240 + 3 * size.open_timeout_s + 3 * size.sessions)  # warm-up, late ones
    except subprocess.TimeoutExpired:
        _end_group(proc)
        raise RuntimeError(f"the {size.driver} sessions did not end in time (see driver.log in the load workspace)") \
            from None
    finally:
        _end_group(proc)  # Chromium's helpers, should any outlive the driver
    if code != 0 or not out_path.exists():
        tail = (home / "driver.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the {size.driver} sessions failed (exit {code}): {tail}")
    return json.loads(out_path.read_text())


TRACEBACK = "Traceback (most recent call last):"


def tracebacks(log: str) -> list[str]:
    """Each traceback in a log, from its first line to the exception line (the first unindented one)."""
    found = []
    for chunk in log.split(TRACEBACK)[1:]:
        lines = chunk.splitlines()[1:]
        end = next((i for i, line in enumerate(lines) if line and not line.startswith((" ", "\t"))
                    and not line.startswith(("During handling", "The above exception"))), len(lines) - 1)
        found.append("\n".join([TRACEBACK, *lines[:end + 1]]))
    return found


class _Sampler:
    """Peak memory and CPU seconds of the server, its workers and the driver's sessions, sampled every second."""

    def __init__(self):
        self._procs: dict[str, psutil.Process] = {}
        self._peak: dict[str, float] = {}
        self._min_available = float("inf")
        self._cpu: dict[str, dict[int, float]] = {}  # CPU seconds each process used, by role and pid
        self._driver_role = "browser sessions"
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self, server: subprocess.Popen) -> None:
        self._procs["server"] = psutil.Process(server.pid)
        self._thread.start()

    def watch_driver(self, proc: subprocess.Popen, role: str = "browser sessions") -> None:
        self._driver_role = role
        self._procs["driver"] = psutil.Process(proc.pid)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._done.wait(1.0):
            server = self._procs.get("server")
            driver = self._procs.get("driver")
            roles = {"workers": _children(server, "fmnist.worker") if server else [],
                     "server": [server] if server else [],
                     self._driver_role: [driver, *_children(driver)] if driver else []}
            for role, procs in roles.items():
                if procs:
                    self._peak[role] = max(self._peak.get(role, 0.0), _rss(procs))
                    self._cpu.setdefault(role, {}).update(_cpu_seconds(procs))
            self._min_available = min(self._min_available, psutil.virtual_memory().available)

    def peaks(self) -> dict[str, float]:
        """Peak resident memory (summed over processes, so shared pages count more than once) and CPU seconds."""
        out = {f"{k} peak GiB": round(v / 2**30, 2) for k, v in self._peak.items()}
        if self._min_available != float("inf"):
            out["least available GiB"] = round(self._min_available / 2**30, 2)
        out.update({f"{k} CPU s": round(sum(v.values()), 1) for k, v in self._cpu.items()})
        return out


def _children(proc: psutil.Process, module: str | None = None) -> list[psutil.Process]:
    """A process's descendants (the server's workers are its children, though in sessions of their own)."""
    try:
        kids = proc.children(recursive=True)
    except psutil.Error:
        return []
    if module is None:
        return kids
    out = []
    for p in kids:
        try:
            if module in p.cmdline():
                out.append(p)
        except psutil.Error:
            continue
    return out


def _cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            continue
    return out


def _rss(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def _percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    p50, p95 = np.percentile(samples, [50, 95])
    return {"n": len(samples), "p50": round(float(p50), 3), "p95": round(float(p95), 3),
            "max": round(float(max(samples)), 3)}


def pooled(result: dict, key: str) -> list[float]:
    return [x for s in result["sessions"] for x in s[key]]


def opens(result: dict) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for s in result["sessions"]:
        for page, seconds in s["opens"].items():
            out.setdefault(page, []).extend(seconds)
    return out


def summarise(result: dict) -> dict[str, dict]:
    stats = {"refresh": _percentiles(pooled(result, "refresh_s")),
             "refresh interval": _percentiles(pooled(result, "refresh_interval_s"))}
    for page, seconds in sorted(opens(result).items()):
        stats[f"open {page}"] = _percentiles(seconds)
    return stats


def problems(result: dict) -> dict[str, list]:
    """Everything that went wrong, by kind (each list empty on a clean run)."""
    return {"errors on pages": pooled(result, "errors"), "pages that never finished": pooled(result, "stalls"),
            "tracebacks in the server log": result["tracebacks"], "crashed sessions": result["crashed"],
            "websocket disconnects": [d for s in result["sessions"] for d in [s["session"]] * s["disconnects"]]}


def figures(result: dict, stats: dict, size: ClassSize) -> list[Figure]:
    who = f"{size.sessions} {size.driver} sessions, {LIVE_RUNS} runs live"
    out = []
    refresh = pooled(result, "refresh_s")
    if refresh:
        met = "met" if stats["refresh"]["p95"] < REFRESH_GOAL_S else "MISSED"
        out.append(Figure("load.refresh", f"live panel: fragment rerun request -> finished ({who})", "s", refresh,
                          note=f"p95 {stats['refresh']['p95']:.3g} s (goal < {REFRESH_GOAL_S:g} s: {met})"))
    interval = pooled(result, "refresh_interval_s")
    if interval:
        out.append(Figure("load.refresh_interval", f"live panel: time between refreshes on one page ({who})", "s",
                          interval, note=f"p95 {stats['refresh interval']['p95']:.3g} s; the fragment asks every 2 s"))
    how = {"train": "goto /train?run=ID (a fresh load)"}
    until = "finished and nothing is stale" if size.driver == "browser" else "finished"
    for page, seconds in sorted(opens(result).items()):
        out.append(Figure(f"load.open.{page}", f"open {page}: {how.get(page, 'sidebar click')} until the script "
                          f"{until} ({who})", "s", seconds,
                          note=f"p95 {stats[f'open {page}']['p95']:.3g} s"))
    return out


def findings(result: dict, stats: dict, size: ClassSize) -> list[str]:
    counts = {k: len(v) for k, v in problems(result).items()}
    lines = [f"load: {size.sessions} {size.driver} sessions for {size.seconds:g} s with {LIVE_RUNS} runs live (runs "
             f"ended "
             f"{', '.join(result['runs'].values())}): refresh p50 {stats['refresh']['p50']} s, p95 "
             f"{stats['refresh']['p95']} s; " + ", ".join(f"{k} {n}" for k, n in counts.items())
             + f"; memory {result.get('memory', {})}."]
    seen: dict[str, int] = {}
    for e in pooled(result, "errors"):
        key = f"{e['page']}: {e['kind']}: {e['text'][:200]}"
        seen[key] = seen.get(key, 0) + 1
    lines += [f"load: page error x{n}: {text}" for text, n in seen.items()]
    stalls: dict[str, int] = {}
    for st in pooled(result, "stalls"):
        key = f"{st['page']}: {st['error'][:120]}"
        stalls[key] = stalls.get(key, 0) + 1
    lines += [f"load: never finished x{n}: {text}" for text, n in sorted(stalls.items(), key=lambda kv: -kv[1])]
    kinds: dict[str, int] = {}
    for tb in result["tracebacks"]:
        last = tb.strip().splitlines()[-1][:200]
        kinds[last] = kinds.get(last, 0) + 1
    lines += [f"load: server traceback x{n}: {last}" for last, n in kinds.items()]
    if result.get("worker_tracebacks"):
        lines.append(f"load: {len(result['worker_tracebacks'])} tracebacks in the workers' logs, the last: "
                     + re.sub(r"\s+", " ", result["worker_tracebacks"][-1][-300:]))
    return lines
