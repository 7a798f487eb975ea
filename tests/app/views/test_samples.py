"""Samples are read and decoded on the pool (load_sample); building their widgets reads no file."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from PySide6.QtWidgets import QLabel

from app.views.samples import load_sample, sample_widget


def _labels(widget) -> list[QLabel]:
    return widget.findChildren(QLabel)


def test_text_and_image_samples_build_from_what_was_loaded_without_the_files(qtbot, tmp_path: Path) -> None:
    Image.new("RGB", (32, 32), (200, 30, 30)).save(tmp_path / "cat.png")
    (tmp_path / "text.json").write_text(json.dumps({"samples": [{"prompt": "Once", "completion": "upon a time"}]}))
    (tmp_path / "images.json").write_text(json.dumps({"samples": [{"prompt": "a red cat", "image": "cat.png"}]}))
    loaded = [load_sample(tmp_path / "text.json", 10), load_sample(tmp_path / "images.json", 20),
              load_sample(tmp_path / "cat.png", None)]
    for name in ("text.json", "images.json", "cat.png"):
        (tmp_path / name).unlink()  # the widgets must come from memory

    text, images, single = (sample_widget(s) for s in loaded)
    for widget in (text, images, single):
        qtbot.addWidget(widget)
    assert any("upon a time" in label.text() for label in _labels(text))
    assert any("<b>Step 20</b>" == label.text() for label in _labels(images))
    pictures = [label.pixmap() for label in _labels(images) + _labels(single) if not label.pixmap().isNull()]
    assert [p.width() for p in pictures] == [192, 256]  # the 32 px image enlarged, as shown


def test_an_unreadable_sample_says_so(qtbot, tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    widget = sample_widget(load_sample(tmp_path / "broken.json", 5))
    qtbot.addWidget(widget)
    assert any(label.text().startswith("cannot read") for label in _labels(widget))
