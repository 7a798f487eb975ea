"""Generated samples of a run: text (prompt and completion) or images, as widgets or plain text.

Files are read and images decoded by `load_sample` on the pool; `sample_widget` only builds widgets."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.flow_layout import FlowLayout

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class ImageSample:
    image: QImage  # already scaled for display (null: unreadable)
    name: str
    prompt: str = ""
    caption: str = ""


@dataclass
class LoadedSample:
    """One sample file, read from disk (by `load_sample`, off the GUI thread)."""

    path: Path
    step: int | None
    texts: list[tuple[str, str]] = field(default_factory=list)  # (prompt, output)
    images: list[ImageSample] = field(default_factory=list)
    error: str = ""


def load_sample(path: Path, step: int | None) -> LoadedSample:
    """Read a sample file: a JSON of prompt/output pairs (or image samples), or an image. Disk reads
    and image decoding only (QImage is safe off the GUI thread): call it on the pool."""
    sample = LoadedSample(path, step)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = QImage(str(path))
        sample.images.append(ImageSample(image.scaledToWidth(256, Qt.TransformationMode.SmoothTransformation)
                                         if not image.isNull() else image, path.name))
        return sample
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        sample.error = f"cannot read {path}: {exc}"
        return sample
    for item in data.get("samples", []) if isinstance(data, dict) else []:
        prompt = str(item.get("prompt", "")) if isinstance(item, dict) else ""
        if isinstance(item, dict) and isinstance(item.get("image"), str):
            sample.images.append(ImageSample(_thumbnail(path.parent / item["image"]), item["image"], prompt,
                                             str(item.get("caption", ""))))
        else:
            sample.texts.append((prompt, _sample_output(item)))
    return sample


def _thumbnail(path: Path) -> QImage:
    image = QImage(str(path))
    if image.isNull():
        return image
    # Tiny images (the demo's 32 px) are enlarged without smoothing so their pixels stay visible.
    mode = Qt.TransformationMode.FastTransformation if image.width() < 128 else \
        Qt.TransformationMode.SmoothTransformation
    return image.scaled(192, 192, Qt.AspectRatioMode.KeepAspectRatio, mode)


def sample_widget(sample: LoadedSample) -> QWidget:
    """A loaded sample as widgets: prompt/output pairs, or images in rows (wrapped) over their prompts.
    No disk access: the GUI thread only turns the decoded images into pixmaps."""
    box = QWidget()
    layout = QVBoxLayout(box)
    title = QLabel(f"<b>Step {sample.step}</b>" if sample.step is not None else f"<b>{sample.path.name}</b>")
    layout.addWidget(title)
    if sample.error:
        layout.addWidget(QLabel(sample.error))
        return box
    for prompt, output in sample.texts:
        text = QLabel(f"<i>{html.escape(prompt)}</i><br>{html.escape(output)}")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(text)
    if sample.path.suffix.lower() in IMAGE_SUFFIXES:
        image = QLabel()
        image.setPixmap(QPixmap.fromImage(sample.images[0].image))
        layout.addWidget(image)
        return box
    if sample.images:  # image samples of one step side by side, each over its prompt, wrapped to the width
        images = FlowLayout(spacing=8)
        for item in sample.images:
            images.addWidget(_image_sample(item))
        layout.addLayout(images)
    return box


def _image_sample(item: ImageSample) -> QWidget:
    cell = QWidget()
    column = QVBoxLayout(cell)
    column.setContentsMargins(0, 0, 0, 0)
    image = QLabel()
    if item.image.isNull():
        image.setText(f"cannot read {item.name}")
    else:
        image.setPixmap(QPixmap.fromImage(item.image))
    column.addWidget(image)
    label = QLabel(f"<i>{html.escape(item.prompt)}</i>" +
                   (f"<br><small>{html.escape(item.caption)}</small>" if item.caption else ""))
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
        return str(item.get("completion", item.get("output", item.get("text", item.get("caption", "")))))
    return str(item)
