"""The Evaluate dialog's data picker: an image run's data may be a folder of class folders."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.mark.parametrize(("recipe", "folder_offered"), [("image-classification", True), ("text-classification", False)])
def test_an_image_run_offers_a_folder_of_class_folders(store, ctx, qtbot, tmp_path, monkeypatch, recipe,
                                                      folder_offered) -> None:
    from PySide6.QtWidgets import QFileDialog

    from app.views.evaluate_dialog import EvaluateDialog

    dialog = EvaluateDialog(store, ctx, SimpleNamespace(id=3, experiment="shapes", recipe=recipe))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.browse_folder.isVisible() is folder_offered
    assert "folder of class folders" in dialog.data_help.text()  # the classification task says so
    if folder_offered:
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_args, **_kw: str(tmp_path))
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
