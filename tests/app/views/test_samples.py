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


def test_image_samples_of_a_step_wrap_to_the_width_and_reflow_on_resize(qtbot, tmp_path: Path) -> None:
    """Six images a step scrolled sideways at 1280 px (a row of 6 x 192 px); they wrap to the width
    the Samples tab has, and take fewer rows when it widens."""
    from PySide6.QtWidgets import QScrollArea

    items = []
    for i in range(6):
        Image.new("RGB", (64, 64), (40 * i, 90, 160)).save(tmp_path / f"{i}.png")
        items.append({"prompt": f"shape {i}", "caption": f"seed {i}", "image": f"{i}.png"})
    (tmp_path / "step.json").write_text(json.dumps({"samples": items}))
    scroll = QScrollArea()  # as in the run detail's Samples tab
    scroll.setWidgetResizable(True)
    scroll.setWidget(sample_widget(load_sample(tmp_path / "step.json", 40)))
    qtbot.addWidget(scroll)
    scroll.resize(700, 600)
    scroll.show()

    def rows() -> int:
        pictures = [label for label in _labels(scroll.widget()) if not label.pixmap().isNull()]
        assert len(pictures) == 6
        return len({label.mapTo(scroll.widget(), label.rect().topLeft()).y() for label in pictures})

    qtbot.waitUntil(lambda: rows() == 2)  # 3 images of 192 px a row fit in 700 px
    assert scroll.horizontalScrollBar().maximum() == 0
    scroll.resize(1400, 600)
    qtbot.waitUntil(lambda: rows() == 1)
    scroll.resize(450, 600)
    qtbot.waitUntil(lambda: rows() == 3)
    assert scroll.horizontalScrollBar().maximum() == 0
