"""The flow layout wraps its items onto as many rows as the width needs."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QWidget

from app.flow_layout import FlowLayout


def test_rows_follow_the_width(qtbot) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    layout = FlowLayout(host, spacing=10)
    for _ in range(3):
        item = QWidget()
        item.setFixedSize(100, 50)
        layout.addWidget(item)
    assert layout.heightForWidth(320) == 50  # 100 + 10 + 100 + 10 + 100: one row
    assert layout.heightForWidth(319) == 110  # two rows, 10 apart
    assert layout.heightForWidth(100) == 170  # one item a row
    assert layout.minimumSize() == QSize(100, 50)  # never narrower than one item


def test_a_one_row_hint_asks_for_every_item_on_one_line(qtbot) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    layout = FlowLayout(host, spacing=10, one_row_hint=True)
    for _ in range(3):
        item = QWidget()
        item.setFixedSize(100, 50)
        layout.addWidget(item)
    assert layout.sizeHint() == QSize(320, 50)  # a header row gives it this where there is room
    assert layout.minimumSize() == QSize(100, 50)  # and squeezes it down to one item a row
