"""Find the item in a grayscale picture: remove the backdrop (uneven light included), threshold,
clean the mask, keep the main object, cut off a soft shadow, and say what had to be guessed.

The ink image is the item light on black, as Fashion-MNIST stores it. A light backdrop is
divided out (ink = 1 - picture / backdrop), so light falling off across a photo cancels; a
dark backdrop (a drawing canvas) is subtracted. The backdrop itself is a smooth surface fitted
robustly to the pixels that are not the item.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage import filters, morphology, segmentation

FIT_SIDE = 48  # the backdrop surface is fitted on a copy this small: it is smooth anyway
FIT_ROUNDS = 12
FIT_TOLERANCE = 6.0  # gray levels below the fitted backdrop that still count as backdrop
BAND = 0.05  # the outer 5% of each side decides which side of the threshold is the backdrop
LOW_FLOOR = 3.0  # hysteresis: weakest ink (0..255) kept when it touches the item
LOW_SHARE = 0.25  # ... under uneven light, at least this share of Otsu's level (the fit leaves a few levels of residue)
UNEVEN = 12.0  # gray levels the backdrop surface spans: uneven light
NOISE_LOW = 4.0  # ... or this many noise sigmas (of the blurred ink), when the backdrop is noisier
SPECK_SHARE = 0.0005  # mask pieces smaller than this share of the picture are dust
HOLE_SHARE = 0.002  # mask holes smaller than this share of the picture are texture inside the item
GAP_SHARE = 0.03  # pieces closer than this share of the picture's long side are one item
SOFT_BAND = 3.0  # ink below Otsu's level spreading this many pixels from the edge, on average: maybe a shadow
SOFT_LENGTH = 2.2  # ... and where its outer edge would take this long to fade (in Sobel's units: 3 px; sharp edges 1-2)
OTHER_ITEM = 0.15  # another piece this big (share of the chosen one) is worth a warning
OUTLINE_SHARE = 0.5  # holes over half the silhouette: an outline to fill (real items stay below 0.4)
MIN_HOLE = 0.02  # canvas: enclosed holes over this share of the silhouette are filled
FRAME_SPAN = 0.85  # a piece spanning this much of both sides ...
FRAME_FILL = 0.25  # ... and filling less than this of its box is a frame
MIN_SIDE = 28  # an item smaller than the model's input, in picture pixels
SMALL_SHARE = 0.1  # ... or than this share of the picture's long side
FAINT_LEVEL = 40  # Otsu's threshold on the ink below this: the item hardly differs from the backdrop
DARK_LEVEL = 90  # the brightest 1% below this gray level: under-exposed
BUSY_NOISE = 9.0  # backdrop texture/noise (sigma, ink levels) that makes the cut-out a guess
BUSY_SPECKS = 25

BUSY = "Busy backdrop: its texture or noise was removed, and faint parts of the item may have gone with it."
BORDER = "The item touches the border of the picture: part of it may be cut off."
FRAME = "A frame around the picture was ignored."
SMALL = "The item is small in this picture ({side} px across): move closer or crop the photo."
DARK = "The picture is very dark: take it in more light for a surer answer."
FAINT = "The item barely stands out from the backdrop: the cut-out is a guess."


@dataclass(frozen=True)
class Segmentation:
    ink: np.ndarray  # HxW uint8: backdrop removed, the item light on black
    mask: np.ndarray  # HxW bool: the item that was kept
    filled: np.ndarray  # HxW uint8: ink inside the kept item, outlines filled, 0 elsewhere
    box: tuple[int, int, int, int] | None  # top, bottom, left, right (exclusive) of the item
    warnings: tuple[str, ...]
    light_backdrop: bool


def segment(gray: np.ndarray, fill_outlines: bool = False) -> Segmentation:
    """The item in an HxW uint8 picture; fill_outlines fills any enclosed area (canvas drawings)."""
    g = gray.astype(np.float32)
    light = _backdrop_is_light(gray)
    ink, backdrop_noise, uneven = _remove_backdrop(g, light)
    notes: list[str] = []
    if np.percentile(gray, 99) < DARK_LEVEL:
        notes.append(DARK)
    smooth = ndimage.gaussian_filter(ink.astype(np.float32), 1.0) if min(ink.shape) >= 8 else ink
    mask, specks, faint, high = _threshold(ink, smooth, backdrop_noise, uneven)
    if backdrop_noise > BUSY_NOISE or specks > BUSY_SPECKS:
        notes.append(BUSY)
    if faint and mask.any():
        notes.append(FAINT)
    mask = _drop_shadow(smooth, _choose_item(mask, notes), high)
    if not mask.any():
        empty = np.zeros_like(gray)
        return Segmentation(_u8(ink), mask, empty, None, tuple(notes), light)
    filled = _fill(ink, mask, fill_outlines)
    box = _box(mask)
    _check_size_and_border(mask, box, notes)
    return Segmentation(_u8(ink), mask, filled, box, tuple(dict.fromkeys(notes)), light)


# ---------------------------------------------------------------- backdrop


def _backdrop_is_light(gray: np.ndarray) -> bool:
    """The backdrop is the outer band's level; it is light when the picture reaches further below it
    (a dark item) than above it. Otsu's threshold decides a tie (a thin stroke), not first: on a
    photo with uneven light it splits the light backdrop from the shaded one, not item from backdrop."""
    if gray.min() == gray.max():
        return bool(gray.flat[0] > 127)
    band = float(np.median(_band(gray)))
    low, high = np.percentile(gray, [0.5, 99.5])
    if band - low != high - band:
        return bool(band - low > high - band)
    return bool(band > filters.threshold_otsu(gray))


def _band(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    dy, dx = max(1, round(BAND * h)), max(1, round(BAND * w))
    return np.concatenate([a[:dy].ravel(), a[-dy:].ravel(), a[:, :dx].ravel(), a[:, -dx:].ravel()])


def _remove_backdrop(g: np.ndarray, light: bool) -> tuple[np.ndarray, float, bool]:
    """Ink (float 0..255), the backdrop's noise sigma in ink levels, and whether the light is uneven."""
    sign = 1.0 if light else -1.0  # the item is darker than a light backdrop, lighter than a dark one
    surface = _fit_backdrop(g, sign)
    if light:
        ink = 255.0 * (1.0 - g / np.maximum(surface, 1.0))
    else:
        ink = g - surface
    below = ink[ink < 0]  # only the backdrop's noise goes below zero: half of a centred normal
    noise = float(1.4826 * np.median(-below)) if below.size else 0.0
    uneven = float(surface.max() - surface.min()) > UNEVEN
    return np.clip(ink, 0, 255), noise, uneven


