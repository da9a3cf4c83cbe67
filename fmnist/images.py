"""Turn a user's picture into a 28x28 image in the Fashion-MNIST convention.

Fashion-MNIST items are filled, light-on-dark silhouettes (background 0),
trimmed to the item, longest edge scaled to 28 px, short edge padded, and
centred on the bounding box (not the centre of mass, unlike MNIST). Finding
the item in a photo (backdrop, light, noise, several objects) is fmnist.segment's job.

User bytes go to nothing but Pillow, restricted to ALLOWED_FORMATS, with the
pixel count checked before any decoding.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError

from fmnist import segment

ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
UPLOAD_TYPES = ("png", "jpg", "jpeg", "gif", "bmp", "webp")  # file name endings an upload widget accepts
MAX_PIXELS = 40_000_000  # refuse bigger images before decoding
MAX_BYTES = 5 * 1024 * 1024

SIZE = 28
WORK_SIZE = 512  # bigger pictures are box-reduced first: the item ends up 28 px, and 512 keeps a 12 MP photo fast
INK_LEVEL = 32  # light-on-dark gray level that counts as "something drawn"
MIN_INK_PIXELS = 20  # an item with fewer drawn pixels is a speck: the picture is blank
_HIGH_DEPTH = ("I", "I;16", "I;16L", "I;16B", "I;16N", "F")
_FORMATS_TEXT = "PNG, JPEG, GIF, BMP, WebP"


class ImageError(ValueError):
    """A picture that cannot be used; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Steps:
    """Every intermediate of preprocessing, so a page can show (and classify) each, and what was guessed."""

    gray: np.ndarray  # HxW uint8, grayscale with transparency composited, big pictures reduced
    light_on_dark: np.ndarray  # HxW uint8, backdrop (and uneven light) removed: light item on black
    mask: np.ndarray  # HxW bool, the item that was kept
    filled: np.ndarray  # HxW uint8, the kept item alone, closed outlines filled
    cropped: np.ndarray  # hxw uint8, trimmed to the item's bounding box
    final: np.ndarray  # 28x28 uint8, what the model sees
    blank: bool  # nothing (or almost nothing) drawn: ask the user to draw first
    warnings: tuple[str, ...] = ()  # what had to be guessed, in words for the user


# ---------------------------------------------------------------- decoding


def open_image(data: bytes) -> Image.Image:
    """Decode user bytes safely: size limits first, then Pillow with allowed formats only."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("No file data was received. Upload a picture file.")
    if len(data) == 0:
        raise ImageError(f"The file is empty. Upload a picture file ({_FORMATS_TEXT}).")
    if len(data) > MAX_BYTES:
        raise ImageError(
            f"The file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB. "
            "Upload a smaller or more compressed picture."
        )
    img = _open_header(bytes(data))
    _check_pixels(img.width, img.height)
    img.draft(None, (WORK_SIZE, WORK_SIZE))  # JPEG only: decode at a reduced scale
    try:
        img.load()  # loads the first frame of animated GIF/WebP
    except MemoryError:
        raise ImageError("This image is too large to decode. Upload a smaller picture.") from None
    except Exception as exc:  # Pillow decoders raise many types for malformed data
        raise ImageError(
            "This image file is damaged or incomplete (the picture data ends early or is "
            "corrupt). Upload the file again, or re-save it from an image editor."
        ) from exc
    try:
        return ImageOps.exif_transpose(img)  # also drops the other frames
    except Exception:  # broken EXIF: the pixels are still fine, just not rotated
        return img.copy()


def _open_header(data: bytes) -> Image.Image:
    """Image.open reads only the header; bombs are refused here, before any pixel data."""
    try:
        # Not thread-safe globally, but only turns this warning into an error briefly.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_too_many_pixels_message()) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"This file is not an image Pillow can read ({_FORMATS_TEXT}). Upload a picture file."
        ) from None
    except Exception as exc:  # a recognised format with a broken header
        raise ImageError(
            "This image file is damaged (its header cannot be read). "
            "Upload the file again, or re-save it from an image editor."
        ) from exc


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(_too_many_pixels_message(width, height))
    if width < 1 or height < 1:
        raise ImageError("This image has no pixels. Upload a picture file.")


def _too_many_pixels_message(width: int | None = None, height: int | None = None) -> str:
    size = f" ({width}x{height} = {width * height / 1e6:.0f} megapixels)" if width else ""
    return (
        f"This image is too large{size}; the limit is {MAX_PIXELS / 1e6:.0f} megapixels. "
        "Resize it to a smaller picture and upload it again."
    )


# ---------------------------------------------------------------- entry points


def from_upload(data: bytes) -> Steps:
    return preprocess(open_image(data))


def from_canvas(rgba: np.ndarray) -> Steps:
    """HxWx4 (or HxWx3, HxW) uint8 or float (0..1 or 0..255) array from a drawing canvas."""
    arr = np.asarray(rgba) if rgba is not None else np.empty(0)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if (
        arr.size == 0
        or arr.dtype.kind not in "biuf"
        or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4)))
    ):
        raise ImageError(
            "The drawing canvas sent no picture data. Draw on the canvas and try again."
        )
    _check_pixels(arr.shape[1], arr.shape[0])
    arr = arr.astype(np.float64)
    arr = np.nan_to_num(arr)
    if arr.max() <= 1.0:  # floats in 0..1 (bools too)
        arr = arr * 255
    arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    # Transparent pixels become the background; drawn outlines are filled, as garments are silhouettes.
    return preprocess(Image.fromarray(arr), drawing=True)


def preprocess(img: Image.Image, drawing: bool = False) -> Steps:
    """drawing: fill every enclosed area (a canvas); a photo's holes are filled only if it is an outline."""
    _check_pixels(img.width, img.height)
    gray = _to_gray(img)
    seg = segment.segment(gray, fill_outlines=drawing)
    blank = seg.box is None or np.count_nonzero(seg.filled >= INK_LEVEL) < MIN_INK_PIXELS
    if blank:
        cropped, final = seg.filled, np.zeros((SIZE, SIZE), np.uint8)
    else:
        top, bottom, left, right = seg.box
        cropped = seg.filled[top:bottom, left:right].copy()
        final = _fit(cropped)
    warnings = () if blank else seg.warnings
    return Steps(gray, seg.ink, seg.mask, seg.filled, cropped, final, blank, warnings)


