"""The filter box over a list: hides the rows without every typed word, follows the rows as they
change, and shows its whole placeholder (it read 'Filter datasets (Ct…' at its size hint)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QHBoxLayout, QTableWidget, QTableWidgetItem, QWidget  # noqa: E402


def _fill(table: QTableWidget, rows: list[tuple[str, str]]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            table.setItem(r, c, QTableWidgetItem(text))


def test_rows_without_every_word_are_hidden_and_new_rows_follow(qtbot) -> None:
    from app.views.row_filter import RowFilter

    table = QTableWidget(0, 2)
    box = RowFilter(table, "runs")
    qtbot.addWidget(table)
    qtbot.addWidget(box)
    _fill(table, [("lora-r16", "completed"), ("lora-r8", "failed"), ("full", "failed")])
    box.setText("FAILED lora")
    assert box.shown_rows() == [1]
    _fill(table, [("lora-r16", "failed"), ("lora-r8", "failed"), ("full", "failed"), ("lora-x", "queued")])
    qtbot.waitUntil(lambda: box.shown_rows() == [0, 1])
    box.clear()
    assert box.shown_rows() == [0, 1, 2, 3]


def test_the_placeholder_is_shown_whole_next_to_a_stretch(qtbot) -> None:
    from app.views.row_filter import RowFilter

    page = QWidget()
    qtbot.addWidget(page)
    row = QHBoxLayout(page)
    box = RowFilter(QTableWidget(0, 1), "datasets")
    row.addWidget(box)
    row.addStretch(1)
    page.resize(1100, 40)
    page.show()
    qtbot.waitExposed(page)
    needed = box.fontMetrics().horizontalAdvance(box.placeholderText())
    assert box.width() >= needed + 20, (box.width(), needed)
