"""The causal-LM Playground panel's prompt-template option: on, and used, for a run trained on
instruction rows (Alpaca...), greyed out for any other run, as the chat-template option is; the line
under an answer says how it ended."""

from __future__ import annotations

import os
from pathlib import Path

ALPACA_FACTS = {"chat_template": True, "method": "lora", "base_model": "/models/tiny", "format": "alpaca",
                "prompt_template": True}


def _panel(qtbot):
    from app.views.playground_panels import TextGenerationPanel

    panel = TextGenerationPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 560)
    panel.show()
    return panel


def test_an_instruction_run_is_prompted_in_its_template_by_default(qtbot, tmp_path: Path) -> None:
    panel = _panel(qtbot)
    panel.set_model("Final model", ALPACA_FACTS)
    assert panel.template.isEnabled() and panel.template.isChecked()
    assert "alpaca rows" in panel.template.toolTip()
    assert panel.settings()["prompt_template"] is True
    shots = Path(os.environ.get("SPARK_TRAINER_SHOTS", tmp_path))
    assert panel.grab().save(str(shots / "playground-prompt-template.png"))
    panel.template.setChecked(False)
    assert panel.settings()["prompt_template"] is False


def test_a_run_of_other_rows_has_no_template_to_use(qtbot) -> None:
    panel = _panel(qtbot)
    panel.set_model("Final model", {**ALPACA_FACTS, "format": "prompt-completion", "prompt_template": False})
    assert not panel.template.isEnabled()
    assert panel.settings()["prompt_template"] is False


def test_how_an_answer_ended_is_said_in_words_not_the_servers_codes(qtbot) -> None:
    """Seen on Xvfb: "… · ended by cancelled" under an answer the user stopped, "ended by eos" under one
    the model ended."""
    panel = _panel(qtbot)
    said = {}
    for reason in ("eos", "length", "stop", "cancelled"):
        panel.on_done("tuned", {"text": "21 22", "tokens": 3, "seconds": 0.5, "finish_reason": reason,
                                "settings": {"seed": 7}})
        said[reason] = panel.tuned.stats.text().rsplit(" · ", 1)[1]
    assert said == {"eos": "ended by the model", "length": "ended by Max new tokens",
                    "stop": "ended by a stop string", "cancelled": "stopped"}
    assert panel.tuned.stats.text().startswith("3 tokens in 0.50 s (6.0 tokens/s) · seed 7 · ")


def test_max_new_tokens_stops_short_of_the_models_context(qtbot) -> None:
    """The box went to 8,192 whatever the model: a model of 1,024 positions let 8,192 be asked, and every
    answer was then capped."""
    from spark_trainer.playground.settings import MAX_NEW_TOKENS_LIMIT

    panel = _panel(qtbot)
    panel.max_new_tokens.setValue(4000)
    panel.set_model("Final model", {**ALPACA_FACTS, "context": 1024})
    assert panel.max_new_tokens.maximum() == 1023 and panel.max_new_tokens.value() == 1023
    assert "at most 1,024 tokens" in panel.max_new_tokens.toolTip()
    panel.set_model("Another", {**ALPACA_FACTS, "context": 32768})  # longer than the box's own limit
    assert panel.max_new_tokens.maximum() == MAX_NEW_TOKENS_LIMIT
    panel.set_model("Nothing said", ALPACA_FACTS)  # no context known: the box's own limit, no tooltip
    assert panel.max_new_tokens.maximum() == MAX_NEW_TOKENS_LIMIT and panel.max_new_tokens.toolTip() == ""


def test_tab_in_the_stop_strings_goes_on_to_the_next_field(qtbot) -> None:
    """Tab typed a tab into Stop strings, kept as a stop string, and the keyboard could not leave the box."""
    from PySide6.QtCore import Qt

    panel = _panel(qtbot)
    panel.stop.setFocus()
    qtbot.keyClick(panel.stop, Qt.Key.Key_Tab)
    assert panel.stop.toPlainText() == "" and not panel.settings()["stop"]
