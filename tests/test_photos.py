"""Photos as shops and phones make them (fmnist.photos) through the upload pipeline, judged by one
fixed small CNN: accuracy on the recovered 28x28s against the originals, and their pixel distance.
Also the pipeline's warnings, each on a picture built to need it."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from fmnist import images, photos, segment
from fmnist.config import ConvBlock, ModelSpec
from tests.test_predict import fit

PHOTO_CNN = ModelSpec("cnn", conv=(ConvBlock(32, 3, 2), ConvBlock(32, 3, 2)), dense=(64,))
# test images per condition (the bench measures 300): the whole table takes about a minute on a quiet 2-core machine
N = 40
# Floors: the goal is every condition within 4 points of the originals; these leave room for
# the sampling noise of 40 images (one standard error is about 6 points). Measured with this model
# (originals 75.0 %): uneven_light 75.0 % (distance 4.5) since the backdrop's side is judged by how far
# the picture reaches below and above it, a frame's sides are cleared before grouping, and uneven light
# raises the hysteresis floor; shadow 80.0 % (distance 16.5, was 62.5 % and 35) and phone 70.0 % (16.5,
# was 72.5 % and 30) since a watershed on the ink's gradient cuts the slowly fading shadow off at the
# item's sharp edge. Outside the goal on these 40 images: product_smooth 67.5 % (-7.5, distance 14.2:
# the bicubic enlargement's blur), woven 70.0 % (-5, 11.4) and phone (-5, one image); on 150 test images
# (originals 78.7 %) every condition is within 4 points (product_smooth -1.3, woven -2.7, phone -4.0).
MAX_DROP = {"default": 0.10, "uneven_light": 0.06, "shadow": 0.06}
MAX_DISTANCE = {"default": 17.0, "uneven_light": 11.0, "shadow": 22.0, "phone": 22.0}


@pytest.fixture(scope="session")
def photo_model(split):
    """One small CNN, seeds fixed, 4,000 training images, 3 epochs."""
    return fit(PHOTO_CNN, split.x_train[:4000], split.y_train[:4000], epochs=3)


@pytest.fixture(scope="session")
def table(photo_model, split):
    base, rows = photos.evaluate(photo_model.predict_proba, split.x_test[:N], split.y_test[:N])
    print(f"\noriginals: accuracy {base:.1%} on {N} test images")
    for r in rows:
        print(f"{r.condition:14s} accuracy {r.accuracy:6.1%} ({r.accuracy - base:+.1%})  same class {r.agreement:6.1%}"
              f"  pixel distance {r.distance:5.2f}  warned {r.warned:4.0%}  {r.description}")
    return base, {r.condition: r for r in rows}


def test_the_generator_is_seeded_and_makes_what_each_condition_says(split):
    x = split.x_test[0]
    for c in photos.CONDITIONS:
        a, b = photos.photo(x, c, 7), photos.photo(x, c, 7)
        assert a == b
        img = Image.open(io.BytesIO(a))
        assert img.format == ("PNG" if c.jpeg is None else "JPEG") and img.mode == "RGB"
        assert max(img.size) >= c.item_px[0]
    assert photos.photo(x, photos.BY_NAME["product"], 1) != photos.photo(x, photos.BY_NAME["product"], 2)
    phone = np.asarray(Image.open(io.BytesIO(photos.photo(x, photos.BY_NAME["phone"], 3))), float)
    r, g, b = phone[..., 0].mean(), phone[..., 1].mean(), phone[..., 2].mean()
    assert r > g > b  # the backdrop's tint
    product = photos.render(x, photos.BY_NAME["product"], np.random.default_rng(0))
    dark = np.argwhere(product.mean(axis=2) < 128)
    centre = dark.mean(axis=0) / product.shape[:2]
    assert np.abs(centre - 0.5).max() > 0.02  # off-centre


def test_every_condition_keeps_the_models_accuracy(table):
    base, rows = table
    drops = {name: base - r.accuracy for name, r in rows.items()}
    too_low = {n: round(d, 3) for n, d in drops.items() if d > MAX_DROP.get(n, MAX_DROP["default"])}
    assert not too_low, f"accuracy on originals {base:.3f}; conditions that lost too much: {too_low}"
    assert np.mean(list(drops.values())) < 0.04


def test_recovered_images_are_close_to_the_originals(table):
    _, rows = table
    far = {n: round(r.distance, 2) for n, r in rows.items()
           if r.distance > MAX_DISTANCE.get(n, MAX_DISTANCE["default"])}
    assert not far
    assert rows["scan"].distance < 6 and rows["product"].distance < 6


def test_warnings_say_what_was_guessed(table):
    _, rows = table
    assert rows["scan"].warned == 1  # the item spans the picture: it touches the border
    assert rows["product"].warned < 0.1 and rows["frame"].warned > 0.6 and rows["dim"].warned > 0.9


# ---------------------------------------------------------------- each warning on a built picture


def upload(a: np.ndarray) -> images.Steps:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return images.from_upload(buf.getvalue())


def shirt_on_white(h=300, w=400, value=40) -> np.ndarray:
    img = Image.new("L", (w, h), 250)
    ImageDraw.Draw(img).polygon([(150, 80), (250, 80), (290, 130), (265, 150), (250, 140), (250, 240),
                                 (150, 240), (150, 140), (135, 150), (110, 130)], fill=value)
    return np.asarray(img).copy()


def test_a_clean_photo_has_no_warnings():
    steps = upload(shirt_on_white())
    assert steps.warnings == () and not steps.blank
    assert steps.cropped.shape == (161, 181)


def test_a_frame_is_ignored_and_said():
    a = shirt_on_white()
    a[4:7, 4:-4] = a[-7:-4, 4:-4] = a[4:-4, 4:7] = a[4:-4, -7:-4] = 30
    steps = upload(a)
    assert segment.FRAME in steps.warnings
    assert steps.cropped.shape == (161, 181) and not steps.mask[5].any()


def test_several_items_keep_the_largest():
    a = shirt_on_white()
    a[15:65, 10:100] = 40  # a tag, far from the shirt (a fifth of its area)
    steps = upload(a)
    assert "Several items in the picture: took the largest." in steps.warnings
    assert steps.cropped.shape == (161, 181) and not steps.mask[30, 30]


def test_an_item_touching_the_border_is_said():
    a = np.full((200, 300), 245, np.uint8)
    a[50:200, 100:200] = 30
    steps = upload(a)
    assert segment.BORDER in steps.warnings and steps.cropped.shape == (150, 100)


def test_a_small_item_is_said():
    a = np.full((600, 600), 245, np.uint8)
    a[300:330, 300:320] = 30
    steps = upload(a)
    assert any(w.startswith("The item is small") for w in steps.warnings)
    assert not steps.blank


def test_a_dark_picture_is_said_and_still_cut_out():
    steps = upload((shirt_on_white() * 0.25).astype(np.uint8))
    assert segment.DARK in steps.warnings
    assert steps.cropped.shape == (161, 181)


def test_a_busy_backdrop_is_said():
    rng = np.random.default_rng(0)
    a = np.clip(shirt_on_white(value=20) + rng.normal(0, 30, (300, 400)), 0, 255).astype(np.uint8)
    steps = upload(a)
    assert segment.BUSY in steps.warnings
    top, bottom = np.nonzero(steps.mask.any(1))[0][[0, -1]].tolist()
    left, right = np.nonzero(steps.mask.any(0))[0][[0, -1]].tolist()
    assert abs(top - 80) <= 6 and abs(bottom - 240) <= 6 and abs(left - 110) <= 8 and abs(right - 290) <= 8


def test_a_soft_shadow_is_left_out():
    """A shadow cast down-right, 30% dark and blurred: the cut-out is the shirt's box, not the shadow's."""
    a = shirt_on_white().astype(float)
    shirt = a < 128
    moved = np.zeros_like(shirt)
    moved[12:, 12:] = shirt[:-12, :-12]
    shadow = ndimage.gaussian_filter(moved.astype(float), 10)
    rng = np.random.default_rng(0)
    a = np.where(shirt, a, a * (1 - 0.3 * shadow)) + rng.normal(0, 3, a.shape)
    steps = upload(np.clip(a, 0, 255).astype(np.uint8))
    assert abs(steps.cropped.shape[0] - 161) <= 5 and abs(steps.cropped.shape[1] - 181) <= 5  # was 197x203
    assert not steps.mask[250, 200]  # 10 px below the shirt's hem: the shadow's darkest part


def test_uneven_light_is_divided_out():
    """Light falling off 50% across the picture: the cut-out is the same as under even light."""
    even = shirt_on_white()
    ramp = np.linspace(1.0, 0.5, even.shape[1])[None, :]
    uneven = (even * ramp).astype(np.uint8)
    a, b = upload(even), upload(uneven)
    assert b.cropped.shape == a.cropped.shape
    assert np.abs(a.final.astype(int) - b.final).mean() < 4
