"""The Evaluation tab of a run: the latest evaluation report of a classification run (accuracy,
macro-F1, per-class precision/recall) and its confusion-matrix picture."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.views.run_detail_reads import EvalReport


class EvalReportPanel(QWidget):
    """Shows a run's newest `eval_report` artifact and its `eval_image` (the confusion matrix)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.title = QLabel("No evaluation report yet: classification runs write one at every evaluation.")
        self.title.setObjectName("Muted")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.skipped = QLabel("")  # images the run left out because they do not decode
        self.skipped.setObjectName("Muted")
        self.skipped.setWordWrap(True)
        self.skipped.hide()
        layout.addWidget(self.skipped)
        row = QHBoxLayout()
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        row.addWidget(self.picture)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        row.addWidget(self.table, 1)
        layout.addLayout(row, 1)

    def show_report(self, report: EvalReport | None) -> bool:
        """Show a run's newest report (read off the GUI thread by `read_eval_report`); False when it has none."""
        if report is None:
            self.table.setRowCount(0)
            self.picture.clear()
            return False
        if report.data is None:
            self.title.setText(report.error)
            return False
        data = report.data
        metrics = data.get("metrics", {})
        shown = ", ".join(f"{k.removeprefix('eval_')} {v:.3f}" for k, v in metrics.items())
        self.title.setText(f"<b>Step {data.get('step')}</b>: {shown} on {data.get('examples', '?')} validation "
                           "examples. Confusion matrix: rows are true classes, columns predicted.")
        skipped = data.get("skipped_images") or []
        self.skipped.setText(f"{len(skipped)} image{'s' if len(skipped) != 1 else ''} skipped, not trained or "
                             "evaluated: " + "; ".join(f"{Path(s['path']).name} ({s['reason']})" for s in skipped[:5])
                             + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""))
        self.skipped.setVisible(bool(skipped))
        per_class = data.get("per_class", {})
        self.table.setRowCount(len(per_class))
        for r, (name, values) in enumerate(per_class.items()):
            cells = [name, f"{values['precision']:.3f}", f"{values['recall']:.3f}", f"{values['f1']:.3f}",
                     str(values["support"])]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        if report.image is not None and not report.image.isNull():
            self.picture.setPixmap(QPixmap.fromImage(report.image))
        return True
