"""The Datasets view without a mouse: Ctrl+2 puts the keys in its list and Delete asks to delete the
selected dataset, as the Projects list does."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from spark_trainer.store import datasets  # noqa: E402
from spark_trainer.store.datasets import NewDataset  # noqa: E402
from tests.app.model_sync import sync_model  # noqa: E402


def test_delete_on_the_selected_dataset_asks_first(qtbot, window, store, project, tmp_path):
    # Seen on Xvfb: the Projects hint says 'Delete removes'; in Datasets the Delete key did nothing,
    # and Ctrl+2 left the keys outside the list.
    made = datasets.create(store, project.name, NewDataset(name="support", kind="text",
                                                           path=str(store.home.dataset_dir(1)), num_items=3))
    sync_model(qtbot, window.ctx)
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    view = window.views["datasets"]
    qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=10_000)
    assert QApplication.focusWidget() is view.table
    view.table.selectRow(0)
    QTest.keyClick(view.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: view.delete_box is not None, timeout=10_000)  # asked once no run uses it
    boxes = [b for b in view.findChildren(QMessageBox) if b.isVisible()]
    assert [b.windowTitle() for b in boxes] == ["Delete support?"]
    boxes[0].grab().save(str(tmp_path / "datasets-delete-key.png"))
    clicked = []
    boxes[0].buttonClicked.connect(lambda button: clicked.append(button.text()))
    QTest.keyClick(boxes[0], Qt.Key.Key_Return)  # Delete then Enter: Cancel, nothing deleted
    assert clicked == ["Cancel"] and not view.busy()
    assert [d.id for d in datasets.list_all(store)] == [made.id]
