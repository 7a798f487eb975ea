"""Generated samples of a run: text (prompt and completion) or images, as widgets or plain text.

Files are read and images decoded by `load_sample` on the pool; `sample_widget` only builds widgets."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.flow_layout import FlowLayout
from spark_trainer.jobs.run_samples import IMAGE_SUFFIXES, read_sample


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
    """Read a sample file (spark_trainer.jobs.run_samples) and decode its images. Disk reads and image
    decoding only (QImage is safe off the GUI thread): call it on the pool."""
    read = read_sample(path, step)
    sample = LoadedSample(path, step, error=read.error)
    if read.is_image_file:
        image = QImage(str(path))
        sample.images.append(ImageSample(image.scaledToWidth(256, Qt.TransformationMode.SmoothTransformation)
                                         if not image.isNull() else image, path.name))
        return sample
    for item in read.items:
        if item.image is not None:
            sample.images.append(ImageSample(_thumbnail(path.parent / item.image), item.image, item.prompt,
                                             item.caption))
        else:
            sample.texts.append((item.prompt, item.output))
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

