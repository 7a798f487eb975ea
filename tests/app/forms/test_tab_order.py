"""Tab follows the layout, whatever order the widgets were made in."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit, QPushButton, QScrollArea, QVBoxLayout, QWidget


def test_tab_stops_follow_the_layout_not_the_order_widgets_were_made(qtbot) -> None:
    from app.forms.tab_order import order_tabs, tab_stops

    root = QWidget()
    qtbot.addWidget(root)
    outer = QVBoxLayout(root)
    area = QScrollArea()
    area.setWidgetResizable(True)
    inner = QWidget()
    area.setWidget(inner)
    form = QFormLayout(inner)
    first, later = QLineEdit(), QLineEdit()
    box = QComboBox()
    box.setEditable(True)  # one stop: its line edit is part of it
    form.addRow("first", first)
    form.addRow("box", box)
    outer.addWidget(area)
    button = QPushButton("Launch")
    outer.addWidget(button)
    form.addRow("later", later)  # made and placed last, shown above the button
    stops = tab_stops(outer)
    assert stops == [area, first, box, later, button]
    order_tabs(stops)
    chain, widget = [], first
    for _ in range(12):
        widget = widget.nextInFocusChain()
        if widget in stops:
            chain.append(widget)
    assert chain[:4] == [box, later, button, area]
