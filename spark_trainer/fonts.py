"""A font for text drawn into pictures (a classification run's confusion matrix, an export's loss curve): Pillow's
own default font has ASCII letters only, so a class folder named 'dögs' or 'straße' was drawn with a
box for its letter. A common system font is used where one is installed (Pillow looks in the
system's font folders by file name); without one, Pillow's default."""

from __future__ import annotations

import functools
from typing import Any

# Linux (DejaVu, Noto, Liberation), Windows (Segoe UI, Arial), macOS (Arial Unicode, Helvetica).
CANDIDATES = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf", "segoeui.ttf",
              "arial.ttf", "Arial Unicode.ttf", "Arial.ttf", "Helvetica.ttc")


@functools.cache
def label_font(size: int = 10) -> Any:
    """The first installed font of CANDIDATES at `size` pixels, else Pillow's default (ASCII only)."""
    from PIL import ImageFont

    for name in CANDIDATES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:  # not installed here
            continue
    return ImageFont.load_default(size)
