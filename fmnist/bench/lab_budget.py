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
    rows = [one(minutes, seed, split, ctx) for minutes in ctx.plan.budget_minutes for seed in ctx.plan.budget_seeds]
    ctx.tables["lab"] = rows
    ctx.notes.append(f"lab: the best on validation was {best_note(rows)}.")
    return figures("lab", "lab_best", rows)


def one(minutes: float, seed: int, split, ctx, label: str = "lab_best", model=None, trunk=None) -> dict:
    """lab_best's recipe under a budget; `model` (a ModelSpec) or `trunk` (see nets.build) swaps its network."""
    config = presets.config_for("lab_best", minutes=minutes, seed=seed)
    if model is not None:
        config = config.with_(model=model)
    ctx.log(f"  {label}, {minutes:g} min, seed {seed} ...")
    begun = time.perf_counter()
    result = train.fit(config, split, trunk=trunk)
    wall = time.perf_counter() - begun
    return {"network": label, "params": result.params, "minutes": minutes, "seed": seed, "epochs": result.epochs,
            "wall_s": round(wall, 1), "train": result.train_acc, "val": result.val_acc, "test": result.test_acc}


def figures(prefix: str, label: str, rows: list[dict]) -> list[Figure]:
    """Test accuracy and wall time of each budget's runs (one sample a seed)."""
    out = []
    for minutes in dict.fromkeys(r["minutes"] for r in rows):
        runs = [r for r in rows if r["minutes"] == minutes]
        what = f"{label}, {minutes:g}-minute budget, seeds {', '.join(str(r['seed']) for r in runs)}"
        note = "; ".join(f"seed {r['seed']}: {r['epochs']} epochs, val {r['val']:.4f}, {r['wall_s']:.0f} s"
                         for r in runs)
        out += [Figure(f"{prefix}.{minutes:g}min.test", f"{what}: test accuracy", "accuracy",
                       [r["test"] for r in runs], note=note),
                Figure(f"{prefix}.{minutes:g}min.wall", f"{what}: wall time, fit and evaluation", "s",
                       [r["wall_s"] for r in runs])]
    return out


def best_note(rows: list[dict]) -> str:
    best = max(rows, key=lambda r: r["val"])
    return (f"the {best['minutes']:g}-minute budget, seed {best['seed']}: val {best['val']:.4f}, "
            f"test {best['test']:.4f}, {best['epochs']} epochs, {best['wall_s'] / 60:.1f} min")
