"""Chart titles fit their row: shortened in the middle (both ends of a metric's name stay), never cut at
the chart's edge, the whole title in the tooltip. Seen in a 1024 x 600 window (charts about 195 px
wide): 'Evaluation: eval_macro_f1' was drawn 'Evaluation: eval_mac…', its end cut by the chart's edge."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QFont, QFontMetrics


def test_fit_title_keeps_both_ends_of_a_long_name(qapp) -> None:
    from app.charts.title import fit_title

    metrics = QFontMetrics(QFont())
    assert fit_title("Loss", metrics, 200) == "Loss"
    room = metrics.horizontalAdvance("eval_macro_f1") + 2
    assert fit_title("Evaluation: eval_macro_f1", metrics, room) == "eval_macro_f1"  # the prefix goes first
    shown = fit_title("Evaluation: evals/held.csv/eval_accuracy", metrics, 90)
    assert "…" in shown and shown.startswith("evals/") and shown.endswith("acy")
    assert metrics.horizontalAdvance(shown) <= 90


@pytest.mark.parametrize("width", [170, 195, 230, 320])
@pytest.mark.parametrize("title", ["Evaluation: eval_macro_f1", "Evaluation: evals/held.csv/eval_accuracy"])
def test_a_title_is_drawn_inside_its_row(qtbot, width: int, title: str) -> None:
    from app.charts.live_chart import LiveChartWidget

    chart = LiveChartWidget(title)
    qtbot.addWidget(chart)
    steps = np.array([100.0, 200.0, 300.0, 400.0])
    chart.append("m", steps, steps + 1e9, np.array([0.5, 0.6, 0.7, 0.8]), evaluation=True)
    chart.refresh()
    chart.resize(width, 200)
    chart.show()
    qtbot.waitExposed(chart)
    label = chart.plot.titleLabel
    qtbot.waitUntil(lambda: label.sceneBoundingRect().width() < width)  # laid out
    row, text = label.sceneBoundingRect(), label.item.sceneBoundingRect()
    assert row.left() - 0.5 <= text.left() and text.right() <= row.right() + 0.5, (label.text, row, text)
    shown = label.text
    assert shown == title or title.endswith(shown.rpartition("…")[2])  # the name's end is never what is cut
    assert chart.plot_widget.toolTip() == ("" if shown == title else title)