def _fit_backdrop(g: np.ndarray, sign: float) -> np.ndarray:
    """A smooth surface through the backdrop: the flattest of a constant, a plane, a quadratic and a
    cubic that fits nearly as well as the cubic (a white sheet stays flat, uneven light gets a curve)."""
    h, w = g.shape
    small, terms = _small_terms(g)
    values = sign * small.ravel()  # the item lies below the backdrop in these units
    noise = _pixel_noise(small)
    fits = [_envelope_fit(terms[:, :n], values, noise) for n in (1, 3, 6, 10)]
    backdrop = fits[-1][1]  # judged on the pixels the cubic calls backdrop
    spread = [_sigma(values[backdrop] - terms[backdrop, :c.size] @ c) for c, _ in fits]
    coef = next(c for c, sigma in zip((c for c, _ in fits), spread) if sigma <= 1.25 * spread[-1] + 1.0)
    grid = np.zeros((4, 4), np.float32)  # grid[i, j]: the coefficient of y**i * x**j
    for c, (i, j) in zip(sign * coef, EXPONENTS):
        grid[i, j] = c
    powers = np.arange(4)
    rows = (np.linspace(0, 1, h, dtype=np.float32)[:, None] ** powers) @ grid  # h x 4: a cubic in x per row
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    # Four full-size passes instead of ten (a BLAS product would be one, but its threads stall on a busy machine).
    return rows[:, :1] + xx * (rows[:, 1:2] + xx * (rows[:, 2:3] + xx * rows[:, 3:4]))


def _small_terms(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The picture box-reduced to FIT_SIDE (noise averages out) and the polynomial terms at its pixels."""
    h, w = g.shape
    scale = min(1.0, FIT_SIDE / max(h, w))
    small_size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray(g).resize(small_size, Image.Resampling.BOX), np.float64)
    ys, xs = np.mgrid[0:small.shape[0], 0:small.shape[1]]
    return small, _terms(ys / max(1, small.shape[0] - 1), xs / max(1, small.shape[1] - 1))


def _envelope_fit(terms: np.ndarray, values: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Least squares that climbs out of the item: each round refits without the pixels that lie
    well below the last fit. Returns the fit and the pixels it kept (the backdrop)."""
    keep = np.ones(values.size, bool)
    coef = np.zeros(terms.shape[1])
    for _ in range(FIT_ROUNDS):
        if keep.sum() < terms.shape[1] * 3:
            break
        kept = terms[keep]
        coef = np.linalg.solve(kept.T @ kept + 1e-9 * np.eye(kept.shape[1]), kept.T @ values[keep])
        new = values - terms @ coef > -max(3 * noise, FIT_TOLERANCE)
        if (new == keep).all():
            break
        keep = new
    return coef, keep


def _pixel_noise(a: np.ndarray) -> float:
    """Noise sigma from neighbour differences: edges are few, so their median is the noise's."""
    if a.shape[1] < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(np.diff(a, axis=1))) / np.sqrt(2))


