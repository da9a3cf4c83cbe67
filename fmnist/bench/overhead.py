"""Group `overhead`: an epoch through the lab's run path (store hooks on a real Store) against a bare model.fit.

Same model, seed, data, input pipeline (fmnist.pipelines) and batch size on both sides; the sides alternate;
only epochs after the first (which traces the graph) are timed. A third figure times the bare fit on numpy
arrays, as a notebook feeds them (Keras's autotuned pipeline, which stalls at each epoch's end), after the pairs.
mlp1 (82 batches of 512) is the notebook's first network; mlp3 at batch 32 has the most batches an image, so
per-batch costs (the stop check) show most there; lab_best on half the training images has epochs long enough
(about 5 s) that the machine's noise does not decide the ratio, as it does on mlp1's 0.6 s ones."""
from __future__ import annotations

from fmnist import presets
from fmnist.bench.fits import bare_fit, lab_fit, same_results
from fmnist.bench.measure import Figure, Target, alternate, compare, later_epochs
from fmnist.store import Store

RATIO_TARGET = 1.03


def workloads(ctx) -> list[tuple[str, object]]:
    plan = ctx.plan
    sizes = {"mlp1": (plan.train_n, plan.val_n, plan.test_n),
             "mlp3": (plan.small_n, plan.small_n // 2, plan.small_n // 2),
             "lab_best": (plan.long_n, plan.long_n // 2, plan.small_n)}
    return [(key, ctx.part(*sizes[key])) for key in plan.overhead_presets]


def run(ctx) -> list[Figure]:
    store = Store(ctx.tmp / "overhead.db")
    figures = []
    try:
        for key, split in workloads(ctx):
            figures += _compare(ctx, key, split, store)
    finally:
        store.close()
    labs = [f for f in figures if f.name.endswith(".lab")]
    ctx.notes.append("Lab run path vs bare model.fit, epoch time: " + ", ".join(
        f"{f.name.split('.')[1]} {f.ratio:.2f}x (pairs {min(f.pair_ratios):.2f}-{max(f.pair_ratios):.2f})"
        for f in labs)
        + f"; target <= {RATIO_TARGET}. Bare model.fit on numpy arrays vs the lab's pipeline: " + ", ".join(
        f"{f.name.split('.')[1]} {f.ratio:.2f}x" for f in figures if f.name.endswith(".arrays")) + ".")
    return figures


def _compare(ctx, key: str, split, store: Store) -> list[Figure]:
    config = presets.config_for(key, epochs=ctx.plan.epochs)
    last = {}

    def side(name, fit):
        def go() -> float:
            last[name] = fit(config, split, store) if name == "lab" else fit(config, split)
            return later_epochs(last[name].epoch_seconds)
        return go

    ctx.log(f"  {key}: {ctx.plan.fit_reps} alternating pairs of {config.epochs}-epoch fits")
    lab_s, bare_s = alternate(side("lab", lab_fit), side("bare", bare_fit), ctx.plan.fit_reps)
    what = f"{key} epoch: {len(split.x_train):,} images + {len(split.x_val):,} val, batch {config.batch_size}"
    bare = Figure(f"overhead.{key}.bare", f"{what}, bare model.fit", "s/epoch", bare_s)
    lab = compare(Figure(f"overhead.{key}.lab", f"{what}, lab run path", "s/epoch", lab_s,
                         Target("<=", RATIO_TARGET, "ratio")), bare)
    lab.note = (f"pairs {min(lab.pair_ratios):.3f}-{max(lab.pair_ratios):.3f}; "
                f"same run, lab vs bare: {same_results(last['lab'], last['bare'])}")
    arrays_s = [later_epochs(bare_fit(config, split, pipeline="arrays").epoch_seconds)
                for _ in range(ctx.plan.fit_reps)]
    arrays = compare(Figure(f"overhead.{key}.arrays", f"{what}, bare model.fit on numpy arrays", "s/epoch",
                            arrays_s, note="after the pairs, not alternated"), bare)
    return [bare, lab, arrays]
