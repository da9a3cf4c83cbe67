"""Group `photos`: uploads as shops and phones make them (fmnist.photos).

Two speed figures (a 12-megapixel phone JPEG, and the 512x512 sketch PNG, each from bytes to
probabilities with the notebook's cnn2) and the conditions table: one small CNN, trained here with
fixed seeds, on the original test images and on each condition's recovered 28x28s."""
from __future__ import annotations

from fmnist import artifacts, images, photos
from fmnist.bench.inference import PRESET, _save_model, sketch_png
from fmnist.bench.measure import Figure, Target, repeat

BIG_TARGET_MS = 300
SKETCH_TARGET_MS = 30
BIG_SIZE = (4000, 3000)  # 12 megapixels, a phone's photo
TABLE_IMAGES = {False: 300, True: 40}  # test images per condition: full, quick
TRAIN_IMAGES = 4000
SEED = 20240601


def run(ctx) -> list[Figure]:
    path = ctx.tmp / f"photos-{PRESET}.keras"
    model = artifacts.load(str(path), _save_model(path), "cnn")
    split = ctx.split()
    big = photos.big_photo(split.x_test[0], BIG_SIZE, SEED)
    png = sketch_png()
    for data in (big, png):  # the first call loads scikit-image's modules and traces the model
        model.predict_proba(images.from_upload(data).final[None])
    reps = max(3, ctx.plan.predict_api_calls)
    big_ms = [s * 1000 for s in repeat(lambda: model.predict_proba(images.from_upload(big).final[None]), reps)]
    png_ms = [s * 1000 for s in repeat(lambda: model.predict_proba(images.from_upload(png).final[None]), reps)]
    figures = [
        Figure("photos.upload_12mp", f"{BIG_SIZE[0]}x{BIG_SIZE[1]} phone JPEG: bytes -> probabilities ({PRESET})",
               "ms", big_ms, Target("<", BIG_TARGET_MS), note=f"JPEG of {len(big) / 1e6:.1f} MB, decoded at 1/4 scale"),
        Figure("photos.upload_512", f"512x512 sketch PNG: bytes -> probabilities ({PRESET})", "ms", png_ms,
               Target("<", SKETCH_TARGET_MS)),
    ]
    ctx.log("  conditions table: training the small CNN ...")
    table(ctx)
    return figures


def table(ctx) -> None:
    import keras

    from fmnist import nets
    from fmnist.config import ConvBlock, ModelSpec, RunConfig

    split = ctx.split()
    n_train = min(TRAIN_IMAGES, ctx.plan.small_n * 2) if ctx.plan.quick else TRAIN_IMAGES
    spec = ModelSpec("cnn", conv=(ConvBlock(32, 3, 2), ConvBlock(32, 3, 2)), dense=(64,))
    keras.utils.set_random_seed(1)
    net = nets.build(RunConfig(spec, preset="custom"))
    net.compile("adam", "sparse_categorical_crossentropy")
    net.fit(split.x_train[:n_train], split.y_train[:n_train], epochs=3, batch_size=64, verbose=0)
    model = artifacts.KerasModel(net)
    n = TABLE_IMAGES[ctx.plan.quick]
    base, rows = photos.evaluate(model.predict_proba, split.x_test[:n], split.y_test[:n], seed=SEED)
    name = (f"Photos: one small CNN ({n_train:,} training images, 3 epochs) on {n} test images and on "
            "each condition's recovered 28x28")
    ctx.tables[name] = [{"condition": "originals", "what": "the test images as stored", "n": n,
                         "accuracy": round(base, 4), "same class": 1.0, "pixel distance": 0.0, "warned": 0.0},
                        *(r.as_dict() for r in rows)]
    worst = min(rows, key=lambda r: r.accuracy)
    ctx.notes.append(f"Photos: accuracy {base:.1%} on the originals; worst condition {worst.condition} "
                     f"{worst.accuracy:.1%} ({worst.accuracy - base:+.1%}); goal: every condition within 4 points.")
