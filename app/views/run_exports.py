"""The run detail's "Exports & evaluations" tab: the run's exports (folder, Hub URL) and evaluations,
with the Export and Evaluate actions."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from spark_trainer.store.entities import Run, RunStatus, local_time
from spark_trainer.store.store import Store

EXPORT_COLUMNS = ("Id", "Step", "Kind", "Dtype", "Folder", "Hub", "Created")
EVAL_COLUMNS = ("Id", "Task", "Model", "Data", "Status", "Result")


def _table(columns: tuple[str, ...], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _fill(table: QTableWidget, rows: list[tuple[object, ...]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem("-" if value is None else str(value))
            item.setToolTip(item.text())
            table.setItem(r, c, item)


class RunExportsWidget(QWidget):
    """Set the run with `show_run`; `refresh` re-reads the lists (cheap: two small queries)."""

    changed = Signal()

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx = store, ctx
        self.run: Run | None = None
        self.dialog: QWidget | None = None
        layout = QVBoxLayout(self)
        actions = QHBoxLayout()
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save a checkpoint as a Hugging Face model folder, optionally pushed to the Hub")
        self.evaluate_button = QPushButton("Evaluate…")
        self.evaluate_button.setToolTip("Perplexity, classification or multiple-choice evaluation in a worker")
        actions.addWidget(self.export_button)
        actions.addWidget(self.evaluate_button)
        actions.addStretch(1)
        layout.addLayout(actions)
        layout.addWidget(QLabel("Exports"))
        self.exports = _table(EXPORT_COLUMNS, 4)
        layout.addWidget(self.exports, 1)
        layout.addWidget(QLabel("Evaluations"))
        self.evaluations = _table(EVAL_COLUMNS, 5)
        layout.addWidget(self.evaluations, 1)
        self.export_button.clicked.connect(self.open_export)
        self.evaluate_button.clicked.connect(self.open_evaluate)

    def show_run(self, run: Run, lists: tuple[list, list] | None = None) -> None:
        """Show a run's exports and evaluations (`lists`, read off the GUI thread; None: read them now)."""
        self.run = run
        has_checkpoint = bool(run.run_dir) and run.status in (RunStatus.COMPLETED, RunStatus.PAUSED,
                                                              RunStatus.CANCELLED, RunStatus.INTERRUPTED,
                                                              RunStatus.FAILED)
        self.export_button.setEnabled(has_checkpoint)
        from spark_trainer.evaluation.tasks import TASK_RECIPES

        tasks = [name for name, recipes in TASK_RECIPES.items() if run.recipe in recipes]
        self.evaluate_button.setEnabled(has_checkpoint and bool(tasks))
        self.evaluate_button.setToolTip(
            f"{', '.join(tasks).capitalize()} evaluation in a worker" if tasks else
            f"No evaluation task takes {run.recipe} runs yet; its validation metrics are in the Evaluation tab")
        if lists is None:
            self.refresh()
        else:
            self.show_lists(*lists)

    def refresh(self) -> None:
        """Re-read the lists on the pool; they are shown when read."""
        from app.views.run_detail_reads import read_exports
        from app.workers import Task

        if self.run is None:
            return
        run_id, store = self.run.id, self.store
        task = Task(lambda _ctx: read_exports(store, run_id), owner=self, name="run-exports")
        task.signals.succeeded.connect(lambda lists: self.show_lists(*lists) if self.run and self.run.id == run_id
                                       else None)
        self.ctx.tasks.start(task, self.ctx.pool)

    def show_lists(self, found: list, evals: list, names: dict[str, str] | None = None) -> None:
        from spark_trainer.store.exports import shown_path

        _fill(self.exports, [(e.id, e.step, e.options.get("kind"), e.options.get("dtype"), shown_path(e),
                              e.hub_url or "not pushed", f"{local_time(e.created_at):%Y-%m-%d %H:%M}") for e in found])
        _fill(self.evaluations, [(e.id, e.task, e.weights,
                                  (names or {}).get(e.data_path, e.data_path.rsplit("/", 1)[-1]),
                                  e.status if not e.is_active or not e.total
                                  else f"{e.status} {e.done}/{e.total}", _result(e)) for e in evals])
        for r in range(self.exports.rowCount()):
            self.exports.item(r, 0).setData(Qt.ItemDataRole.UserRole, found[r].id)

    def run_gone(self, why: str) -> None:
        """The run was deleted (here or by another process): its exports' and evaluations' records went
        with it, and nothing can be exported or evaluated from it (`why` says so on the buttons)."""
        self.run = None
        _fill(self.exports, [])
        _fill(self.evaluations, [])
        for button in (self.export_button, self.evaluate_button):
            button.setEnabled(False)
            button.setToolTip(why)

    def open_export(self) -> QWidget | None:
        from app.views.export_dialog import ExportDialog

        if self.run is None:
            return None
        dialog = ExportDialog(self.store, self.ctx, self.run, self)
        dialog.exported.connect(lambda _id: self._changed())
        dialog.finished.connect(lambda _code: self._changed())
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_evaluate(self) -> QWidget | None:
        from app.views.evaluate_dialog import EvaluateDialog

        if self.run is None:
            return None
        dialog = EvaluateDialog(self.store, self.ctx, self.run, self)
        dialog.finished_evaluation.connect(lambda _id: self._changed())
        self.dialog = dialog
        dialog.open()
        return dialog

    def _changed(self) -> None:
        self.refresh()
        self.changed.emit()

    def busy(self) -> bool:
        busy = getattr(self.dialog, "busy", None)
        return bool(busy and self.dialog.isVisible() and busy())


def _result(evaluation: object) -> str:
    from app.views.evaluate_dialog import summary_text

    if getattr(evaluation, "status", "") == "completed":
        return summary_text(evaluation.result or {}).replace("\n", "; ")
    error = getattr(evaluation, "error", None)
    return error.strip().splitlines()[0] if error else ""
