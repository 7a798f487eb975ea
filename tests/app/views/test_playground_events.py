"""The Playground on a prompt past the model's context: refused in the banner in one line (not
transformers' IndexError), the model stays loaded, and the next prompt is answered; an answer capped
to fit the context says so."""

from __future__ import annotations

import pytest

from tests.playground.trained import TrainedRun

pytestmark = pytest.mark.timeout(1800)


def test_a_prompt_past_the_context_is_refused_and_the_next_one_answered(trained: TrainedRun, opened, qtbot) -> None:
    from app.views.playground_view import PlaygroundView

    store, ctx = opened
    view = PlaygroundView(store, ctx)
    qtbot.addWidget(view)
    view.open_run(trained.run_id)
    qtbot.waitUntil(lambda: view.opening is None)
    panel = view.panel
    panel.prompt.setPlainText("word " * 300)
    panel.max_new_tokens.setValue(5)
    view.generate()
    qtbot.waitUntil(lambda: not view.pending, timeout=300_000)
    said = view.banner.text()
    assert said.startswith("the prompt is ") and said.endswith(
        f"run {trained.run_id}'s model takes at most 128 (prompt and answer together)"), said
    assert view.banner.property("role") == "error"
    assert view.status.text().startswith("Loaded on CPU")  # the refusal did not unload the model
    assert panel.tuned.stats.text() == f"Failed: {said}"

    # Fits, but 200 new tokens would pass the context: capped. The base model (random weights, greedy)
    # runs on to the cap.
    panel.prompt.setPlainText("word")
    panel.max_new_tokens.setValue(200)
    assert panel.max_new_tokens.value() == 127  # the box stops one short of the model's 128 positions
    panel.temperature.setValue(0)
    panel.compare.setChecked(True)
    server = view.client.process.processId()
    view.generate()
    qtbot.waitUntil(lambda: not view.pending, timeout=300_000)
    assert view.client.process.processId() == server
    assert panel.base.stats.text().endswith("ended by the model's context"), panel.base.stats.text()
    assert view.banner.property("role") == "warning"
    assert view.banner.text().startswith("The answer was capped at ") and "(not 127)" in view.banner.text()
    view.unload()
