"""The Playground's panels for image models: a classifier's labels for a dropped image, and a diffusion
LoRA's pictures from a prompt (with and without the LoRA). See `playground_panels` for the contract."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app import file_dialogs
from app.shortcuts import bind
from app.widgets import FittedImage, double_spin, short_name
from spark_trainer.ingest.detect import IMAGE_EXTS

IMAGE_FILTER = f"Images ({' '.join(f'*{e}' for e in sorted(IMAGE_EXTS))})"  # what ingestion and training read


class ImageDropArea(QLabel):
    """Drop an image here (or click to choose one); `path` is the chosen file."""

    changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(220, 220)
        self.setObjectName("DropArea")
        self.setStyleSheet("QLabel#DropArea { border: 2px dashed #6e7681; border-radius: 8px; }")
        self.path = ""
        self.setText("Drop an image here\nor click to choose one")

    def set_path(self, path: str) -> None:
        from PySide6.QtGui import QPixmap

        from app.image_files import read_image

        image = read_image(path, 200)  # upright, as the classifier reads it
        if image.isNull():
            self.setText(f"Cannot show {path}")
            return
        self.path = path
        self.setPixmap(QPixmap.fromImage(image).scaled(200, 200, Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.FastTransformation))
        self.changed.emit(path)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name

        path = file_dialogs.open_file(self, "Image to classify", "", IMAGE_FILTER)
        if path:
            self.set_path(path)

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.set_path(urls[0])
            event.acceptProposedAction()


class ClassificationPanel(QWidget):
    """Text or image classification: the input, then every label with its probability as a bar."""

    generate_requested = Signal()
    action_text = "Classify"  # the Playground's action button (other panels: "Generate")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        self.input_title = QLabel("Text to classify")
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Type or paste a text… (Ctrl+Enter classifies)")
        bind("playground.generate", self.prompt, self.generate_requested.emit, Qt.ShortcutContext.WindowShortcut)
        self.image = ImageDropArea()
        self.image.changed.connect(lambda _p: self.generate_requested.emit())
        left.addWidget(self.input_title)
        left.addWidget(self.prompt, 1)
        left.addWidget(self.image, 1)
        outer.addLayout(left, 1)
        self.results = QGroupBox("Predicted labels")
        self.rows = QVBoxLayout(self.results)
        self.stats = QLabel("")
        self.stats.setObjectName("Muted")
        self.rows.addWidget(self.stats)
        self.rows.addStretch(1)
        outer.addWidget(self.results, 1)
        self.kind = "text"
        self.configure("text-classification")
        self._last: dict[str, Any] = {}

    def configure(self, recipe: str) -> None:
        self.kind = "image" if recipe == "image-classification" else "text"
        self.prompt.setVisible(self.kind == "text")
        self.image.setVisible(self.kind == "image")
        self.input_title.setText("Image to classify" if self.kind == "image" else "Text to classify")

    def problem(self) -> str | None:
        if self.kind == "image":
            return None if self.image.path else "Drop an image first."
        return None if self.prompt.toPlainText().strip() else "Type a text first."

    def requests(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        inputs = {"image": self.image.path} if self.kind == "image" else {"text": self.prompt.toPlainText()}
        self._last = {"prompt": inputs.get("text", inputs.get("image"))}
        return [("tuned", inputs, {})]

    def set_model(self, label: str, facts: dict[str, Any]) -> None:
        self.results.setTitle(f"Predicted labels · {label}")

    def begin(self, variants: list[str]) -> None:
        self._clear()
        self.stats.setText("Classifying…")

    def _clear(self) -> None:
        while self.rows.count() > 2:  # keep the stats line and the stretch
            item = self.rows.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def on_chunk(self, variant: str, text: str) -> None:
        pass  # a classification answer comes whole

    def on_done(self, variant: str, output: dict[str, Any]) -> None:
        from PySide6.QtWidgets import QProgressBar

        self._clear()
        for i, item in enumerate(output.get("labels", [])):
            row = QProgressBar()
            row.setRange(0, 1000)
            row.setValue(int(round(item["probability"] * 1000)))
            row.setFormat(f"{item['label']}  {item['probability'] * 100:.1f}%")
            self.rows.insertWidget(i, row)
        self.stats.setText(f"{output.get('seconds', 0):.3f} s")
        self._last["labels"] = output.get("labels", [])

    def on_error(self, variant: str | None, message: str, *, failed: bool = True) -> None:
        self.stats.setText(f"Failed: {message}" if failed else message)

    def sample_item(self) -> dict[str, Any] | None:
        labels = self._last.get("labels")
        if not labels:
            return None
        shown = ", ".join(f"{item['label']} {item['probability']:.2f}" for item in labels[:5])
        return {"prompt": self._last["prompt"], "output": shown, "labels": labels}


class ImageBox(QGroupBox):
    """One model's image, with denoising progress while it is made."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        layout = QVBoxLayout(self)
        self.image = FittedImage()
        self.image.setMinimumSize(256, 256)
        self.stats = QLabel("")
        self.stats.setObjectName("Muted")
        self.stats.setWordWrap(True)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.stats)
        self.path: str | None = None

    def reset(self, note: str) -> None:
        self.image.clear()
        self.image.setText(note)
        self.stats.setText("")
        self.path = None

    def show_image(self, path: str) -> None:
        from PySide6.QtGui import QPixmap

        self.image.set_image(QPixmap(path))
        self.path = path


