"""The cluster-export dialog's words about the experiment it exports."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["", "  "])
def test_an_unnamed_experiment_is_not_called_experiment(store, ctx, qtbot, name) -> None:
    # Seen in a GUI walk: with the setup form's name field empty the dialog said "job folder for
    # experiment experiment" (a placeholder shown as the name); the export then refuses the empty name.
    from app.views.cluster_export_dialog import ClusterExportDialog

    dialog = ClusterExportDialog(store, ctx, {"project": "demo", "name": name, "recipe": "causal-lm", "gpus": "cpu"})
    qtbot.addWidget(dialog)
    said = dialog.intro.text()
    assert "<b>experiment</b>" not in said and "no name yet" in said, said
    assert dialog.windowTitle() == "Export as cluster job"


def test_a_named_experiment_is_named(store, ctx, qtbot) -> None:
    from app.views.cluster_export_dialog import ClusterExportDialog

    dialog = ClusterExportDialog(store, ctx, {"project": "demo", "name": "lora-r16", "recipe": "causal-lm"})
    qtbot.addWidget(dialog)
    assert "experiment <b>lora-r16</b> (project demo)" in dialog.intro.text()
    assert dialog.windowTitle() == "Export as cluster job · lora-r16"
