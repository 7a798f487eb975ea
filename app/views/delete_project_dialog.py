"""The dialog that says exactly what deleting a project removes, and asks (Cancel is the default)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QStyle, QVBoxLayout, QWidget

from spark_trainer.store import projects


class DeleteProjectDialog(QDialog):
    """Says exactly what deleting a project removes before it does."""

    def __init__(self, contents: projects.ProjectContents, folders: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        p = contents.project
        self.setWindowTitle(f"Delete {p.name}?")
        self.setMinimumWidth(480)
        layout = QVBoxLayout(self)
        self.folders = folders
        text = (f"Delete project <b>{p.name}</b>? This removes from the database:<ul>"
                f"<li>{p.num_datasets} dataset(s)</li><li>{p.num_experiments} experiment(s)</li>"
                f"<li>{p.num_runs} run(s) with {contents.num_metrics:,} metric points</li></ul>"
                "This cannot be undone.")
        self.summary = QLabel(text)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        # What the folders hold on a wrapping line of its own: in the box's one line it was cut at
        # "...logs, exports" (the dialog kept its 480 px minimum, narrower than the line).
        self.delete_files = QCheckBox(f"Also delete {len(self.folders)} folder(s) in the data home")
        self.delete_files.setEnabled(bool(self.folders))
        layout.addWidget(self.delete_files)
        self.files_note = QLabel("Their dataset files, checkpoints, logs and exports.")
        self.files_note.setObjectName("Muted")
        self.files_note.setWordWrap(True)
        self.files_note.setEnabled(bool(self.folders))
        indent = self.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) + \
            self.style().pixelMetric(QStyle.PixelMetric.PM_CheckBoxLabelSpacing)
        self.files_note.setContentsMargins(indent, 0, 0, 0)  # under the box's text, not its square
        self.files_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.files_note)
        layout.setSpacing(4)
        layout.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.confirm = buttons.addButton("Delete project", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.confirm.clicked.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # Enter cancels, as in every box that deletes (app.confirm): with the focus on "Delete project"
        # (an auto-default button becomes the default when focused) Delete then Enter removed it all.
        self.confirm.setAutoDefault(False)
        self.cancel = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel.setDefault(True)
        self.cancel.setFocus()
