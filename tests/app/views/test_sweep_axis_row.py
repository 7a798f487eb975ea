"""A sweep row's boxes are named and reached from their labels (the rest of the setup form's are, through
app/forms/labels.py; this row is a grid of its own)."""

from __future__ import annotations

from tests.app.views.test_sweep_panel import _ready_form


def test_a_sweep_rows_labels_buddy_and_name_its_boxes(store, ctx, qtbot, tmp_path) -> None:
    from PySide6.QtWidgets import QLabel

    row = _ready_form(store, ctx, qtbot, tmp_path).sweep.rows[0]
    buddies = {label.text(): label.buddy() for label in row.findChildren(QLabel) if label.buddy()}
    assert buddies == {"Setting": row.field, "Values": row.values}
    assert row.field.accessibleName() == "Swept setting" and row.values.accessibleName() == "Values to sweep"