# ---------------------------------------------------------------- steps


def _to_gray(img: Image.Image) -> np.ndarray:
    """8-bit gray, big pictures reduced, transparency composited on the backdrop."""
    gray, alpha = _split_gray_alpha(img)
    if alpha is not None:  # premultiply, so reducing averages colour and alpha correctly
        gray = ImageChops.multiply(gray, alpha)
    factor = math.ceil(max(img.size) / WORK_SIZE)
    if factor > 1:
        gray = gray.reduce(factor)
        alpha = alpha.reduce(factor) if alpha is not None else None
    if alpha is None and gray.mode == "L":
        return np.array(gray)  # already 8-bit: no round trip through floats
    g = np.asarray(gray, dtype=np.float64)
    if alpha is not None:
        a = np.asarray(alpha, dtype=np.float64) / 255
        g = g + _backdrop(g, a) * (1 - a)
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def _split_gray_alpha(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Gray ("L", or "F" for high bit depths) and alpha ("L", or None if opaque)."""
    if img.mode in _HIGH_DEPTH:  # Pillow's convert("L") would clip these at 255
        return Image.fromarray(_scale_high_depth(np.asarray(img), img.mode)), None
    try:
        if img.has_transparency_data:
            la = img.convert("RGBA").convert("LA")
            return la.getchannel("L"), la.getchannel("A")
        return img.convert("L"), None
    except (ValueError, OSError) as exc:
        raise ImageError(
            f"This image uses a colour mode ({img.mode}) that cannot be converted to gray. "
            "Re-save it as an ordinary RGB or grayscale PNG/JPEG and upload it again."
        ) from exc


def _scale_high_depth(arr: np.ndarray, mode: str) -> np.ndarray:
    """Map 16/32-bit or float pixels onto 0..255 (float32) by their real range."""
    a = np.nan_to_num(arr.astype(np.float64))
    lo, hi = float(a.min()), float(a.max())
    if mode.startswith("I;16") or (lo >= 0 and 255 < hi <= 65535):
        a = a / 257  # 16-bit: 0..65535 -> 0..255
    elif lo < 0 or hi > 255:  # unknown range: stretch what is there
        a = (a - lo) * (255 / (hi - lo))
    return a.astype(np.float32)


def _backdrop(premultiplied: np.ndarray, alpha: np.ndarray) -> float:
    """Gray level for transparent areas.

    If the outer frame is mostly opaque, transparent areas take the frame's
    colour. Otherwise the transparent area is the paper: it must contrast with
    what is drawn (black strokes on a transparent canvas -> white paper).
    """
    opaque = alpha >= 0.5
    if not opaque.any():
        return 0.0
    g = np.divide(premultiplied, alpha, out=np.zeros_like(premultiplied), where=alpha > 0)
    frame_g, frame_opaque = _frame(g), _frame(opaque)
    if frame_opaque.mean() >= 0.5:
        return float(np.median(frame_g[frame_opaque]))
    return 255.0 if np.median(g[opaque]) < 128 else 0.0


def _frame(a: np.ndarray) -> np.ndarray:
    """The outer one-pixel frame of a 2-D array, flattened."""
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def _fit(cropped: np.ndarray) -> np.ndarray:
    """Longest edge to 28 px (anti-aliased), full contrast, centred on a black 28x28."""
    h, w = cropped.shape
    scale = SIZE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Area averaging is exact anti-aliasing when shrinking; Lanczos is smoother when enlarging.
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.LANCZOS
    small = np.asarray(Image.fromarray(cropped).resize(size, method), np.float64)
    top = small.max()
    if top > 0:
        small = small * (255 / top)
    out = np.zeros((SIZE, SIZE), np.uint8)
    # An odd margin puts the extra pixel on top/left, as Fashion-MNIST does.
    top_row, left = (SIZE - size[1] + 1) // 2, (SIZE - size[0] + 1) // 2
    out[top_row : top_row + size[1], left : left + size[0]] = np.clip(np.rint(small), 0, 255)
    return out