class ImageGenerationPanel(QWidget):
    """Diffusion LoRA: a prompt, seed, steps and guidance; the image with the LoRA and without it."""

    generate_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Generation")
        box.setFixedWidth(270)
        column = QVBoxLayout(box)
        form = QFormLayout()
        column.addLayout(form)
        column.addStretch(1)
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setValue(1234)
        self.seed.setSpecialValueText("random")
        self.steps = QSpinBox()
        self.steps.setRange(1, 500)
        self.steps.setValue(20)
        self.guidance = double_spin(0, 30, 0.5, 7.5, "Classifier-free guidance: how strongly the image follows the prompt")
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("what the image should not show")
        self.negative.setMaximumHeight(54)
        self.compare = QCheckBox("Compare without the LoRA")
        self.compare.setChecked(True)
        self.compare.setToolTip("Also make the image with the base pipeline (same seed), side by side")
        for label, widget in (("Seed", self.seed), ("Steps", self.steps), ("Guidance", self.guidance),
                              ("Negative prompt", self.negative)):
            form.addRow(label, widget)
        form.addRow(self.compare)
        outer.addWidget(box)
        right = QVBoxLayout()
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the image… (Ctrl+Enter generates)")
        self.prompt.setMaximumHeight(90)
        bind("playground.generate", self.prompt, self.generate_requested.emit, Qt.ShortcutContext.WindowShortcut)
        right.addWidget(QLabel("Prompt"))
        right.addWidget(self.prompt)
        images = QHBoxLayout()
        self.tuned = ImageBox("With LoRA")
        self.base = ImageBox("Without LoRA (base model)")
        images.addWidget(self.tuned)
        images.addWidget(self.base)
        right.addLayout(images, 1)
        outer.addLayout(right, 1)
        self.compare.toggled.connect(self.base.setVisible)
        self.tuned.reset("The image made with the run's LoRA appears here.")
        self.base.reset("The base pipeline's image, same seed, appears here.")
        self._last: dict[str, Any] = {}

    def problem(self) -> str | None:
        return "Type a prompt first." if not self.prompt.toPlainText().strip() else None

    def requests(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        import random

        seed = self.seed.value() if self.seed.value() >= 0 else random.randrange(2**31)
        settings = {"seed": seed, "steps": self.steps.value(), "guidance": round(self.guidance.value(), 3),
                    "negative_prompt": self.negative.toPlainText().strip()}
        inputs = {"prompt": self.prompt.toPlainText()}
        self._last = {"prompt": inputs["prompt"], "settings": settings}
        return [("tuned", inputs, settings)] + ([("base", inputs, settings)] if self.compare.isChecked() else [])

    def set_model(self, label: str, facts: dict[str, Any]) -> None:
        self.tuned.setTitle(f"With LoRA · {label}")
        base = facts.get("base_model")
        self.base.setTitle(f"Without LoRA · {short_name(base)}" if base else "Without LoRA (base model)")

    def begin(self, variants: list[str]) -> None:
        for variant in ("tuned", "base"):
            self.box(variant).reset("Generating…" if variant == variants[0] else "Waiting…")

    def box(self, variant: str) -> ImageBox:
        return self.tuned if variant == "tuned" else self.base

    def on_chunk(self, variant: str, text: str) -> None:
        self.box(variant).stats.setText(text)  # "step i/N"

    def on_done(self, variant: str, output: dict[str, Any]) -> None:
        box = self.box(variant)
        if output.get("image"):
            box.show_image(output["image"])
        seed = output.get("settings", {}).get("seed")
        box.stats.setText(f"{output.get('seconds', 0):.2f} s · seed {seed} · {output.get('finish_reason', '')}")
        self._last[variant] = output

    def on_error(self, variant: str | None, message: str, *, failed: bool = True) -> None:
        for v in ([variant] if variant else ["tuned", "base"]):
            self.box(v).stats.setText(f"Failed: {message}" if failed else message)

    def sample_item(self) -> dict[str, Any] | None:
        tuned = self._last.get("tuned")
        if not tuned or not tuned.get("image"):
            return None
        item = {"prompt": self._last["prompt"], "output": tuned["image"], "image": tuned["image"],
                "settings": tuned.get("settings")}
        if self._last.get("base", {}).get("image"):
            item["base_image"] = self._last["base"]["image"]
        return item
