"""Form labels buddy and name their inputs: in the experiment setup form, its generated recipe forms, and
a row whose cell wraps the input (an error line under it, a Browse button beside it)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import (  # noqa: E402
    QAbstractSpinBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from app.forms.cells import error_label, with_button, with_error  # noqa: E402


def labels_of(root: QWidget) -> dict[str, QLabel]:
    """The row labels of every form under `root`, by their text."""
    found = {}
    for form in root.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            if item is not None and isinstance(item.widget(), QLabel):
                found[item.widget().text()] = item.widget()
    return found


def unnamed_inputs(root: QWidget) -> list[str]:
    """Inputs (not the line edits inside combo and spin boxes) without an accessible name."""
    inputs = [w for w in root.findChildren(QWidget) if isinstance(w, (QLineEdit, QComboBox, QAbstractSpinBox,
                                                                       QPlainTextEdit))
              and not isinstance(w.parentWidget(), (QComboBox, QAbstractSpinBox))]
    return [f"{type(w).__name__} {w.toolTip() or w.objectName()!r}" for w in inputs if not w.accessibleName()]


def test_a_wrapped_input_is_the_buddy_and_takes_the_labels_name(qtbot) -> None:
    from PySide6.QtWidgets import QPushButton

    from app.forms.labels import label_inputs

    root = QWidget()
    qtbot.addWidget(root)
    form = QFormLayout(root)
    path = QLineEdit()
    form.addRow("&Data file:", with_error(with_button(path, QPushButton("Browse…")), error_label()))
    label_inputs(form)
    label = labels_of(root)["&Data file:"]
    assert label.buddy() is path  # not the cell around it
    assert path.accessibleName() == "Data file"


def test_the_experiment_setup_forms_label_their_inputs(store, ctx, qtbot) -> None:
    # Seen in an accessibility walk: no widget had an accessible name, and "Experiment name" was the
    # buddy of the cell holding the box and its error line, so its mnemonic and screen readers reached nothing.
    from tests.app.views.test_experiment_setup_view import _setup_view

    view = _setup_view(store, ctx, qtbot)
    labels = labels_of(view)
    for text, box in (("Experiment name", view.name), ("Dataset", view.dataset), ("Base model", view.base_model),
                      ("Project", view.project), ("GPUs", view.gpus)):
        assert labels[text].buddy() is box, text
        assert box.accessibleName() == text
    steps = view.forms["train"].rows["max_steps"].widget
    assert labels["max steps"].buddy() is steps and steps.accessibleName() == "max steps"
    assert unnamed_inputs(view.left.parentWidget()) == []  # every input of the form's column
