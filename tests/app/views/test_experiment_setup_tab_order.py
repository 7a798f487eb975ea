"""Tab through the experiment setup form (beside test_experiment_setup_view.py, near 400 lines): down the
left column, then down the right-hand panel, then Launch. The recipe's settings, built when the recipe is
chosen, came last in Qt's order: Tab went from Training to Evaluation, through the right-hand panel, and
back to the recipe's settings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

from tests.app.views.test_experiment_setup_view import filled_form

SAME_ROW_PX = 6  # a row's button sits a pixel or two above the box beside it


def _tab_walk(view, start: QWidget, stop: QWidget, limit: int = 150) -> list[QWidget]:
    """The widgets Tab key presses focus, from `start` until `stop`."""
    start.setFocus()
    seen = [QApplication.focusWidget()]
    while seen[-1] is not None and seen[-1] is not stop and len(seen) < limit:
        QTest.keyClick(seen[-1], Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget())
    assert seen[-1] is stop, [(w.accessibleName() or type(w).__name__) if w else None for w in seen[-8:]]
    return seen


def _top(view, widget: QWidget) -> int:
    return widget.mapTo(view, widget.rect().topLeft()).y()


def test_tab_goes_down_the_left_column_then_the_right_hand_panel_then_launch(store, ctx, qtbot, tmp_path) -> None:
    view = filled_form(store, ctx, qtbot, tmp_path)
    view.sweep.add_row()  # a row added later is reached where it is shown too
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow)
    seen = _tab_walk(view, view.project, view.launch)
    # A scroll area draws no focus ring: as a Tab stop (the right-hand panel was one) Tab seemed to go nowhere.
    assert not [w for w in seen if isinstance(w, QScrollArea)], [type(w).__name__ for w in seen]
    side = [w for w in seen if view.side_scroll.isAncestorOf(w)]
    left = seen[: seen.index(side[0])]
    assert all(not view.side_scroll.isAncestorOf(w) for w in seen[seen.index(side[-1]) + 1:])  # the panel once
    assert seen.index(side[-1]) < seen.index(view.launch)
    for form in view.forms.values():  # every field of the left column before the right-hand panel
        assert all(row.widget in left for row in form.rows.values() if row.widget.isEnabled())
    fields = {key: [row.widget for row in form.rows.values()] for key, form in view.forms.items()}
    # As shown, top to bottom: Training, the recipe's settings, Evaluation, Checkpoints.
    assert left.index(fields["train"][-1]) < left.index(fields["recipe_config"][0])
    assert left.index(fields["recipe_config"][-1]) < left.index(fields["eval"][0])
    assert left.index(fields["eval"][-1]) < left.index(fields["checkpoint"][0])
    inner = view.left.parentWidget()
    tops = [w.mapTo(inner, w.rect().topLeft()).y() for w in left if inner.isAncestorOf(w)]
    assert all(b >= a - SAME_ROW_PX for a, b in zip(tops, tops[1:], strict=False)), tops  # never back up
    side_tops = [_top(view.side_scroll.widget(), w) for w in side]
    assert all(b >= a - SAME_ROW_PX for a, b in zip(side_tops, side_tops[1:], strict=False)), side_tops