EXPONENTS = ((0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (1, 1), (3, 0), (0, 3), (2, 1), (1, 2))  # of y, x in _powers


def _powers(y, x) -> list:
    """1, y, x, then the quadratic and the cubic terms: each fit uses a prefix of this list."""
    return [1.0, y, x, y * y, x * x, y * x, y * y * y, x * x * x, y * y * x, y * x * x]


def _terms(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    y, x = y.ravel(), x.ravel()
    return np.stack([np.broadcast_to(t, y.shape) for t in _powers(y, x)], axis=1)


def _sigma(values: np.ndarray) -> float:
    """A robust standard deviation (1.4826 median absolute deviation)."""
    if values.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


# ---------------------------------------------------------------- mask


def _threshold(ink: np.ndarray, smooth: np.ndarray, noise: float, uneven: bool) -> tuple[np.ndarray, int, bool, float]:
    """Hysteresis between Otsu's threshold and the noise floor on the blurred ink (smooth): the mask,
    the specks dropped, whether the item is faint, and the upper level."""
    top = float(smooth.max())
    low = max(LOW_FLOOR, NOISE_LOW * noise / 3.5)  # a blur of sigma 1 divides white noise by 3.5
    if top <= low:
        return np.zeros(ink.shape, bool), 0, False, top
    otsu = filters.threshold_otsu(smooth) if smooth.min() < top else top
    if uneven:
        low = max(low, LOW_SHARE * otsu)
    high = max(otsu, low + 1)
    # Seeds and reach come from the blurred ink (noise averages out); the edge from the sharp one.
    mask = filters.apply_hysteresis_threshold(smooth, low, min(high, top - 1e-3)) & (ink >= low)
    labels, count = ndimage.label(mask, np.ones((3, 3)))
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    small = areas < max(2, SPECK_SHARE * ink.size)
    small[0] = False
    mask &= ~small[labels]
    mask = morphology.remove_small_holes(mask, max_size=max(1, int(HOLE_SHARE * ink.size)))
    return mask, int(small.sum()), otsu < FAINT_LEVEL, high


def _drop_shadow(smooth: np.ndarray, mask: np.ndarray, high: float) -> np.ndarray:
    """A soft shadow is a smooth darkening around the item, the item's edge is sharp: a watershed on
    the ink's gradient, flooded from the backdrop and from the strong ink, splits the weak ink at the
    item's edge; the pieces it gives the backdrop are dropped where their own outer edge fades out
    slowly (faint parts of the item end in a sharp edge and stay)."""
    if not mask.any():
        return mask
    edge = np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1])
    if np.count_nonzero(mask & (smooth < high)) < SOFT_BAND * edge or smooth[mask].min() == smooth[mask].max():
        return mask  # only the edge's own slope lies below Otsu's level
    high = max(high, filters.threshold_otsu(smooth[mask]))  # the item's own: a shadow can pass the whole picture's
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    box = (slice(max(0, rows[0] - 2), rows[-1] + 3), slice(max(0, cols[0] - 2), cols[-1] + 3))
    ink, inside = smooth[box], mask[box]
    markers = np.where(inside, 0, 1).astype(np.int32)
    markers[inside & (ink >= high)] = 2
    gradient = filters.sobel(ink)
    pieces, count = ndimage.label(inside & (segmentation.watershed(gradient, markers) == 1))
    if count == 0:
        return mask
    rim = inside & ~ndimage.binary_erosion(inside, border_value=1)  # the picture's edge is no outline
    fade = ink / np.maximum(gradient, 1e-6)  # how far the ink would fall to nothing at this slope
    length = ndimage.median(fade, np.where(rim, pieces, 0), np.arange(1, count + 1))
    length = np.nan_to_num(np.asarray(length, float), nan=0.0)  # a piece inside the item: keep it
    soft = np.concatenate([[False], length > SOFT_LENGTH])
    out = mask.copy()
    out[box] &= ~soft[pieces]
    return out


