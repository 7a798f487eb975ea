"""The Evaluation tab of a run: the latest evaluation report of a run (a classifier's accuracy,
macro-F1, per-class precision/recall and confusion-matrix picture; a diffusion run's loss over its
validation images)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.views.run_detail_reads import EvalReport
from spark_trainer.jobs.run_eval_report import report_metrics

NO_REPORT = ("No evaluation report yet: classification and diffusion runs write one at every evaluation. "
             "Every run's evaluation metrics are also on the Charts tab.")


class EvalReportPanel(QWidget):
    """Shows a run's newest `eval_report` artifact and its `eval_image` (the confusion matrix)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.title = QLabel(NO_REPORT)
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
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        row.addWidget(self.table, 1)
        layout.addLayout(row, 1)
        self.table.hide()  # until a report with classes comes

    def show_report(self, report: EvalReport | None) -> bool:
        """Show a run's newest report (read off the GUI thread by `read_eval_report`); False when it has none."""
        if report is None or report.data is None:  # nothing of the last run shown may stay
            self.table.setRowCount(0)
            self.table.hide()
            self.picture.clear()
            self.skipped.hide()
            self.title.setText(NO_REPORT if report is None else report.error)
            return False
        data = report.data
        shown = ", ".join(f"{k.removeprefix('eval_')} {v:.3f}" for k, v in report_metrics(data).items())
        count = next((f"{data[k]} validation {k}" for k in ("examples", "images") if k in data), "")
        per_class = data.get("per_class") or {}
        self.title.setText(f"<b>Step {data.get('step')}</b>: {shown}" + (f" on {count}" if count else "") + "."
                           + (" Confusion matrix: rows are true classes, columns predicted." if per_class else ""))
        skipped = data.get("skipped_images") or []
        self.skipped.setText(f"{len(skipped)} image{'s' if len(skipped) != 1 else ''} skipped, not trained or "
                             "evaluated: " + "; ".join(f"{Path(s['path']).name} ({s['reason']})" for s in skipped[:5])
                             + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""))
        self.skipped.setVisible(bool(skipped))
        self.table.setVisible(bool(per_class))
        self.table.setRowCount(len(per_class))
        for r, (name, values) in enumerate(per_class.items()):
            cells = [name, f"{values['precision']:.3f}", f"{values['recall']:.3f}", f"{values['f1']:.3f}",
                     str(values["support"])]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        if report.image is not None and not report.image.isNull():
            self.picture.setPixmap(QPixmap.fromImage(report.image))
        else:
            self.picture.clear()
        return True
