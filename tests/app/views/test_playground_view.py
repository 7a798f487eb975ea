"""The Playground after the run shown changes: nothing of the run tried before is shown (or saved) as
this run's; a saved sample names the weights that wrote it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.playground.trained import TrainedRun, train_tiny_alpaca_run

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    return train_tiny_alpaca_run(tmp_path_factory.mktemp("playground-switch") / "home")


def _another_run(store):
    """A second causal-LM run of the same project, with a final model folder to offer."""
    from spark_trainer.store import experiments, runs

    exp = experiments.create(store, project="pg", name="other", recipe="causal-lm", base_model="m",
                             dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    (Path(run.run_dir) / "final").mkdir(parents=True)
    return run


def _answer(view, qtbot) -> None:
    view.panel.prompt.setPlainText("Count up from 3.")
    view.panel.max_new_tokens.setValue(6)
    view.generate()
    qtbot.waitUntil(lambda: not view.pending, timeout=300_000)
    assert view.panel.sample_item() is not None, view.banner.text()


def test_another_runs_page_shows_neither_the_answer_nor_the_model_of_the_run_before(trained: TrainedRun, opened,
                                                                                   qtbot) -> None:
    """Seen on Xvfb: after trying run 5, the Playground of run 1 (same recipe) still showed run 5's answer
    under 'Playground · Run 1', 'Loaded on CPU' for run 5's model, and Save as sample enabled: saving
    would have put run 5's answer among run 1's samples."""
    from app.views.playground_view import PlaygroundView

    store, ctx = opened
    other = _another_run(store)
    view = PlaygroundView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    view.open_run(trained.run_id)
    qtbot.waitUntil(lambda: view.opening is None)
    _answer(view, qtbot)
    assert view.status.text().startswith("Loaded on CPU") and view.save_button.isEnabled()

    view.open_run(other.id)
    qtbot.waitUntil(lambda: view.opening is None)
    assert view.heading.text().startswith(f"Playground · Run {other.id}")
    assert view.panel.sample_item() is None and view.panel.tuned.answer() == ""
    assert not view.save_button.isEnabled()
    assert view.status.text() == "Not loaded"

    view.open_run(trained.run_id)  # and back: the run's model is still the one in memory
    qtbot.waitUntil(lambda: view.opening is None)
    assert view.status.text().startswith("Loaded on CPU")
    view.unload()
    view.shutdown()


def test_a_sample_names_the_weights_that_wrote_it_not_the_ones_picked_since(trained: TrainedRun, opened,
                                                                            qtbot) -> None:
    from app.views.playground_view import PlaygroundView
    from spark_trainer.store import artifacts

    store, ctx = opened
    view = PlaygroundView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    view.open_run(trained.run_id)
    qtbot.waitUntil(lambda: view.opening is None)
    assert view.checkpoint.currentData() == "final" and view.checkpoint.count() == 2
    _answer(view, qtbot)
    view.checkpoint.setCurrentIndex(1)  # another checkpoint picked after the answer came
    view.save_button.click()
    qtbot.waitUntil(lambda: "Saved" in view.banner.text(), timeout=20_000)
    saved = [a for a in artifacts.list_for(store, trained.run_id, "sample") if a.meta.get("source") == "playground"]
    item = json.loads(Path(saved[-1].path).read_text())["samples"][0]
    assert item["checkpoint"] == "Final model", item
    view.unload()
    view.shutdown()
