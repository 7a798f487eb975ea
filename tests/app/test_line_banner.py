"""A one-line banner in a row it shares: it keeps its room, elides, and is still a MessageBanner."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget


def test_one_line_whatever_it_says_and_the_whole_text_kept(qtbot) -> None:
    from app.line_banner import LineBanner

    row = QWidget()
    qtbot.addWidget(row)
    layout = QHBoxLayout(row)
    title = QLabel("Run 12 · tiny-lora")
    banner = LineBanner()
    layout.addWidget(title)
    layout.addWidget(banner, 1)
    row.resize(500, 60)
    row.show()
    qtbot.wait(20)
    empty_height = banner.height()
    long = "RuntimeError: CUDA out of memory. " * 8
    banner.show_message(long, "error", about=12)
    qtbot.wait(20)
    assert banner.isVisible() and banner.height() == empty_height  # one line, the room it held
    assert banner.text() == long and banner.shown().endswith("…") and banner.toolTip() == long
    assert banner.role == "error" and not banner.passing  # an error stays until the next action
    banner.show_message("Run 12 is now queued", "ok", about=12)
    assert banner.passing and banner.toolTip() == ""  # it fits: no tooltip repeating it
    banner.moved_to(13)  # the page now shows another run: the line about run 12 goes
    assert not banner.isVisible() and banner.text() == ""
