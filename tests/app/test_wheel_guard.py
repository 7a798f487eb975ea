"""Scrolling the experiment setup form with the mouse wheel scrolls it; it never changes the
choice under the pointer."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea


def _wheel_down(widget) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_over_a_setup_choice_scrolls_the_form_and_keeps_the_choice(store, ctx, qtbot) -> None:
    """Seen on Xvfb: wheeling down the setup form, the pointer passed over 'sharding' and the form
    went on scrolling with sharding silently switched from auto to fsdp (on a CPU-only machine);
    the recipe, precision and other choices change the same way."""
    from app.views.experiment_setup_view import ExperimentSetupView

    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1000, 500)
    view.show()
    qtbot.waitExposed(view)
    scroll = view.findChild(QScrollArea)
    bar = scroll.verticalScrollBar()
    for form, field in (("train", "sharding"), ("train", "precision"), ("recipe_config", "method")):
        combo = view.forms[form].rows[field].widget
        before, at = combo.currentText(), bar.value()
        assert not combo.hasFocus()
        _wheel_down(combo)
        assert combo.currentText() == before, f"{field} changed to {combo.currentText()!r} by the wheel"
        assert bar.value() > at or bar.value() == bar.maximum(), "the form did not scroll"
    recipe = view.recipe
    before = recipe.currentText()
    _wheel_down(recipe)
    assert recipe.currentText() == before
    # A choice the user clicked into (focused) still answers the wheel, as Qt's own do.
    combo = view.forms["train"].rows["precision"].widget
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    before = combo.currentIndex()
    _wheel_down(combo)
    assert combo.currentIndex() != before
