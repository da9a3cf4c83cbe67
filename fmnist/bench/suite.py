"""Run the chosen benchmark groups and assemble the report."""
from __future__ import annotations

import logging
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fmnist import data
from fmnist.bench import GROUP_NAMES
from fmnist.bench.fits import subset
from fmnist.bench.measure import Figure
from fmnist.bench.plan import Plan
from fmnist.settings import Settings


@dataclass
class Context:
    """What every group gets: the plan, the workspace, a scratch folder and a progress printer."""
    plan: Plan
    settings: Settings
    tmp: Path
    log: Callable[[str], None]
    notes: list[str] = field(default_factory=list)    # findings, in words, for the report
    tables: dict[str, list[dict]] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)
    _split: data.Split | None = None

    def split(self) -> data.Split:
        if self._split is None:
            self._split = data.load_split(self.settings)
        return self._split

    def part(self, train_n: int | None, val_n: int | None = None, test_n: int | None = None) -> data.Split:
        """A class-stratified part of the notebook split (None keeps a part whole)."""
        return subset(self.split(), train_n, val_n, test_n)

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append({"name": name, "reason": reason})
        self.log(f"  {name}: skipped ({reason})")


def _groups() -> dict[str, tuple[Callable[[Context], list[Figure]], ...]]:
    from fmnist.bench import (
        batchnorm,
        candidates,
        cluster,
        inference,
        inside,
        lab_budget,
        load,
        loading,
        notebook,
        overhead,
        pages,
        photos as bench_photos,
        scale,
        slots,
        store_latency,
        tuning,
    )
    return {"data": (loading.run,), "overhead": (overhead.run,), "notebook": (notebook.run, tuning.run),
            "batchnorm": (batchnorm.run,),
            "predict": (inference.run,), "photos": (bench_photos.run,), "inside": (inside.run,),
            "pages": (pages.run,), "scale": (scale.run,),
            "slots": (slots.run,), "load": (load.run,), "cluster": (cluster.run, store_latency.run),
            "lab": (lab_budget.run,), "candidates": (candidates.run,)}


def run(groups: list[str], plan: Plan, settings: Settings, log: Callable[[str], None]) -> dict:
    """Every chosen group in the canonical order; a group that crashes is reported and the rest still run."""
    chosen = [g for g in GROUP_NAMES if g in groups]
    figures, errors, seconds = [], [], {}
    started = time.perf_counter()
    settings.ensure_dirs()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing warnings: we build many models on purpose
    load_at_start = _load()
    with tempfile.TemporaryDirectory(prefix="fmnist-bench-") as tmp:
        ctx = Context(plan, settings, Path(tmp), log)
        for group in chosen:
            begun = time.perf_counter()
            for step in _groups()[group]:
                log(f"[{group}] {step.__module__.rsplit('.', 1)[-1]} ...")
                try:
                    for fig in step(ctx):
                        fig.group = group
                        figures.append(fig)
                except data.DatasetError:
                    raise
                except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
                    errors.append({"group": group, "error": f"{exc.__class__.__name__}: {exc}",
                                   "traceback": traceback.format_exc()})
                    log(f"[{group}] failed: {exc.__class__.__name__}: {exc}")
            seconds[group] = round(time.perf_counter() - begun, 1)
    return {"created": datetime.now(UTC).isoformat(timespec="seconds"), "quick": plan.quick,
            "groups": chosen, "seconds": round(time.perf_counter() - started, 1), "group_seconds": seconds,
            "machine": {**machine(), "load_average_at_start": load_at_start},
            "results": [f.to_json() for f in figures], "skipped": ctx.skipped, "errors": errors,
            "notes": ctx.notes, "tables": ctx.tables}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "load_average_at_end": _load(), "python": sys.version.split()[0],
            "platform": platform.platform()}


def _load() -> list[float] | None:
    """1, 5 and 15-minute load averages: on a shared machine they say how noisy the figures are."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None
