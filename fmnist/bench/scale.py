"""Group `scale`: epoch time against training-set size, and against parameter count (training pass only)."""
from __future__ import annotations

from fmnist import nets, presets
from fmnist.bench.fits import bare_fit
from fmnist.bench.measure import Figure, later_epochs

SIZE_PRESET = "mlp1"
PARAM_PRESETS = ("mlp1", "mlp3", "cnn2")
FULL_TRAIN = 42_000
SCALE_REPS = 2  # each point is a fit of its own: the sweep shows the trend, the other groups the precision


def run(ctx) -> list[Figure]:
    figures, by_size, by_params = [], [], []
    config = presets.config_for(SIZE_PRESET, epochs=ctx.plan.epochs)
    for n in ctx.plan.scale_sizes:
        fig = _point(ctx, f"scale.images.{n}", config, n, f"{SIZE_PRESET} training epoch, {n:,} images")
        by_size.append({"images": n, "s/epoch": fig.median, "us/image": fig.median / n * 1e6})
        figures.append(fig)
    n = ctx.plan.scale_params_n
    for key in PARAM_PRESETS:
        config = presets.config_for(key, epochs=ctx.plan.epochs)
        params = nets.count_params(config.model)
        fig = _point(ctx, f"scale.params.{key}", config, n,
                     f"{key} training epoch, {n:,} images, {params:,} params, batch {config.batch_size}")
        by_params.append({"preset": key, "params": params, "batch": config.batch_size, "s/epoch": fig.median,
                          "us/image": fig.median / n * 1e6, "s/epoch at 42,000 (est.)": fig.median * FULL_TRAIN / n})
        figures.append(fig)
    batch = presets.get(SIZE_PRESET).config.batch_size
    ctx.tables[f"Epoch time against training-set size ({SIZE_PRESET}, batch {batch})"] = by_size
    ctx.tables[f"Epoch time against parameter count ({n:,} images, each preset's batch size)"] = by_params
    return figures


def _point(ctx, name: str, config, n: int, what: str) -> Figure:
    split = ctx.part(n if n < FULL_TRAIN else None, 100, 100)
    ctx.log(f"  {what}")
    samples = [later_epochs(bare_fit(config, split, validate=False).epoch_seconds) for _ in range(SCALE_REPS)]
    fig = Figure(name, what, "s/epoch", samples)
    fig.note = f"{fig.median / n * 1e6:.0f} us an image"
    return fig
