"""Generated samples of a run: text (prompt and completion) or images, as widgets or plain text."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget


def sample_widget(path: Path, step: int | None) -> QWidget:
    """Generated text (a JSON sample file) as prompt/output pairs, or an image."""
    box = QWidget()
    layout = QVBoxLayout(box)
    title = QLabel(f"<b>Step {step}</b>" if step is not None else f"<b>{path.name}</b>")
    layout.addWidget(title)
    if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        image = QLabel()
        image.setPixmap(QPixmap(str(path)).scaledToWidth(256, Qt.TransformationMode.SmoothTransformation))
        layout.addWidget(image)
        return box
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        layout.addWidget(QLabel(f"cannot read {path}: {exc}"))
        return box
    for item in data.get("samples", []) if isinstance(data, dict) else []:
        if isinstance(item, dict) and item.get("image"):  # an image sample beside the JSON
            layout.addWidget(_image_sample(path.parent / str(item["image"]), str(item.get("caption", ""))))
            continue
        prompt = item.get("prompt", "") if isinstance(item, dict) else ""
        output = _sample_output(item)
        text = QLabel(f"<i>{html.escape(str(prompt))}</i><br>{html.escape(output)}")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(text)
    return box


def _image_sample(path: Path, caption: str) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    image = QLabel()
    pixmap = QPixmap(str(path))
    if pixmap.isNull():
        image.setText(f"missing image {path.name}")
    else:
        image.setPixmap(pixmap.scaledToWidth(96, Qt.TransformationMode.SmoothTransformation))
    row.addWidget(image)
    text = QLabel(html.escape(caption))
    text.setWordWrap(True)
    row.addWidget(text, 1)
    return box


def sample_text(path: Path) -> str:
    """A sample file's outputs as plain text (for the compare view)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    items = data.get("samples", []) if isinstance(data, dict) else []
    return "\n\n".join(_sample_output(i) for i in items)


def _sample_output(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("completion", item.get("output", item.get("text", item.get("caption", "")))))
    return str(item)
