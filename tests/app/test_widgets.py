"""Shared widgets: a message banner keeps the theme's padding inside its border, whenever its first
message comes (every banner in the app drew its text against the left border, in a box as tall as
one line: Qt's style sheet sets a label's padding only when it is first polished, and a banner was
polished, with no role yet, when its window showed)."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget


def test_a_banner_shown_after_its_window_keeps_the_padding(qtbot, qapp):
    from app import theme
    from app.widgets import MessageBanner

    theme.apply(qapp, "dark")
    holder = QWidget()
    qtbot.addWidget(holder)
    banner = MessageBanner()
    QVBoxLayout(holder).addWidget(banner)
    holder.resize(400, 120)
    holder.show()
    qtbot.waitExposed(holder)
    for role in ("ok", "error", "warning", "info"):
        banner.show_message("Run 1 queued", role)
        qtbot.wait(10)
        margins = banner.contentsMargins()
        assert min(margins.left(), margins.top()) >= 8, role
        assert banner.sizeHint().height() >= banner.fontMetrics().height() + 16, role


def test_an_elided_label_never_widens_its_layout_and_keeps_its_whole_text(qtbot) -> None:
    """The run page's heading (run, experiment and up to six swept settings) held the page wider than
    a 1024 px window."""
    from PySide6.QtWidgets import QHBoxLayout, QLabel

    from app.widgets import ElidedLabel

    whole = "Run 12 · support-tickets-classifier-2026 · " + " ".join(f"setting_{i}=0.000{i}" for i in range(6))
    box = QWidget()
    row = QHBoxLayout(box)
    label = ElidedLabel(whole)
    row.addWidget(label)
    row.addWidget(QLabel("running"))
    row.addStretch(1)
    qtbot.addWidget(box)
    box.resize(400, 40)
    box.show()
    qtbot.waitExposed(box)
    assert box.minimumSizeHint().width() < 400 and box.width() == 400
    assert label.text() == whole and label.shown().endswith("…") and len(label.shown()) < len(whole)
    assert label.toolTip() == whole
    box.resize(label.sizeHint().width() + 200, 40)  # room again: the whole text, no tooltip needed
    qtbot.waitUntil(lambda: label.shown() == whole)
    assert label.toolTip() == ""
    label.setToolTip("sweep s: setting_0=0.0000")
    assert label.toolTip() == "sweep s: setting_0=0.0000"
    label.clear()  # QLabel's own kept the whole text: text() gave it and the next resize showed it again
    box.resize(box.width() + 10, 40)
    qtbot.waitUntil(lambda: box.width() > label.sizeHint().width())
    assert label.text() == "" and label.shown() == ""