def _choose_item(mask: np.ndarray, notes: list[str]) -> np.ndarray:
    """Group nearby pieces, drop a frame, keep the largest group (weighted towards the centre)."""
    h, w = mask.shape
    mask = _drop_frame_lines(mask, notes)
    if ndimage.label(mask, np.ones((3, 3)))[1] <= 1:
        return mask  # one piece: nothing to group (the distance transform below is the slow part)
    gap = GAP_SHARE * max(h, w)
    groups, count = ndimage.label(ndimage.distance_transform_edt(~mask) <= gap / 2)
    if count <= 1:
        return mask
    groups = np.where(mask, groups, 0)
    ids = np.arange(1, count + 1)
    areas = ndimage.sum_labels(mask, groups, ids)
    boxes = ndimage.find_objects(groups, count)
    alive = areas > 0
    for i, box in enumerate(boxes):
        if box is not None and _is_frame(box, areas[i], h, w) and alive.sum() > 1:
            alive[i] = False
            notes.append(FRAME)
    centres = np.array(ndimage.center_of_mass(mask, groups, ids), dtype=float).reshape(-1, 2)
    offset = np.hypot((centres[:, 0] - h / 2) / h, (centres[:, 1] - w / 2) / w) / np.hypot(0.5, 0.5)
    score = np.where(alive, areas * (1 - 0.5 * np.nan_to_num(offset, nan=1.0)), -1)
    best = int(np.argmax(score))
    others = alive & (areas >= OTHER_ITEM * areas[best])
    others[best] = False
    if others.any():
        how = "the largest" if areas[best] >= areas[others].max() else "the one nearest the centre"
        notes.append(f"Several items in the picture: took {how}.")
    return groups == best + 1


def _drop_frame_lines(mask: np.ndarray, notes: list[str]) -> np.ndarray:
    """Rows and columns of the outer band that the mask spans almost wholly: a frame's sides. They
    are cleared first, so an item that a speck of noise joins to the frame is not taken with it."""
    h, w = mask.shape
    row_share, col_share = mask.mean(axis=1), mask.mean(axis=0)
    rows, cols = row_share >= FRAME_SPAN, col_share >= FRAME_SPAN
    dy, dx = max(1, round(BAND * h)), max(1, round(BAND * w))
    for lines, share, d, n in ((rows, row_share, dy, h), (cols, col_share, dx, w)):
        lines[d:n - d] = False
        for side, inward in ((lines[:d], share), (lines[n - d:][::-1], share[::-1])):
            hit = np.flatnonzero(side)
            # Inside a frame lies backdrop; a line the mask half fills is an item reaching the border.
            if hit.size and (inward[hit[-1] + 1:hit[-1] + 3] >= 0.5).any():
                side[:] = False
    if not (rows.any() or cols.any()) or (rows.all() and cols.all()):
        return mask
    notes.append(FRAME)
    out = mask.copy()
    out[ndimage.binary_dilation(rows, iterations=1)] = False
    out[:, ndimage.binary_dilation(cols, iterations=1)] = False
    return out


def _is_frame(box: tuple[slice, slice], area: float, h: int, w: int) -> bool:
    bh, bw = box[0].stop - box[0].start, box[1].stop - box[1].start
    return bh >= FRAME_SPAN * h and bw >= FRAME_SPAN * w and area < FRAME_FILL * bh * bw


def _fill(ink: np.ndarray, mask: np.ndarray, fill_outlines: bool) -> np.ndarray:
    """The item's ink, with enclosed areas filled when the item is an outline (or a canvas drawing)."""
    out = np.where(mask, ink, 0)
    # The holes are the 4-connected backdrop pieces that miss the border (binary_fill_holes' rule,
    # from one labelling instead of its repeated dilations).
    holes, count = ndimage.label(~mask)
    areas = np.bincount(holes.ravel(), minlength=count + 1)
    areas[0] = 0
    areas[np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]])] = 0
    if not areas.any():
        return _u8(out)
    solid = mask.sum() + areas.sum()
    if fill_outlines:
        big = areas >= MIN_HOLE * solid  # small holes in a drawing are texture (checks, stripes)
    else:
        big = np.full(count + 1, mask.sum() < OUTLINE_SHARE * solid)
    enclosed = (big & (areas > 0))[holes]
    if enclosed.any():
        out[enclosed] = np.maximum(out[enclosed], np.median(ink[mask]))
    return _u8(out)


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _check_size_and_border(mask: np.ndarray, box: tuple[int, int, int, int], notes: list[str]) -> None:
    top, bottom, left, right = box
    h, w = mask.shape
    if top == 0 or left == 0 or bottom == h or right == w:
        notes.append(BORDER)
    side = max(bottom - top, right - left)
    if side < max(MIN_SIDE, SMALL_SHARE * max(h, w)):
        notes.append(SMALL.format(side=side))


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)
