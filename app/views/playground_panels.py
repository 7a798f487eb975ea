"""The Playground's per-kind panels: what to ask (inputs and settings) and how answers show.

A panel knows nothing about processes: the Playground view sends its `requests()` to the serving
worker and hands answers back (`on_chunk`, `on_done`, `on_error`). One panel per generator kind
(see `spark_trainer.playground.generators.GeneratorSpec.kind`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
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

from app.shortcuts import bind
from app.views.playground_image_panels import ClassificationPanel, ImageGenerationPanel
from app.widgets import double_spin, short_name
from spark_trainer.playground.settings import MAX_NEW_TOKENS_LIMIT, GenerationSettings

VARIANT_TITLES = {"tuned": "Fine-tuned", "base": "Base model"}


# How an answer ended (the server's finish_reason), as the stats line under it says it.
ENDINGS = {"eos": "ended by the model", "length": "ended by Max new tokens", "stop": "ended by a stop string",
           "context": "ended by the model's context", "cancelled": "stopped"}


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
        bind("playground.generate", self.prompt, self.generate_requested.emit, Qt.ShortcutContext.WindowShortcut)
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
        self.temperature = double_spin(0, 10, 0.05, defaults.temperature, "0 = greedy (always the likeliest token)")
        self.top_p = double_spin(0.01, 1, 0.05, defaults.top_p, "Sample from the smallest set of tokens whose "
                             "probabilities add up to this")
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 100_000)
        self.top_k.setValue(defaults.top_k)
        self.top_k.setSpecialValueText("off")
        self.repetition_penalty = double_spin(0.5, 3, 0.05, defaults.repetition_penalty,
                                          "Above 1 discourages repeating tokens already in the text")
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setValue(-1)
        self.seed.setSpecialValueText("random")
        self.seed.setToolTip("The same seed and settings give the same answer")
        self.stop = QPlainTextEdit()
        self.stop.setPlaceholderText("one per line")
        self.stop.setTabChangesFocus(True)  # Tab goes on to the next field: it typed tabs, kept as a stop string
        self.stop.setMaximumHeight(54)
        self.stop.setToolTip("Generation stops at the first of these texts (it is not shown)")
        self.chat = QCheckBox("Use the chat template")
        self.chat.setToolTip("Wrap the prompt as a user message with the tokenizer's chat template")
        self.template = QCheckBox("Use the run's prompt template")
        self.template.setChecked(True)
        self.template.setEnabled(False)
        self.template.setToolTip("Runs trained on instruction rows (Alpaca...) only")
        self.compare = QCheckBox("Compare with the base model")
        self.compare.setToolTip("Also answer with the base model (no fine-tuning), side by side")
        for label, widget in (("Max new tokens", self.max_new_tokens), ("Temperature", self.temperature),
                              ("Top-p", self.top_p), ("Top-k", self.top_k),
                              ("Repetition penalty", self.repetition_penalty), ("Seed", self.seed),
                              ("Stop strings", self.stop)):
            form.addRow(label, widget)
        form.addRow(self.chat)
        form.addRow(self.template)
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
            prompt_template=self.template.isChecked() and self.template.isEnabled(),
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
        self.base.setTitle(f"{VARIANT_TITLES['base']} · {short_name(base)}" if base else VARIANT_TITLES["base"])
        context = int(facts.get("context") or 0)
        # The box went to 8192 whatever the model: a GPT-2 with 1,024 positions let 8,192 be asked and
        # then capped every answer. It stops one short of the context (a prompt takes at least one token).
        self.max_new_tokens.setMaximum(min(context - 1, MAX_NEW_TOKENS_LIMIT) if context > 1 else MAX_NEW_TOKENS_LIMIT)
        if context:
            self.max_new_tokens.setToolTip(f"This model takes at most {context:,} tokens, prompt and answer "
                                           "together: an answer that would pass that is capped")
        else:
            self.max_new_tokens.setToolTip("")
        if "chat_template" in facts:
            has = bool(facts["chat_template"])
            self.chat.setEnabled(has)
            self.chat.setToolTip("Wrap the prompt as a user message with the tokenizer's chat template" if has
                                 else "This model's tokenizer has no chat template")
        if "prompt_template" in facts:  # on by default for a run trained on instruction rows, as it trained
            wraps = bool(facts["prompt_template"])
            self.template.setEnabled(wraps)
            self.template.setToolTip(f"Give the prompt as the instruction in the prompt template the run trained "
                                     f"with ({facts.get('format')} rows)" if wraps else
                                     "This run did not train on instruction rows (Alpaca...)")

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
        reason = output.get("finish_reason", "?")
        box.stats.setText(f"{tokens} tokens in {seconds:.2f} s{rate} · seed {seed} · "
                          f"{ENDINGS.get(reason, f'ended by {reason}')}")
        self._last[variant] = output

    def on_error(self, variant: str | None, message: str, *, failed: bool = True) -> None:
        """The answer will not come: `message` under it ("Failed: " first unless the user ended it)."""
        for v in ([variant] if variant else ["tuned", "base"]):
            self.box(v).text.setPlaceholderText("")  # no longer "Generating…"
            self.box(v).stats.setText(f"Failed: {message}" if failed else message)

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


PANELS: dict[str, type[QWidget]] = {"text-generation": TextGenerationPanel,
                                    "classification": ClassificationPanel,
                                    "image-generation": ImageGenerationPanel}
