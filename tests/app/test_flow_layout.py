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
