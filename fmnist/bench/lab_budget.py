"""Group `lab` (only with `--only lab`: about an hour): lab_best's accuracy against its time budget.

lab_best is trained through the lab's own fit under each budget of the plan (5, 10 and 13.5 minutes) and two
seeds, on the notebook's 42,000 images, chosen on validation. Each run reports its epochs, its wall time (the fit
with every evaluation) and its validation and test accuracy; the test figures are for the report only."""
from __future__ import annotations

import time

from fmnist import presets, train
from fmnist.bench.measure import Figure


def run(ctx) -> list[Figure]:
    split = ctx.part(ctx.plan.budget_n, ctx.plan.val_n, ctx.plan.test_n)
    rows, figures = [], []
    for minutes in ctx.plan.budget_minutes:
        results = [_one(minutes, seed, split, ctx) for seed in ctx.plan.budget_seeds]
        rows += results
        what = f"lab_best, {minutes:g}-minute budget, seeds {', '.join(str(r['seed']) for r in results)}"
        note = "; ".join(f"seed {r['seed']}: {r['epochs']} epochs, val {r['val']:.4f}, {r['wall_s']:.0f} s"
                         for r in results)
        figures += [Figure(f"lab.{minutes:g}min.test", f"{what}: test accuracy", "accuracy",
                           [r["test"] for r in results], note=note),
                    Figure(f"lab.{minutes:g}min.wall", f"{what}: wall time, fit and evaluation", "s",
                           [r["wall_s"] for r in results])]
    ctx.tables["lab"] = rows
    best = max(rows, key=lambda r: r["val"])
    ctx.notes.append(f"lab: the best on validation was the {best['minutes']:g}-minute budget, seed {best['seed']}: "
                     f"val {best['val']:.4f}, test {best['test']:.4f}, {best['epochs']} epochs, "
                     f"{best['wall_s'] / 60:.1f} min.")
    return figures


def _one(minutes: float, seed: int, split, ctx) -> dict:
    config = presets.config_for("lab_best", minutes=minutes, seed=seed)
    ctx.log(f"  lab_best, {minutes:g} min, seed {seed} ...")
    begun = time.perf_counter()
    result = train.fit(config, split)
    wall = time.perf_counter() - begun
    return {"minutes": minutes, "seed": seed, "epochs": result.epochs, "wall_s": round(wall, 1),
            "train": result.train_acc, "val": result.val_acc, "test": result.test_acc}
