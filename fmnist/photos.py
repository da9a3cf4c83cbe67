"""Photos of Fashion-MNIST items as shops and phones make them, to measure the upload pipeline.

Each condition turns one 28x28 test image into an encoded picture file: the item (reflectance
255 - pixel, as the dataset was made from product photos on white) enlarged and placed off-centre
on a backdrop, with light, texture, shadow, frame, clutter, noise and JPEG as the condition says.
Everything is drawn from a seeded generator, so a condition and a seed give the same bytes.
`evaluate` runs a model on the originals and on the recovered 28x28s: the table in the bench."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

EDGE_RAMP = 32.0  # the item's coverage rises from 0 to 1 over its faintest 32 gray levels


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    item_px: tuple[int, int] = (140, 420)  # the item's long edge, drawn uniformly
    room: tuple[float, float] = (1.4, 2.2)  # picture side / item side, per axis
    noise: float = 0.0  # Gaussian sigma, gray levels
    jpeg: int | None = None  # quality; None saves a PNG
    light: float = 0.0  # light falling off across the picture: 0.3 = 30% darker at the far side
    vignette: float = 0.0  # corners this much darker
    exposure: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # backdrop reflectance per RGB channel
    woven: float = 0.0  # amplitude of a woven texture on the backdrop
    shadow: float = 0.0  # darkest point of a soft shadow cast down-right
    frame: bool = False  # a thin dark frame a little inside the edge
    clutter: bool = False  # a second, smaller dark object (a tag) beside the item
    centred: bool = False
    # Nearest-neighbour enlargement keeps the 28x28 recoverable pixel for pixel, so the distance
    # measures the pipeline; a smooth enlargement adds its own blur (the product_smooth condition).
    smooth: bool = False


PRODUCT = dict(noise=4.0)
PHONE = dict(item_px=(180, 320), room=(1.5, 1.9), noise=5.0, jpeg=70)

CONDITIONS = (
    Condition("scan", "enlarged 10x, centred, dark on white, PNG", item_px=(280, 280), room=(1.0, 1.0),
              centred=True),
    Condition("product", "dark on white, 140-420 px, off-centre, PNG"),
    Condition("product_smooth", "product, enlarged bicubic (smooth) instead of nearest", smooth=True),
    Condition("product_noise", "product, Gaussian noise sigma 4", **PRODUCT),
    Condition("product_jpeg", "product, noise sigma 4, JPEG q80", **PRODUCT, jpeg=80),
    Condition("product_small", "item 100-140 px on a 2-3x picture, noise, JPEG q80", item_px=(100, 140),
              room=(2.0, 3.0), noise=4.0, jpeg=80),
    Condition("uneven_light", "light falls off 35% across the picture, vignette, noise", light=0.35,
              vignette=0.25, noise=4.0),
    Condition("tinted", "beige backdrop (RGB 0.96/0.90/0.80), noise", tint=(0.96, 0.90, 0.80), noise=4.0),
    Condition("woven", "woven backdrop texture (+-6%), noise", woven=0.06, noise=4.0),
    Condition("shadow", "soft shadow down-right, 30% dark, noise", shadow=0.30, noise=4.0),
    Condition("frame", "thin dark frame inside the edge, noise", frame=True, noise=4.0),
    Condition("clutter", "a dark tag beside the item, noise", clutter=True, noise=4.0),
    Condition("dim", "under-exposed (30% light), noise sigma 3, JPEG q80", exposure=0.3, noise=3.0, jpeg=80),
    Condition("phone", "uneven light, tinted woven backdrop, soft shadow, thin frame, noise 5, JPEG q70",
              light=0.3, vignette=0.2, tint=(0.95, 0.92, 0.86), woven=0.05, shadow=0.25, frame=True, **PHONE),
)
BY_NAME = {c.name: c for c in CONDITIONS}


def photo(image28: np.ndarray, condition: Condition, seed: int) -> bytes:
    """One 28x28 uint8 image as an encoded picture under the condition."""
    rng = np.random.default_rng(seed)
    return encode(render(image28, condition, rng), condition.jpeg)


def render(image28: np.ndarray, c: Condition, rng: np.random.Generator) -> np.ndarray:
    """HxWx3 uint8 picture of the item under condition c."""
    side = int(rng.integers(c.item_px[0], c.item_px[1] + 1))
    method = Image.Resampling.BICUBIC if c.smooth else Image.Resampling.NEAREST
    item = np.clip(np.asarray(Image.fromarray(image28).resize((side, side), method), np.float32), 0, 255)
    height, width = (int(side * rng.uniform(*c.room)) for _ in range(2))
    top, left = _place(rng, (height, width), side, c.centred)
    ink = np.zeros((height, width), np.float32)
    ink[top:top + side, left:left + side] = item
    cover = np.clip(ink / EDGE_RAMP, 0, 1)
    backdrop = np.ones((height, width, 3), np.float32) * np.asarray(c.tint, np.float32) * 255
    if c.woven:
        backdrop *= 1 + c.woven * _weave(rng, height, width)[..., None]
    if c.shadow:
        backdrop *= 1 - c.shadow * _shadow(cover, side)[..., None]
    if c.clutter:
        tag = _tag(rng, (height, width), (top, left, side))
        backdrop *= 1 - 0.85 * tag[..., None]
    reflect = (255 - ink)[..., None]
    picture = cover[..., None] * reflect + (1 - cover[..., None]) * backdrop
    picture *= _light(rng, height, width, c)[..., None] * c.exposure
    if c.frame:
        _draw_frame(rng, picture)
    picture += c.noise * rng.standard_normal(picture.shape, np.float32) if c.noise else 0
    return np.clip(np.rint(picture), 0, 255).astype(np.uint8)


def big_photo(image28: np.ndarray, size: tuple[int, int], seed: int) -> bytes:
    """A phone-sized JPEG (q70) of the item: the phone condition drawn small, enlarged, then its noise."""
    rng = np.random.default_rng(seed)
    quiet = Condition("big", "", **{**PHONE, "noise": 0.0}, light=0.3, vignette=0.2, tint=(0.95, 0.92, 0.86),
                      woven=0.05, shadow=0.25)
    small = Image.fromarray(render(image28, quiet, rng)).resize(size, Image.Resampling.BICUBIC)
    noisy = np.asarray(small, np.int16) + rng.integers(-4, 5, (size[1], size[0], 1), dtype=np.int16)
    return encode(np.clip(noisy, 0, 255).astype(np.uint8), 70)


def encode(rgb: np.ndarray, jpeg: int | None) -> bytes:
    buf = io.BytesIO()
    if jpeg is None:
        Image.fromarray(rgb).save(buf, "PNG", compress_level=1)
    else:
        Image.fromarray(rgb).save(buf, "JPEG", quality=jpeg)
    return buf.getvalue()


def _place(rng, shape: tuple[int, int], side: int, centred: bool) -> tuple[int, int]:
    height, width = shape
    if centred:
        return (height - side) // 2, (width - side) // 2
    margin = max(2, round(0.04 * max(height, width)))
    top = int(rng.integers(min(margin, height - side), max(margin, height - side - margin) + 1))
    left = int(rng.integers(min(margin, width - side), max(margin, width - side - margin) + 1))
    return top, left


def _light(rng, height: int, width: int, c: Condition) -> np.ndarray:
    """Illumination: a linear fall-off in a random direction and a vignette."""
    y = (np.arange(height, dtype=np.float32) / max(1, height - 1) - 0.5)[:, None]
    x = (np.arange(width, dtype=np.float32) / max(1, width - 1) - 0.5)[None, :]
    angle = rng.uniform(0, 2 * np.pi)
    along = (np.cos(angle) * x + np.sin(angle) * y) / np.sqrt(0.5) + 0.5  # 0 to 1 from corner to corner
    return (1 - c.light * along) * (1 - c.vignette * (x * x + y * y) / 0.5)


def _weave(rng, height: int, width: int) -> np.ndarray:
    """-1..1: threads over and under in a checker of period p, plus fibre noise."""
    p = rng.uniform(5, 9)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    over = (np.sin(np.pi * x / p) * np.sin(np.pi * y / p)) > 0
    threads = np.where(over, np.sin(2 * np.pi * x / p), np.sin(2 * np.pi * y / p))
    fibres = ndimage.gaussian_filter(rng.standard_normal((height, width), np.float32), 1.0)
    return np.clip(0.7 * threads + 0.9 * fibres, -1, 1)


def _shadow(cover: np.ndarray, side: int) -> np.ndarray:
    """0..1: the item's outline shifted down-right and blurred (at a quarter of the size: it is soft)."""
    shift = max(1, round(0.05 * side))
    moved = np.zeros_like(cover)
    moved[shift:, shift:] = cover[:-shift, :-shift]
    small = ndimage.gaussian_filter(moved[::4, ::4], 0.015 * side)
    full = Image.fromarray(small.astype(np.float32)).resize(cover.shape[::-1], Image.Resampling.BILINEAR)
    return np.clip(np.asarray(full), 0, 1)


