"""The layer boxes' text and back: '255, 1020, 510' widths, '0.2' dropout rates, '64x3, pool 2, bn' conv rows.

Every parse error is a ValueError whose message says what to type."""
from __future__ import annotations

import re

from fmnist.config import ConvBlock


def format_widths(widths: tuple[int, ...]) -> str:
    return ", ".join(str(w) for w in widths)


def format_rates(rates: tuple[float, ...]) -> str:
    return ", ".join(f"{r:g}" for r in rates) if any(rates) else ""


def format_conv(blocks: tuple[ConvBlock, ...]) -> str:
    return "\n".join(f"{b.filters}x{b.kernel}" + (", same" if b.padding == "same" else "")
                     + (f", pool {b.pool}" if b.pool > 1 else "") + (", bn" if b.batch_norm else "") for b in blocks)


def _items(text: str) -> list[str]:
    return [t.strip() for t in str(text or "").replace(";", ",").split(",") if t.strip()]


def parse_widths(text: str) -> tuple[int, ...]:
    """'255, 1020, 510' -> (255, 1020, 510); ValueError with a message saying what to type."""
    widths = []
    for item in _items(text):
        if not re.fullmatch(r"\d+", item):
            raise ValueError(f"'{item}' is not a whole number of units; type widths separated by commas, "
                             "e.g. 255, 1020, 510")
        widths.append(int(item))
    return tuple(widths)


def parse_rates(text: str, layers: int) -> tuple[float, ...]:
    """'0.2' -> that rate for every layer; '0.2, 0.2, 0' -> one per layer; '' -> none."""
    rates = []
    for item in _items(text):
        try:
            rates.append(float(item))
        except ValueError:
            raise ValueError(f"'{item}' is not a number; type rates between 0 and 0.9, e.g. 0.2") from None
    if len(rates) == 1 and layers > 1:
        rates *= layers
    if not any(rates):
        return ()
    if len(rates) != layers:
        raise ValueError(f"give one rate for all {layers} layers or one per layer (got {len(rates)})")
    return tuple(rates)


_CONV_ROW = re.compile(r"(\d+)\s*[x×*]\s*(\d+)(.*)", re.IGNORECASE)
# the options after FILTERS x KERNEL, in any order, separated by commas or spaces
_CONV_OPTION = re.compile(r"[,\s]*(?:pool\s*(\d+)|(bn)|(same|valid))\b[,\s]*", re.IGNORECASE)
CONV_SYNTAX = "FILTERS x KERNEL[, same][, pool N][, bn]"


def parse_conv(text: str) -> tuple[ConvBlock, ...]:
    """One block a line (or ';'-separated): '64x3, same, pool 2, bn' -> ConvBlock(64, 3, 2, True, "same")."""
    blocks = []
    rows = [r.strip() for r in re.split(r"[\n;]", str(text or "")) if r.strip()]
    for n, row in enumerate(rows, 1):
        match = _CONV_ROW.fullmatch(row)
        options = _conv_options(match.group(3)) if match else None
        if options is None:
            raise ValueError(f"line {n} '{row}' is not {CONV_SYNTAX}; e.g. 64x3, pool 2")
        blocks.append(ConvBlock(int(match.group(1)), int(match.group(2)), **options))
    return tuple(blocks)


def _conv_options(rest: str) -> dict | None:
    """', same, pool 2, bn' -> {'padding': 'same', 'pool': 2, 'batch_norm': True}; None when a word is not one."""
    options: dict = {"pool": 0, "batch_norm": False}
    at = 0
    while at < len(rest):
        match = _CONV_OPTION.match(rest, at)
        if not match:
            return None
        pool, bn, padding = match.groups()
        if pool:
            options["pool"] = int(pool)
        options["batch_norm"] |= bool(bn)
        if padding:
            options["padding"] = padding.lower()
        at = match.end()
    return options
