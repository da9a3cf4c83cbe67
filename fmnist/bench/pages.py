"""Group `pages`: cold page renders in fresh processes, the results table over 10,000 runs, and the
time from an epoch's end to its point on the live chart.

Each page renders in a child interpreter running views/_render_timing.py (the UI layer: this package stays
free of the UI library); the child reports its timing and whether TensorFlow got imported as JSON on its last line."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from fmnist import presets, schema, summary
from fmnist.bench.measure import Figure, Target, repeat
from fmnist.executors.local import child_env
from fmnist.settings import REPO_ROOT, load
from fmnist.store import Store

RESULTS_TARGET_S = 1.0
# Must render without importing TensorFlow. The home page opens through app.py (navigation, sidebar):
# that is a first visit, and views/home.py alone cannot resolve its st.page_link targets.
LIGHT_PAGES = {"home": ("app.py", "app.py opening on the home page"), "data": ("views/data.py", "")}
RENDER_TIMING = REPO_ROOT / "views" / "_render_timing.py"  # imports streamlit, so it lives beside the pages


def run(ctx) -> list[Figure]:
    ctx.split()  # the data page reads the workspace cache; build it before timing anything
    figures = [fig for page, (script, what) in LIGHT_PAGES.items()
               for fig in _page(ctx, page, script, ctx.settings.home, what)]
    figures += _results(ctx)
    figures.append(_live_latency(ctx))
    return figures


def render_cold(script: str, home: Path) -> dict:
    """One render of a page script (relative to the repository) in a fresh interpreter with FMNIST_HOME=home."""
    env = child_env(load(), FMNIST_HOME=str(home))
    done = subprocess.run([sys.executable, str(RENDER_TIMING), str(REPO_ROOT / script)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{script} could not be rendered: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _page(ctx, page: str, script: str, home: Path, what: str = "", rerun_target: Target | None = None) -> list[Figure]:
    """The cold render (interpreter start excluded, streamlit import included) and a rerun in the same session."""
    if not (REPO_ROOT / script).is_file():
        ctx.skip(f"pages.{page}", f"{script} does not exist yet")
        return []
    outcomes = [render_cold(script, home) for _ in range(ctx.plan.page_reps)]
    tf = any(o["tensorflow"] for o in outcomes)
    errors = sorted({e for o in outcomes for e in o["exceptions"]})
    note = "TensorFlow imported: " + ("YES" if tf else "no")
    if errors:
        note += f"; the page showed an exception: {errors[0][:120]}"
    if page in LIGHT_PAGES and tf:
        ctx.notes.append(f"{script} imports TensorFlow on a cold render: it should stay light.")
    what = what or script
    return [Figure(f"pages.{page}.cold", f"{what}: cold render, fresh process (AppTest)", "s",
                   [o["seconds"] for o in outcomes], note=note),
            Figure(f"pages.{page}.rerun", f"{what}: rerun in the same session", "s",
                   [o["rerun"] for o in outcomes], rerun_target)]


def fill_store(store: Store, n: int) -> None:
    """n finished runs in one executemany: a busy classroom's term, written in a second."""
    config = presets.config_for("mlp1")
    now = time.time()
    rows = [dict(name=f"run {i}", preset="mlp1", kind="mlp", config=config.to_json(), user=f"student{i % 40}",
                 status="finished", created_at=now - 60 * (n - i), started_at=now - 60 * (n - i),
                 ended_at=now - 60 * (n - i) + 30, train_acc=0.95, val_acc=0.88 + (i % 100) / 10_000, test_acc=0.87,
                 params=202_735, epochs=100, seconds=30.0) for i in range(n)]
    with store.write() as c:
        c.execute(schema.runs.insert(), rows)


def _results(ctx) -> list[Figure]:
    home = ctx.tmp / "results-home"
    home.mkdir()
    store = Store(home / "runs.db")
    try:
        n = ctx.plan.store_runs
        fill_s = repeat(lambda: fill_store(store, n), 1)
        reps = max(5, ctx.plan.reps)
        frame_s = repeat(lambda: summary.summary_frame(store, limit=50), reps)
        count_s = [s * 1000 for s in repeat(lambda: store.count(), reps)]
        total = store.count()
    finally:
        store.close()
    figures = [
        Figure("pages.results.fill", f"insert {n:,} finished runs (one executemany)", "s", fill_s,
               note="set-up for the figures below"),
        Figure("pages.results.summary", f"summary.summary_frame(limit=50) over {total:,} runs", "s", frame_s,
               Target("<", RESULTS_TARGET_S), note="the results table's first page"),
        Figure("pages.results.count", f"store.count() over {total:,} runs", "ms", count_s,
               Target("<", RESULTS_TARGET_S * 1000)),
    ]
    return figures + _page(ctx, "results", "views/results.py", home, f"views/results.py over {total:,} runs",
                           Target("<", RESULTS_TARGET_S))


def _live_latency(ctx) -> Figure:
    """An epoch committed on one connection until another connection's epochs_since returns it."""
    path = ctx.tmp / "latency.db"
    writer, reader = Store(path), Store(path)
    try:
        run_id = writer.create_run(presets.config_for("mlp1"), status="running")
        writer.mark_running(run_id, os.getpid())
        samples = []
        for epoch in range(1, ctx.plan.latency_epochs + 1):
            start = time.perf_counter()
            writer.add_epoch(run_id, epoch, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.79})
            while not reader.epochs_since(run_id, epoch - 1):
                pass  # WAL: visible as soon as the commit returns, so this loop ends at once
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        writer.close()
        reader.close()
    found = live_fragment_period(REPO_ROOT / "views")
    tail = (f"store latency + up to {found[0]:g} s fragment period (run_every in views/{found[1]})" if found
            else "store latency + the live view's polling period (no run_every in views/ yet)")
    return Figure("pages.live_chart", "epoch end -> visible to the chart's connection (commit + read)", "ms",
                  samples, note=tail)


def live_fragment_period(pages: Path) -> tuple[float, str] | None:
    """(run_every seconds, file) of the train page's live fragment: views/train.py first, then its helpers."""
    files = sorted(pages.glob("*.py"), key=lambda p: (p.name != "train.py", "train" not in p.name, p.name))
    for page in files:
        period = fragment_period(page)
        if period:
            return period, page.name
    return None


def fragment_period(page: Path) -> float | None:
    """A fragment's run_every in seconds, read from a page's source (a number or a named constant)."""
    tree = ast.parse(page.read_text())
    constants = {t.id: n.value.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and isinstance(n.value, ast.Constant) and isinstance(n.value.value, (int, float))
                 for t in n.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "run_every":
            value = node.value.body if isinstance(node.value, ast.IfExp) else node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)):
                return float(value.value)
            if isinstance(value, ast.Name) and value.id in constants:
                return float(constants[value.id])
    return None
