"""The Playground's per-kind panels: what to ask (inputs and settings) and how answers show.

A panel knows nothing about processes: the Playground view sends its `requests()` to the serving
worker and hands answers back (`on_chunk`, `on_done`, `on_error`). One panel per generator kind
(see `spark_trainer.playground.generators.GeneratorSpec.kind`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.widgets import FittedImage
from spark_trainer.playground.settings import MAX_NEW_TOKENS_LIMIT, GenerationSettings

VARIANT_TITLES = {"tuned": "Fine-tuned", "base": "Base model"}


class AnswerBox(QGroupBox):
    """One model's answer, growing as chunks arrive, with a line of figures under it."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        layout = QVBoxLayout(self)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.stats = QLabel("")
        self.stats.setObjectName("Muted")
        self.stats.setWordWrap(True)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.stats)

    def reset(self, note: str) -> None:
        self.text.clear()
        self.text.setPlaceholderText(note)
        self.stats.setText("")

    def append(self, chunk: str) -> None:
        cursor = self.text.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk)
        self.text.setTextCursor(cursor)

    def answer(self) -> str:
        return self.text.toPlainText()


class TextGenerationPanel(QWidget):
    """Causal-LM: a prompt, the generation settings, and the answers (fine-tuned, and base beside it)."""

    generate_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._build_settings())
        right = QVBoxLayout()
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Type a prompt… (Ctrl+Enter generates)")
        self.prompt.setMaximumHeight(120)
        QShortcut(QKeySequence("Ctrl+Return"), self.prompt, activated=self.generate_requested.emit)
        right.addWidget(QLabel("Prompt"))
        right.addWidget(self.prompt)
        self.answers = QSplitter(Qt.Orientation.Horizontal)
        self.tuned = AnswerBox(VARIANT_TITLES["tuned"])
        self.base = AnswerBox(VARIANT_TITLES["base"])
        self.answers.addWidget(self.tuned)
        self.answers.addWidget(self.base)
        right.addWidget(self.answers, 1)
        outer.addLayout(right, 1)
        self.compare.toggled.connect(self.base.setVisible)
        self.base.setVisible(False)
        self.tuned.reset("The fine-tuned model's answer appears here, token by token.")
        self.base.reset("The base model's answer to the same prompt appears here.")
        self._last: dict[str, Any] = {}

    def _build_settings(self) -> QWidget:
        box = QGroupBox("Generation")
        box.setFixedWidth(270)
        column = QVBoxLayout(box)
        form = QFormLayout()
        column.addLayout(form)
        column.addStretch(1)
        defaults = GenerationSettings()
        self.max_new_tokens = QSpinBox()
        self.max_new_tokens.setRange(1, MAX_NEW_TOKENS_LIMIT)
        self.max_new_tokens.setValue(defaults.max_new_tokens)
        self.temperature = _double(0, 10, 0.05, defaults.temperature, "0 = greedy (always the likeliest token)")
        self.top_p = _double(0.01, 1, 0.05, defaults.top_p, "Sample from the smallest set of tokens whose "
                             "probabilities add up to this")
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 100_000)
        self.top_k.setValue(defaults.top_k)
        self.top_k.setSpecialValueText("off")
        self.repetition_penalty = _double(0.5, 3, 0.05, defaults.repetition_penalty,
                                          "Above 1 discourages repeating tokens already in the text")
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setValue(-1)
        self.seed.setSpecialValueText("random")
        self.seed.setToolTip("The same seed and settings give the same answer")
        self.stop = QPlainTextEdit()
        self.stop.setPlaceholderText("one per line")
        self.stop.setMaximumHeight(54)
        self.stop.setToolTip("Generation stops at the first of these texts (it is not shown)")
        self.chat = QCheckBox("Use the chat template")
        self.chat.setToolTip("Wrap the prompt as a user message with the tokenizer's chat template")
        self.compare = QCheckBox("Compare with the base model")
        self.compare.setToolTip("Also answer with the base model (no fine-tuning), side by side")
        for label, widget in (("Max new tokens", self.max_new_tokens), ("Temperature", self.temperature),
                              ("Top-p", self.top_p), ("Top-k", self.top_k),
                              ("Repetition penalty", self.repetition_penalty), ("Seed", self.seed),
                              ("Stop strings", self.stop)):
            form.addRow(label, widget)
        form.addRow(self.chat)
        form.addRow(self.compare)
        return box

    # ---- what to ask ------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        stops = [line for line in self.stop.toPlainText().split("\n") if line]
        return GenerationSettings(
            max_new_tokens=self.max_new_tokens.value(), temperature=round(self.temperature.value(), 4),
            top_p=round(self.top_p.value(), 4), top_k=self.top_k.value(),
            repetition_penalty=round(self.repetition_penalty.value(), 4), stop=tuple(stops),
            chat_template=self.chat.isChecked() and self.chat.isEnabled(),
            seed=None if self.seed.value() < 0 else self.seed.value()).to_dict()

    def problem(self) -> str | None:
        """Why generating cannot start now (shown to the user), or None."""
        return "Type a prompt first." if not self.prompt.toPlainText().strip() else None

    def requests(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        inputs, settings = {"prompt": self.prompt.toPlainText()}, self.settings()
        if settings["seed"] is None:  # one seed for both answers, so the comparison is fair
            import random

            settings["seed"] = random.randrange(2**31)
        wanted = [("tuned", inputs, settings)]
        if self.compare.isChecked():
            wanted.append(("base", inputs, settings))
        self._last = {"prompt": inputs["prompt"], "settings": settings}
        return wanted

    # ---- answers ----------------------------------------------------------------------------------
    def set_model(self, label: str, facts: dict[str, Any]) -> None:
        self.tuned.setTitle(f"{VARIANT_TITLES['tuned']} · {label}")
        base = facts.get("base_model")
        self.base.setTitle(f"{VARIANT_TITLES['base']} · {_short(base)}" if base else VARIANT_TITLES["base"])
        if "chat_template" in facts:
            has = bool(facts["chat_template"])
            self.chat.setEnabled(has)
            self.chat.setToolTip("Wrap the prompt as a user message with the tokenizer's chat template" if has
                                 else "This model's tokenizer has no chat template")

    def begin(self, variants: list[str]) -> None:
        for variant in ("tuned", "base"):
            box = self.box(variant)
            box.reset("Generating…" if variant == variants[0] else "Waiting for the fine-tuned answer…")

    def box(self, variant: str) -> AnswerBox:
        return self.tuned if variant == "tuned" else self.base

    def on_chunk(self, variant: str, text: str) -> None:
        self.box(variant).append(text)

    def on_done(self, variant: str, output: dict[str, Any]) -> None:
        box = self.box(variant)
        if box.answer() != output.get("text", box.answer()):  # chunks are the answer; trust the final text
            box.text.setPlainText(output.get("text", ""))
        tokens, seconds = output.get("tokens", 0), output.get("seconds", 0.0)
        rate = f" ({tokens / seconds:.1f} tokens/s)" if seconds else ""
        seed = output.get("settings", {}).get("seed")
        box.stats.setText(f"{tokens} tokens in {seconds:.2f} s{rate} · seed {seed} · "
                          f"ended by {output.get('finish_reason', '?')}")
        self._last[variant] = output

    def on_error(self, variant: str | None, message: str) -> None:
        for v in ([variant] if variant else ["tuned", "base"]):
            self.box(v).stats.setText(f"Failed: {message}")

    def sample_item(self) -> dict[str, Any] | None:
        """The last prompt and answers as a sample, or None when there is no answer yet."""
        tuned = self._last.get("tuned")
        if not tuned or not tuned.get("text", "").strip():
            return None
        item = {"prompt": self._last["prompt"], "completion": tuned["text"],
                "settings": tuned.get("settings", self._last.get("settings"))}
        if self._last.get("base"):
            item["base_completion"] = self._last["base"].get("text", "")
        return item


def _double(low: float, high: float, step: float, value: float, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(2)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


def _short(path: str) -> str:
    return str(path).rstrip("/").rsplit("/", 1)[-1]


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

        pixmap = QPixmap(path)
        if pixmap.isNull():
            self.setText(f"Cannot show {path}")
            return
        self.path = path
        self.setPixmap(pixmap.scaled(200, 200, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.FastTransformation))
        self.changed.emit(path)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Image to classify", "",
                                              "Images (*.png *.jpg *.jpeg *.webp *.bmp)")
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
        QShortcut(QKeySequence("Ctrl+Return"), self.prompt, activated=self.generate_requested.emit)
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

    def on_error(self, variant: str | None, message: str) -> None:
        self.stats.setText(f"Failed: {message}")

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
        self.guidance = _double(0, 30, 0.5, 7.5, "Classifier-free guidance: how strongly the image follows the prompt")
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
        QShortcut(QKeySequence("Ctrl+Return"), self.prompt, activated=self.generate_requested.emit)
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
        self.base.setTitle(f"Without LoRA · {_short(base)}" if base else "Without LoRA (base model)")

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

    def on_error(self, variant: str | None, message: str) -> None:
        for v in ([variant] if variant else ["tuned", "base"]):
            self.box(v).stats.setText(f"Failed: {message}")

    def sample_item(self) -> dict[str, Any] | None:
        tuned = self._last.get("tuned")
        if not tuned or not tuned.get("image"):
            return None
        item = {"prompt": self._last["prompt"], "output": tuned["image"], "image": tuned["image"],
                "settings": tuned.get("settings")}
        if self._last.get("base", {}).get("image"):
            item["base_image"] = self._last["base"]["image"]
        return item


PANELS: dict[str, type[QWidget]] = {"text-generation": TextGenerationPanel,
                                    "classification": ClassificationPanel,
                                    "image-generation": ImageGenerationPanel}
