"""Group `batchnorm`: lab_best's network with Keras's own BatchNormalization against fmnist.batchnorm's fused one,
in float32 and in bfloat16 (mixed precision).

Both sides build the same network with the same seed and differ only in the batch-norm layers' class; they
alternate, and only epochs after the first (which traces the graph) are timed. The fused layer's moving
variance differs from Keras's by Bessel's correction, so the two do not train bit-identical weights."""
from __future__ import annotations

from fmnist import presets
from fmnist.bench.fits import bare_fit
from fmnist.bench.measure import Figure, alternate, compare, later_epochs

PRECISIONS = ("float32", "bfloat16")


def run(ctx) -> list[Figure]:
    plan = ctx.plan
    split = ctx.part(plan.batchnorm_n, plan.batchnorm_n // 2, 100)
    figures = []
    for precision in PRECISIONS:
        config = presets.config_for("lab_best", epochs=plan.epochs, minutes=None, precision=precision)

        def side(rebuild, config=config):
            return lambda: later_epochs(bare_fit(config, split, rebuild=rebuild).epoch_seconds)

        ctx.log(f"  lab_best in {precision}: {plan.fit_reps} alternating pairs of {config.epochs}-epoch fits")
        fused, stock = alternate(side(None), side(stock_batchnorm), plan.fit_reps)
        what = f"lab_best epoch in {precision}: {len(split.x_train):,} images + {len(split.x_val):,} val, batch 128"
        base = Figure(f"batchnorm.{precision}.keras", f"{what}, keras.layers.BatchNormalization", "s/epoch", stock)
        figures += [base, compare(Figure(f"batchnorm.{precision}.fused", f"{what}, fused batch norm", "s/epoch",
                                         fused), base)]
    by_name = {f.name: f for f in figures}
    fastest = by_name["batchnorm.bfloat16.fused"].median / by_name["batchnorm.float32.keras"].median
    ctx.notes.append("Fused batch norm against Keras's, epoch time: " + ", ".join(
        f"{p} {by_name[f'batchnorm.{p}.fused'].ratio:.2f}x" for p in PRECISIONS)
        + f"; bfloat16 and fused together {fastest:.2f}x of float32 with Keras's.")
    return figures


def stock_batchnorm(model):
    """The same network, weights and dtype policies with keras.layers.BatchNormalization in place of the fused one."""
    import keras

    from fmnist.batchnorm import FusedBatchNormalization

    def clone(layer):
        cls = keras.layers.BatchNormalization if isinstance(layer, FusedBatchNormalization) else layer.__class__
        return cls.from_config(layer.get_config())

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin
