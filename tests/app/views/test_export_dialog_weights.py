"""The export dialog offers only the weight layouts the run has: a full fine-tune has no adapter to
keep or merge, and a diffusion LoRA cannot be merged (the export refused it only after the click)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.store import experiments, projects, runs


def _run(store, recipe: str, method: str):
    from spark_trainer.config import save_config, validate_config

    projects.create(store, "p")
    config = validate_config({"project": "p", "name": "e", "recipe": recipe, "base_model": "m", "dataset": "d",
                              "recipe_config": {"method": method}})
    exp = experiments.create(store, project="p", name="e", recipe=recipe, base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    Path(run.run_dir).mkdir(parents=True, exist_ok=True)
    save_config(config, Path(run.run_dir) / "config.yaml")
    return run


@pytest.mark.parametrize(("recipe", "method", "adapter", "merge"), [
    ("causal-lm", "lora", True, True),
    ("image-classification", "full", False, False),
    ("text-classification", "full", False, False),
    ("diffusion-lora", "lora", True, False),
])
def test_weight_choices_follow_the_run(store, ctx, qtbot, recipe, method, adapter, merge):
    from app.views.export_dialog import ExportDialog

    dialog = ExportDialog(store, ctx, _run(store, recipe, method))
    qtbot.addWidget(dialog)
    assert dialog.adapter_only.isEnabled() == adapter and dialog.merge.isEnabled() == merge
    assert not (dialog.merge.isChecked() and not merge)
    if not (adapter and merge):  # said in one unclipped line instead
        dialog.show()
        qtbot.wait(20)
        note = dialog.weights_note
        assert note.text() and note.isVisible()
        assert note.width() >= note.fontMetrics().horizontalAdvance(note.text())
    assert not dialog.adapter_only.isVisible() or adapter  # no choice shown that the run cannot have
    assert dialog.options().merge is False
