"""Group `candidates` (only with `--only candidates`: about three hours at the full plan): the networks tried for
lab_best, each trained with lab_best's recipe under the plan's budgets and seeds.

Only the network differs from lab_best (group `lab`): the same augmentation, label smoothing, AdamW on a cosine
decayed on the clock, precision and flip averaging, on the notebook's 42,000 images, chosen on validation.
`bench --minutes 13.5 --seeds 1` runs a part of the plan."""
from __future__ import annotations

from dataclasses import replace

from fmnist import presets
from fmnist.bench.lab_budget import best_note, figures, one
from fmnist.bench.measure import Figure

LABELS = {"unpadded": "the old lab_best: unpadded 32-32-pool-64-64-pool, dense 256",
          "vgg128": "VGG-style 32-32-pool-64-64-pool-128-128-pool, dense 256",
          "resnet9": "ResNet-9 of width 16 (16, 32 + residual, 64, 128 + residual, global max pool)"}


def run(ctx) -> list[Figure]:
    split = ctx.part(ctx.plan.budget_n, ctx.plan.val_n, ctx.plan.test_n)
    out, rows = [], []
    for key, label in LABELS.items():
        model, trunk = _network(key)
        runs = [one(minutes, seed, split, ctx, label, model, trunk)
                for minutes in ctx.plan.budget_minutes for seed in ctx.plan.budget_seeds]
        rows += runs
        out += figures(f"candidates.{key}", label, runs)
        ctx.notes.append(f"candidates: {label} ({runs[0]['params']:,} parameters): the best on validation was "
                         f"{best_note(runs)}.")
    ctx.tables["candidates"] = rows
    return out


def _network(key: str):
    """(a ModelSpec, None), or (None, a trunk) for a network a ModelSpec cannot express."""
    spec = presets.config_for("lab_best").model
    if key == "unpadded":
        return replace(spec, conv=tuple(replace(b, padding="valid") for b in spec.conv)), None
    if key == "vgg128":
        return replace(spec, conv=spec.conv + tuple(replace(b, filters=128) for b in spec.conv[2:])), None
    return None, resnet9


def resnet9(x, width: int = 16):
    """The DAWNBench ResNet-9 (Myrtle.ai's), scaled to 28x28 gray images; hand-written: Keras ships no such net."""
    from keras import layers

    def unit(x, filters, pool=False):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)  # the batch norm's offset is its bias
        x = layers.Activation("relu")(_batch_norm(x))
        return layers.MaxPooling2D(2)(x) if pool else x

    def residual(x, filters):
        return layers.Add()([x, unit(unit(x, filters), filters)])

    x = unit(x, width)
    x = residual(unit(x, 2 * width, pool=True), 2 * width)
    x = unit(x, 4 * width, pool=True)
    x = residual(unit(x, 8 * width, pool=True), 8 * width)
    return layers.GlobalMaxPooling2D()(x)


def _batch_norm(x):
    from fmnist.batchnorm import FusedBatchNormalization
    return FusedBatchNormalization(momentum=0.9)(x)
