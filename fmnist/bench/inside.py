"""Group `inside`, the Inside page: what one click costs (a new image's feature maps and Grad-CAM, its figures),
the first look at a model, and a look already cached.

The model is the notebook's multi CNN (cnn2), saved and loaded through fmnist.artifacts as the page loads
it; weights do not change the arithmetic, so it is not trained. lab_best (four batch-normalised
convolutions) is timed beside it for a deeper network."""
from __future__ import annotations

import time

from fmnist import artifacts, charts, inside, presets
from fmnist.bench.measure import Figure, Target, repeat

CLICK_TARGET_MS = 300  # a new image, its maps and all five figures: under this, clicking through feels immediate
PRESETS = ("cnn2", "lab_best")


def run(ctx) -> list[Figure]:
    plan = ctx.plan
    images = ctx.split().x_test
    n = max(10, plan.predict_calls // 2)
    figures, models = [], {}
    for preset in PRESETS:
        model = models[preset] = _load(ctx, preset)
        begun = time.perf_counter()
        inside.look(model, images[0])  # the sub-model is built on this first look
        first_s = time.perf_counter() - begun
        fresh = iter(images[1:])
        look_ms = [s * 1000 for s in repeat(lambda m=model, f=fresh: inside.look(m, next(f)), n)]
        figures.append(Figure(f"inside.first_look.{preset}", f"Inside, {preset}: first look at a model "
                              "(sub-model built, first pass)", "s", [first_s], note="once per model and server"))
        figures.append(Figure(f"inside.new_image.{preset}", f"Inside, {preset}: a new image's feature maps "
                              "and Grad-CAM", "ms", look_ms, note=f"{n} different test images"))
    cached_ms = [s * 1000 for s in repeat(lambda: inside.look(model, images[1]), plan.predict_calls)]
    model = models["cnn2"]
    _click(model, images[0])  # Plotly's first figure pays for its validators once
    fresh = iter(images[5000:])
    click_ms = [s * 1000 for s in repeat(lambda: _click(model, next(fresh)), n)]
    return figures + [
        Figure("inside.cached", f"Inside, {PRESETS[-1]}: the same image again (kept)", "ms", cached_ms),
        Figure("inside.click", "Inside, cnn2: one click, a new image: look + Grad-CAM, filter and "
               "feature-map figures, serialised", "ms", click_ms, Target("<", CLICK_TARGET_MS),
               note="what the page computes and sends for one new image; the browser's drawing is not included")]


def _click(model, image) -> int:
    look = inside.look(model, image)
    figs = [charts.gradcam_overlay(image, look.cam), charts.picture_grid(inside.first_layer(model).pictures, "f",
                                                                         diverging=True)]
    figs += [charts.picture_grid(layer.maps, "m", cols=16) for layer in look.layers]
    return sum(len(f.to_json()) for f in figs)


def _load(ctx, preset: str):
    import keras

    from fmnist import nets

    config = presets.config_for(preset)
    keras.utils.set_random_seed(config.seed)
    path = ctx.tmp / f"inside-{preset}.keras"
    digest = artifacts.save(artifacts.KerasModel(nets.build(config)), "cnn", path)
    return artifacts.load(str(path), digest, "cnn")
