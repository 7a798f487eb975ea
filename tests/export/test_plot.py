"""The loss-curve picture of an export's model card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def test_a_title_beyond_ascii_is_drawn_not_boxed(tmp_path: Path) -> None:
    """The title is the experiment's name, which may be 'Katzen-Größe'; the default font drew boxes."""
    from spark_trainer.export.plot import draw_curves
    from spark_trainer.fonts import label_font

    if label_font().getname()[0] == "Aileron":
        pytest.skip("no system font with these letters on this machine (Pillow's own is ASCII only)")
    series = {"loss": [(1, 2.0), (2, 1.0)]}
    drawn = np.asarray(Image.open(draw_curves(series, tmp_path / "a.png", title="Größe")))
    boxed = np.asarray(Image.open(draw_curves(series, tmp_path / "b.png", title="Gr\U0010fffd\U0010fffde")))
    assert (drawn != boxed).any()