def _tag(rng, shape: tuple[int, int], item: tuple[int, int, int]) -> np.ndarray:
    """0..1: a small ellipse in the corner farthest from the item."""
    height, width = shape
    top, left, side = item
    cy = height * 0.12 if top + side / 2 > height / 2 else height * 0.88
    cx = width * 0.12 if left + side / 2 > width / 2 else width * 0.88
    ry, rx = side * rng.uniform(0.06, 0.09), side * rng.uniform(0.09, 0.13)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    inside = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
    return ndimage.gaussian_filter(inside.astype(float), 1.0)


def _draw_frame(rng, picture: np.ndarray) -> None:
    height, width = picture.shape[:2]
    inset = max(1, round(rng.uniform(0.005, 0.02) * min(height, width)))
    thick = int(rng.integers(2, 5))
    level = rng.uniform(40, 80)
    for sl in ((slice(inset, inset + thick), slice(inset, width - inset)),
               (slice(height - inset - thick, height - inset), slice(inset, width - inset)),
               (slice(inset, height - inset), slice(inset, inset + thick)),
               (slice(inset, height - inset), slice(width - inset - thick, width - inset))):
        picture[sl] = level


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    condition: str
    description: str
    n: int
    accuracy: float  # the model on the recovered 28x28s
    agreement: float  # same class as on the originals
    distance: float  # mean absolute pixel difference, recovered vs original (0..255)
    warned: float  # share of pictures that got at least one warning

    def as_dict(self) -> dict:
        return {"condition": self.condition, "what": self.description, "n": self.n,
                "accuracy": round(self.accuracy, 4), "same class": round(self.agreement, 4),
                "pixel distance": round(self.distance, 2), "warned": round(self.warned, 3)}


def recover(images28: np.ndarray, condition: Condition, seed: int) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Photograph each image under the condition and bring it back through the upload pipeline."""
    from fmnist import images

    out, warnings = [], []
    for i, x in enumerate(images28):
        steps = images.from_upload(photo(x, condition, seed + i))
        out.append(steps.final)
        warnings.append(steps.warnings)
    return np.stack(out), warnings


def evaluate(predict_proba, images28: np.ndarray, labels: np.ndarray, conditions=CONDITIONS,
             seed: int = 20240601) -> tuple[float, list[Row]]:
    """Accuracy on the originals, and one Row per condition; predict_proba maps (n,28,28) uint8 -> (n,10)."""
    on_originals = np.asarray(predict_proba(images28)).argmax(1)
    base = float(np.mean(on_originals == labels))
    rows = []
    for c in conditions:
        recovered, warnings = recover(images28, c, seed)
        guess = np.asarray(predict_proba(recovered)).argmax(1)
        distance = float(np.abs(recovered.astype(np.int16) - images28).mean())
        rows.append(Row(c.name, c.description, len(labels), float(np.mean(guess == labels)),
                        float(np.mean(guess == on_originals)), distance, float(np.mean([bool(w) for w in warnings]))))
    return base, rows
