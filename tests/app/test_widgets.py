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
