"""Timing primitives: repeated and alternating measurements, medians and spreads, one Figure per benchmark.

The machine is shared and noisy, so every figure keeps all its samples, and every comparison runs its
two sides in alternating order (AB, BA, AB, ...) so that a slow spell hits both sides alike."""
from __future__ import annotations

import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

OPS = {"<": operator.lt, "<=": operator.le}
T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    op: str            # "<" or "<="
    value: float
    of: str = "median"  # what it applies to: "median" or "ratio"

    def met(self, fig: Figure) -> bool | None:
        got = fig.ratio if self.of == "ratio" else fig.median
        return None if got is None else bool(OPS[self.op](got, self.value))

    def text(self, unit: str) -> str:
        return f"ratio {self.op} {self.value:g}" if self.of == "ratio" else f"{self.op} {self.value:g} {unit}"


@dataclass
class Figure:
    name: str      # group.what[.side], unique in a report
    figure: str    # what was measured, in words
    unit: str
    samples: list[float]
    target: Target | None = None
    note: str = ""
    vs: str | None = None          # the baseline this figure is compared with
    ratio: float | None = None     # median / the baseline's median
    pair_ratios: list[float] = field(default_factory=list)  # per alternating pair
    group: str = ""

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    def to_json(self) -> dict:
        q1, q3 = np.percentile(self.samples, [25, 75])
        return {"name": self.name, "group": self.group, "figure": self.figure, "unit": self.unit,
                "median": self.median, "min": float(min(self.samples)), "max": float(max(self.samples)),
                "q1": float(q1), "q3": float(q3), "n": len(self.samples), "samples": list(map(float, self.samples)),
                "vs": self.vs, "ratio": self.ratio, "pair_ratios": self.pair_ratios,
                "target": self.target.text(self.unit) if self.target else None,
                "met": self.target.met(self) if self.target else None, "note": self.note}


def compare(subject: Figure, baseline: Figure) -> Figure:
    """Set subject.ratio = subject's median / baseline's median (pairs line up when both alternated)."""
    subject.vs = baseline.name
    subject.ratio = subject.median / baseline.median
    if len(subject.samples) == len(baseline.samples):
        subject.pair_ratios = [a / b for a, b in zip(subject.samples, baseline.samples)]
    return subject


def repeat(fn: Callable[[], object], n: int) -> list[float]:
    """Wall seconds of n calls."""
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def alternate(side_a: Callable[[], T], side_b: Callable[[], T], reps: int) -> tuple[list[T], list[T]]:
    """Each side returns its own measurement; the order flips every repetition (AB, BA, AB...)."""
    a, b = [], []
    for i in range(reps):
        if i % 2 == 0:
            a.append(side_a())
            b.append(side_b())
        else:
            b.append(side_b())
            a.append(side_a())
    return a, b


def later_epochs(seconds: list[float]) -> float:
    """One fit's figure: the median of its epochs after the first (which includes graph tracing)."""
    if len(seconds) < 2:
        raise ValueError("time at least two epochs: the first one traces the graph")
    return float(np.median(seconds[1:]))


def marks_to_epochs(start: float, marks: list[float]) -> list[float]:
    """Seconds of each epoch from the perf_counter marks taken at each epoch's end."""
    edges = [start, *marks]
    return [b - a for a, b in zip(edges, edges[1:])]


def short(value: float) -> str:
    """A number for the table: three significant figures, no exponent for everyday sizes."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 0.01 else f"{value:.2e}"
