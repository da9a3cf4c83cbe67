"""Group `predict`: one 28x28 image through a loaded model, and the sketch page's pipeline end to end.

The model is the notebook's multi CNN (cnn2), saved and loaded through fmnist.artifacts as the sketch
page loads it; its weights do not matter for timing, so it is not trained."""
from __future__ import annotations

import io

import numpy as np

from fmnist import artifacts, images, presets
from fmnist.bench.measure import Figure, Target, compare, repeat

DIRECT_TARGET_MS = 20
WARMUP_CALLS = 5
PNG_SIDE = 512
PRESET = "cnn2"


def run(ctx) -> list[Figure]:
    plan = ctx.plan
    path = ctx.tmp / f"predict-{PRESET}.keras"
    digest = _save_model(path)
    load_s = repeat(lambda: artifacts.load(str(path), digest, "cnn"), max(2, plan.reps // 2))
    model = artifacts.load(str(path), digest, "cnn")
    x = ctx.split().x_test[:1]  # (1, 28, 28) uint8

    def direct():
        return np.asarray(model.model(x, training=False))

    def api():
        return model.model.predict(x, verbose=0)

    for _ in range(WARMUP_CALLS):
        direct(), api()
    direct_ms = [s * 1000 for s in repeat(direct, plan.predict_calls)]
    api_ms = [s * 1000 for s in repeat(api, plan.predict_api_calls)]
    if not np.allclose(direct(), api(), atol=1e-5):
        raise AssertionError("model(x) and model.predict(x) disagree")
    png = sketch_png()
    steps = images.from_upload(png)
    sketch_ms = [s * 1000 for s in repeat(lambda: model.predict_proba(images.from_upload(png).final[None]),
                                          plan.predict_api_calls)]
    what = f"one 28x28 image, {PRESET}"
    d = Figure("predict.direct", f"{what}: model(x, training=False)", "ms", direct_ms, Target("<", DIRECT_TARGET_MS),
               note="what KerasModel.predict_proba does for up to 64 images")
    a = compare(Figure("predict.model_predict", f"{what}: model.predict(x)", "ms", api_ms,
                       note="predict() builds a dataset and a loop per call: for contrast only"), d)
    s = Figure("predict.sketch", f"sketch: images.from_upload({PNG_SIDE}x{PNG_SIDE} PNG) + predict_proba", "ms",
               sketch_ms, note=f"PNG of {len(png) / 1000:.0f} kB; blank={steps.blank}")
    load = Figure("predict.load_model", f"load {PRESET} from disk (SHA-256 check + keras load)", "s", load_s,
                  note="once per model and server: the pages keep it cached")
    return [d, a, s, load]


def _save_model(path) -> str:
    import keras

    from fmnist import nets

    config = presets.config_for(PRESET)
    keras.utils.set_random_seed(config.seed)
    return artifacts.save(artifacts.KerasModel(nets.build(config)), "cnn", path)


def sketch_png() -> bytes:
    """A 512x512 phone-photo-like sketch: a dark T-shirt outline, filled, on a white page."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (PNG_SIDE, PNG_SIDE), 245)
    shirt = [(150, 90), (210, 70), (256, 100), (302, 70), (362, 90), (440, 170), (390, 220), (350, 185),
             (350, 440), (162, 440), (162, 185), (122, 220), (72, 170)]
    ImageDraw.Draw(img).polygon(shirt, fill=40, outline=10)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
