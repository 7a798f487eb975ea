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
    images = QHBoxLayout()  # image samples of one step side by side, each over its prompt
    for item in data.get("samples", []) if isinstance(data, dict) else []:
        prompt = item.get("prompt", "") if isinstance(item, dict) else ""
        if isinstance(item, dict) and isinstance(item.get("image"), str):
            images.addWidget(_image_sample(path.parent / item["image"], prompt, str(item.get("caption", ""))))
            continue
        output = _sample_output(item)
        text = QLabel(f"<i>{html.escape(str(prompt))}</i><br>{html.escape(output)}")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(text)
    if images.count():
        images.addStretch(1)
        layout.addLayout(images)
    return box


def _image_sample(path: Path, prompt: str, caption: str) -> QWidget:
    cell = QWidget()
    column = QVBoxLayout(cell)
    column.setContentsMargins(0, 0, 0, 0)
    image = QLabel()
    pixmap = QPixmap(str(path))
    if pixmap.isNull():
        image.setText(f"cannot read {path.name}")
    else:
        # Tiny images (the demo's 32 px) are enlarged without smoothing so their pixels stay visible.
        mode = Qt.TransformationMode.FastTransformation if pixmap.width() < 128 else \
            Qt.TransformationMode.SmoothTransformation
        image.setPixmap(pixmap.scaled(192, 192, Qt.AspectRatioMode.KeepAspectRatio, mode))
    column.addWidget(image)
    label = QLabel(f"<i>{html.escape(prompt)}</i>" + (f"<br><small>{html.escape(caption)}</small>" if caption else ""))
    label.setWordWrap(True)
    label.setMaximumWidth(192)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    column.addWidget(label)
    return cell


def sample_text(path: Path) -> str:
    """A sample file's outputs as plain text (for the compare view)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    items = data.get("samples", []) if isinstance(data, dict) else []
    return "\n\n".join(_sample_output(i) for i in items)


def _sample_output(item: Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("image"), str):
        return f"[image {item['image']}] {item.get('prompt', '')}"
    if isinstance(item, dict):
        return str(item.get("completion", item.get("output", item.get("text", ""))))
    return str(item)
