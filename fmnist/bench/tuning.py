"""Group `notebook`, second half: settings that might make the lab's fits faster without changing results.

Each setting is timed against the default in alternating pairs on two workloads: mlp1 (batch 512,
few large steps) and mlp3 at batch 32 (many small steps). Compile and input settings are compared in
this process; threading and oneDNN only take effect before TensorFlow starts, so each of their sides is
a fresh process (fmnist.bench.probe)."""
from __future__ import annotations

import json
import subprocess
import sys

from fmnist import presets
from fmnist.bench.fits import bare_fit, same_results
from fmnist.bench.measure import Figure, alternate, compare, later_epochs
from fmnist.executors.local import child_env
from fmnist.settings import REPO_ROOT

HELPS = 0.90  # "clearly helps": at least 10% less time an epoch
HURTS = 1.05
SETTING_REPS = 2

IN_PROCESS = {  # name: (bare_fit keyword arguments, in words)
    "xla": ({"jit_compile": True}, "XLA: compile(jit_compile=True)"),
    "arrays": ({"pipeline": "arrays"}, "numpy arrays into model.fit (Keras's autotuned pipeline) instead of the "
                                       "lab's untuned one"),
    "spe8": ({"steps_per_execution": 8}, "compile(steps_per_execution=8)"),
}
IN_FRESH_PROCESS = {  # name: (threading, environment, in words)
    "threads1x1": ({"intra": 1, "inter": 1}, {}, "tf.config.threading intra-op 1, inter-op 1"),
    "onednn_off": ({}, {"TF_ENABLE_ONEDNN_OPTS": "0"}, "TF_ENABLE_ONEDNN_OPTS=0 (oneDNN kernels off)"),
}


def workloads(ctx) -> list[tuple[str, int | None, int | None]]:
    plan = ctx.plan
    return [("mlp1", plan.train_n, plan.val_n), ("mlp3", plan.small_n, plan.small_n // 2)]


def run(ctx) -> list[Figure]:
    reps = min(SETTING_REPS, ctx.plan.fit_reps)
    figures = []
    for name, (kwargs, words) in IN_PROCESS.items():
        figures += _in_process(ctx, name, kwargs, words, reps)
    for name, (threads, env, words) in IN_FRESH_PROCESS.items():
        figures += _fresh_processes(ctx, name, threads, env, words, min(reps, ctx.plan.probe_reps))
    return figures


def _in_process(ctx, name: str, kwargs: dict, words: str, reps: int) -> list[Figure]:
    figures, verdicts = [], []
    for key, train_n, val_n in workloads(ctx):
        config = presets.config_for(key, epochs=ctx.plan.epochs)
        split = ctx.part(train_n, val_n, 100)
        last = {}

        def side(label, kw, config=config, split=split, last=last):
            def go() -> float:
                last[label] = bare_fit(config, split, **kw)
                return later_epochs(last[label].epoch_seconds)
            return go

        ctx.log(f"  {name} on {key}: {reps} alternating pairs")
        on, off = alternate(side("on", kwargs), side("off", {}), reps)
        results = same_results(last["on"], last["off"])
        figures += _pair(name, key, words, (len(split.x_train), len(split.x_val)), config, on, off, results)
        verdicts.append((key, figures[-1].ratio, results.startswith("identical")))
    ctx.notes.append(_verdict(words, verdicts))
    return figures


def _fresh_processes(ctx, name: str, threads: dict, env: dict, words: str, reps: int) -> list[Figure]:
    spec = [(key, train_n, val_n, ctx.plan.epochs) for key, train_n, val_n in workloads(ctx)]
    ctx.log(f"  {name}: {reps} alternating pairs of fresh processes")
    on, off = alternate(lambda: probe(ctx, {**threads, "workloads": spec}, env),
                        lambda: probe(ctx, {"workloads": spec}, {}), reps)
    figures, verdicts = [], []
    for key, train_n, val_n in workloads(ctx):
        a, b = on[-1][key], off[-1][key]
        same = a["weights"] == b["weights"]
        results = (f"{'identical weights' if same else 'different weights'}, "
                   f"val accuracy {a['val_acc']:.4f} vs {b['val_acc']:.4f}")
        sizes = (train_n or 42_000, val_n or 18_000)
        figures += _pair(name, key, words, sizes, presets.config_for(key), [o[key]["seconds"] for o in on],
                         [o[key]["seconds"] for o in off], results)
        verdicts.append((key, figures[-1].ratio, same))
    ctx.notes.append(_verdict(words, verdicts))
    return figures


def probe(ctx, spec: dict, env: dict) -> dict:
    environ = child_env(ctx.settings, **env)
    done = subprocess.run([sys.executable, "-m", "fmnist.bench.probe", json.dumps(spec)], cwd=REPO_ROOT,
                          env=environ, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"probe {spec} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pair(name, key, words, sizes: tuple[int, int], config, on, off, results) -> list[Figure]:
    n_train, n_val = sizes
    what = f"{key} epoch ({n_train:,} + {n_val:,} val images, batch {config.batch_size})"
    base = Figure(f"settings.{name}.{key}.default", f"{what}, default", "s/epoch", off)
    subject = compare(Figure(f"settings.{name}.{key}.on", f"{what}, {words}", "s/epoch", on), base)
    subject.note = results
    return [base, subject]


def _verdict(words: str, verdicts: list[tuple[str, float, bool]]) -> str:
    """One line a person can act on: how much faster or slower, and whether results stayed the same."""
    parts = ", ".join(f"{key} {ratio:.2f}x" for key, ratio, _ in verdicts)
    same = all(s for *_, s in verdicts)
    helps = any(r <= HELPS for _, r, _ in verdicts) and all(r < HURTS for _, r, _ in verdicts)
    if helps and same:
        call = "CLEARLY HELPS and leaves results bit-identical"
    elif helps:
        call = "faster, but results change (not bit-identical)"
    elif all(r >= HURTS for _, r, _ in verdicts):
        call = "slower: keep the default"
    else:
        call = "no clear gain: keep the default"
    return f"{words}: epoch time {parts} of the default; {call}."
