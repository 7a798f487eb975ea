"""The Evaluate dialog's data picker: an image run's data may be a folder of class folders."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.mark.parametrize(("recipe", "folder_offered"), [("image-classification", True), ("text-classification", False)])
def test_an_image_run_offers_a_folder_of_class_folders(store, ctx, qtbot, tmp_path, monkeypatch, recipe,
                                                      folder_offered) -> None:
    from app import file_dialogs
    from app.views.evaluate_dialog import EvaluateDialog

    dialog = EvaluateDialog(store, ctx, SimpleNamespace(id=3, experiment="shapes", recipe=recipe))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.browse_folder.isVisible() is folder_offered
    assert "folder of class folders" in dialog.data_help.text()  # the classification task says so
    if folder_offered:
        monkeypatch.setattr(file_dialogs, "existing_dir", lambda *_args, **_kw: str(tmp_path))
        dialog.browse_folder.click()
        assert dialog.data.text() == str(tmp_path)


def test_an_error_line_grows_the_dialog_instead_of_squeezing_its_rows(store, ctx, qtbot) -> None:
    """Seen on a real display: Start without a data file showed the error banner inside the dialog's
    old height, and the wrapped help under the data field was squeezed over the field above it."""
    from PySide6.QtWidgets import QApplication, QLabel

    from app.views.evaluate_dialog import EvaluateDialog

    dialog = EvaluateDialog(store, ctx, SimpleNamespace(id=3, experiment="tickets", recipe="text-classification"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    before = dialog.height()
    dialog.start_button.click()
    QApplication.processEvents()
    assert dialog.banner.isVisible() and dialog.banner.text() == "Choose a data file first"  # a task is chosen: the data is missing
    assert dialog.height() > before
    for label in dialog.findChildren(QLabel):
        if label.isVisible() and label.wordWrap() and label.text():
            assert label.height() >= label.heightForWidth(label.width()), label.text()


def test_the_summary_names_images_left_out_of_the_evaluation() -> None:
    from app.views.evaluate_dialog import summary_text

    skipped = [{"path": f"/data/cats/{i}.jpg", "reason": "undecodable image: truncated"} for i in range(7)]
    text = summary_text({"metrics": {"accuracy": 0.5}, "skipped_images": skipped})
    assert text.splitlines()[1] == ("7 images skipped, not evaluated: 0.jpg (undecodable image: truncated); "
                                    "1.jpg (undecodable image: truncated); 2.jpg (undecodable image: truncated); "
                                    "3.jpg (undecodable image: truncated); 4.jpg (undecodable image: truncated); "
                                    "and 2 more")


@pytest.mark.parametrize(("recipe", "task", "txt_offered"), [("text-classification", "classification", False),
                                                             ("causal-lm", "mcq", False),
                                                             ("causal-lm", "perplexity", True)])
def test_the_file_picker_offers_only_files_the_task_reads(store, ctx, qtbot, monkeypatch, recipe, task,
                                                          txt_offered) -> None:
    # Seen in a GUI walk: the picker offered *.txt for a classification run; the chosen file then
    # failed "line 1 is not valid JSON" (only perplexity reads a text file).
    from app import file_dialogs
    from app.views.evaluate_dialog import EvaluateDialog

    asked = []
    monkeypatch.setattr(file_dialogs, "open_file", lambda _parent, _title, _dir, filters: (asked.append(filters)
                                                                                          or ""))
    dialog = EvaluateDialog(store, ctx, SimpleNamespace(id=3, experiment="e", recipe=recipe))
    qtbot.addWidget(dialog)
    dialog.task_choice.setCurrentIndex(dialog.task_choice.findData(task))
    dialog._browse()
    assert ("*.txt" in asked[0]) is txt_offered and "*.jsonl" in asked[0] and "*.csv" in asked[0], asked


def test_return_starts_the_evaluation_and_never_opens_the_file_picker(store, ctx, qtbot, monkeypatch) -> None:
    """Seen in a keyboard-only walk: "Browse…" was the dialog's default button (Qt's first one), so Return
    typed after a path opened the file picker. Return is Start's."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app import file_dialogs
    from app.views.evaluate_dialog import EvaluateDialog

    picked = []
    monkeypatch.setattr(file_dialogs, "open_file", lambda *args, **kw: picked.append(args) or "")
    monkeypatch.setattr(file_dialogs, "existing_dir", lambda *args, **kw: picked.append(args) or "")
    dialog = EvaluateDialog(store, ctx, SimpleNamespace(id=3, experiment="shapes", recipe="image-classification"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.data.setFocus()
    QTest.keyClick(dialog.data, Qt.Key.Key_Return)
    assert picked == []
    assert dialog.banner.text() == "Choose a data file first"  # Start's own answer to an empty path
    assert dialog.isVisible()
    for picker in (dialog.browse, dialog.browse_folder):
        assert not picker.isDefault() and not picker.autoDefault()
    assert dialog.start_button.isDefault()
