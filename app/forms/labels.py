"""A form's labels belong to its inputs: each row's label is the buddy of the row's input (Alt+its
mnemonic, and screen readers, reach the field, not a wrapper widget around it), and the input is named
after its label for assistive technology.

QFormLayout.addRow(text, cell) makes the cell the buddy: a cell holding the field and its error line,
or the field and a Browse button, took the focus nowhere and named nothing. The form builders call
`label_inputs` once their rows are in.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QTextEdit,
    QWidget,
)

INPUTS = (QLineEdit, QComboBox, QAbstractSpinBox, QCheckBox, QRadioButton, QPlainTextEdit, QTextEdit, QAbstractSlider)


def first_input(item: QLayoutItem | QWidget | QLayout | None) -> QWidget | None:
    """The first input in `item`, in layout order (what Tab reaches first in a row, not a Browse button)."""
    if item is None:
        return None
    if isinstance(item, QLayoutItem) and not isinstance(item, QLayout):
        item = item.widget() or item.layout()
    if isinstance(item, INPUTS) and item.focusPolicy() & Qt.FocusPolicy.TabFocus:
        return item
    layout = item.layout() if isinstance(item, QWidget) else item
    if layout is None:
        return None
    for index in range(layout.count()):
        found = first_input(layout.itemAt(index))
        if found is not None:
            return found
    return None


def plain_label(text: str) -> str:
    """A label's words, without its mnemonic marks and trailing colon."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").strip().removesuffix(":").strip()


def label_inputs(form: QFormLayout) -> None:
    """Make each labelled row's label the buddy of the row's input, and give that input the label's words
    as its accessible name (unless it has one, or is a check box or radio button, whose own text names it)."""
    for row in range(form.rowCount()):
        label_item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        label = label_item.widget() if label_item is not None else None
        if not isinstance(label, QLabel) or not plain_label(label.text()):
            continue
        field = first_input(form.itemAt(row, QFormLayout.ItemRole.FieldRole))
        if field is None:
            continue
        label.setBuddy(field)
        if not field.accessibleName() and not (isinstance(field, QAbstractButton) and field.text()):
            field.setAccessibleName(plain_label(label.text()))


def label_all_inputs(root: QWidget) -> None:
    """`label_inputs` for every form under `root` (a view or dialog, once built)."""
    for form in root.findChildren(QFormLayout):
        label_inputs(form)
