"""Start the real app (`app.main.main`) and report what is on its screen, for the real-display test.

The app is unchanged except for the demo's length (`DEMO_STEPS` instead of its 300 steps, through
the welcome panel's `demo_steps`, as the offscreen tests do): the run is still trained by a real
worker and charted, in a fraction of the time on a crowded machine. Input comes from outside, through
the X server (xdotool). This wrapper adds eyes: four times a second it prints one JSON line (when something changed) with the Qt platform,
the main window's X id, geometry and focus, each visible push button's text, state and screen position, and each visible
chart's curves with their point counts.

    python tests/app/real_display_app.py [app.main arguments...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app import main as app_main  # noqa: E402
from app.main_window import MainWindow  # noqa: E402

_last: list[str] = [""]


DEMO_STEPS = 20  # over 10 loss points (the test checks the chart holds all of them), a third the training


def _report(window: MainWindow) -> None:
    from PySide6.QtWidgets import QApplication, QPushButton

    from app.charts.live_chart import LiveChartWidget
    from app.views.welcome_panel import WelcomePanel

    for panel in window.findChildren(WelcomePanel):
        panel.demo_steps = DEMO_STEPS

    buttons = []
    for button in window.findChildren(QPushButton):
        if button.isVisible() and button.text():
            centre = button.mapToGlobal(button.rect().center())
            buttons.append({"text": button.text(), "enabled": button.isEnabled(), "x": centre.x(), "y": centre.y()})
    charts = []
    for chart in window.findChildren(LiveChartWidget):
        if chart.isVisible():
            charts.append({"curves": {name: int(chart.series(name).n) for name in chart.curve_names()}})
    frame = window.frameGeometry()
    state = json.dumps({"platform": QApplication.platformName(), "window": int(window.winId()),
                        "title": window.windowTitle(), "active": window.isActiveWindow(),
                        "geometry": [frame.x(), frame.y(), frame.width(), frame.height()],
                        "buttons": buttons, "charts": charts})
    if state != _last[0]:
        _last[0] = state
        print(state, flush=True)


def _show_and_report(self: MainWindow) -> None:
    from PySide6.QtCore import QTimer

    _original_show(self)
    timer = QTimer(self)
    timer.timeout.connect(lambda: _report(self))
    timer.start(250)


_original_show = MainWindow.show
MainWindow.show = _show_and_report  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(app_main.main(sys.argv[1:]))
