"""The setup form's files: the file name Save preset offers for an experiment's name."""

from __future__ import annotations

from app.views.setup_files import file_name_of


def test_the_offered_preset_file_name_is_one_file_whatever_the_experiment_is_named() -> None:
    # "эксперимент 😀 / back\slash" was offered as the folder "эксперимент 😀 " holding " back\slash.yaml".
    assert file_name_of("эксперимент 😀 / back\\slash") == "эксперимент 😀 - back-slash"
    assert file_name_of('a:b*c?d"e<f>g|h') == "a-b-c-d-e-f-g-h"  # not allowed in a Windows file name
    assert file_name_of("line\nbreak") == "line-break"
    assert [file_name_of(n) for n in ("CON", "nul.txt", "", "  .. ", "tiny-lora")] == \
        ["CON-run", "nul.txt-run", "run", "run", "tiny-lora"]


def test_save_preset_offers_that_name(store, ctx, qtbot, monkeypatch) -> None:
    from app import file_dialogs
    from app.views.experiment_setup_view import ExperimentSetupView

    offered = []
    monkeypatch.setattr(file_dialogs, "save_file", lambda _parent, _caption, name, _filter="": offered.append(name))
    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    view.name.setText("a / b")
    view._save_preset_dialog()
    assert offered == ["a - b.yaml"]
