"""Curve colours: a colour-blind-friendly palette, a metric key's own colour, and pale mixes."""

from __future__ import annotations

import zlib

import pyqtgraph as pg

# Distinct, colour-blind-friendly colours (Okabe-Ito, then Tableau).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#4E79A7", "#F28E2B", "#59A14F", "#E15759", "#B07AA1"]


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


# Training and evaluation loss share the Loss chart: fixed colours tell them apart. Every other key takes
# a colour from its name's checksum, so a curve's colour never depends on the order keys arrive in.
KEY_COLOURS = {"loss": 0, "train_loss": 0, "eval_loss": 1, "val_loss": 1}
_HASHED = [c for c in PALETTE if c != "#F0E442"]  # yellow is hard to see on the light theme


def key_colour(key: str) -> str:
    """The colour of metric `key`'s curve, the same in every chart and session."""
    index = KEY_COLOURS.get(key.lower())
    return PALETTE[index] if index is not None else _HASHED[zlib.crc32(key.lower().encode()) % len(_HASHED)]


def mix(colour_a: str, colour_b: str, share_a: float):
    a, b = pg.mkColor(colour_a), pg.mkColor(colour_b)
    return pg.mkColor(*(int(share_a * x + (1 - share_a) * y) for x, y in
                        ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue()))))
