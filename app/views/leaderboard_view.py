"""Leaderboard: runs ranked by a chosen metric, filtered by project, dataset and recipe; evaluation
columns (and an evals/... ranking) on one evaluation data at a time, chosen in "Evaluated on".

Projects and datasets come from the app model; the metric keys and the ranking are read on the
pool (newest request wins), so choosing a filter never blocks the window.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QWidget,
)

from app.context import AppContext
from app.flow_layout import FlowLayout
from app.views.base import BaseView
from app.views.leaderboard_evals import (
    BoardRow,
    baseline_rows,
    board_column,
    evaluation_columns,
    rank_column,
)
from app.views.row_filter import RowFilter
from app.views.table_models import RowsModel, RowsTable
from app.widgets import MessageBanner
from app.workers import Task
from spark_trainer.errors import BadInput
from spark_trainer.evaluation.leaderboard import EvalColumns, board, eval_data_line
from spark_trainer.evaluation.tasks import METRIC_PREFIX
from spark_trainer.leaderboard import default_metric, left_out_text, lower_is_better, metric_keys, mixed_recipes
from spark_trainer.recipes.registry import list_recipes
from spark_trainer.store.store import Store

COLUMNS = ("Rank", "Run", "Project", "Experiment", "Dataset", "Recipe", "Score", "Step", "Points", "Status")
BOARD_COLUMNS = (rank_column(), *(board_column(title, i) for i, title in enumerate(COLUMNS) if i))
NAME_BOX_PX = 280  # the widest the Project and Dataset filters grow to their names
RERANK_MS = 2000  # the shown board is ranked again at most this often while runs report values


class LeaderboardView(BaseView):
    title = "Leaderboard"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.banner = MessageBanner()
        self.body.addWidget(self.banner)
        # The filters wrap onto a second line rather than squeeze: at 1024 px a long dataset name
        # left the project filter reading 'all projec'.
        filters = QWidget()
        row = FlowLayout(filters, spacing=12)
        self.metric_box = QComboBox()
        self.metric_box.setMinimumWidth(160)
        self.use = QComboBox()
        self.use.addItems(["best", "last"])
        self.use.setToolTip("Rank by each run's best value of the metric, or its last value")
        self.project = QComboBox()
        self.dataset = QComboBox()
        self.recipe = QComboBox()
        self.eval_data = QComboBox()  # filled from each ranking: the data its runs were evaluated on
        self.eval_data.setToolTip("The evaluation data whose results the evaluation columns (and an evals/... "
                                  "ranking) show: results on different data are not comparable")
        for label, widget in (("Metric", self.metric_box), ("Value", self.use), ("Project", self.project),
                              ("Dataset", self.dataset), ("Recipe", self.recipe), ("Evaluated on", self.eval_data)):
            pair = QWidget()
            pair_layout = QHBoxLayout(pair)
            pair_layout.setContentsMargins(0, 0, 0, 0)
            pair_layout.addWidget(QLabel(label))
            pair_layout.addWidget(widget)
            row.addWidget(pair)
            if widget is self.eval_data:
                self._eval_data_pair = pair
                pair.hide()  # until a ranking's runs have been evaluated
            widget.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # filled after first show
        for named in (self.project, self.dataset, self.eval_data):  # long names: the Dataset box ran past the window's edge
            named.setMaximumWidth(NAME_BOX_PX)  # cut in the box, whole in its list and tooltip
            named.currentIndexChanged.connect(lambda _i, box=named: box.setToolTip(box.currentText()))
        self.body.addWidget(filters)
        self.order_note = QLabel("")
        self.order_note.setObjectName("Muted")
        self.order_note.setWordWrap(True)  # the mixed-recipes note was cut at "...comparable; choo" at 1280 px
        self.body.addWidget(self.order_note)
        self.rows = RowsModel(BOARD_COLUMNS, key=_row_key, parent=self)
        self.table = RowsTable(self.rows)
        self.table.stretch_column(3)  # the experiment's name: never squeezed to 't…'
        self.table.sort_by(0, Qt.SortOrder.AscendingOrder)  # by rank; baselines stay below
        self.row_filter = RowFilter(self.table, "runs")
        row.addWidget(self.row_filter)
        self.body.addWidget(self.table, 1)
        self.empty = QLabel("")
        self.empty.setObjectName("Muted")
        self.body.addWidget(self.empty)
        for combo in (self.metric_box, self.use, self.dataset, self.recipe):
            combo.currentIndexChanged.connect(lambda _i: self.rank())
        # Only data the user picked is kept across rankings; else each ranking opens on its own default
        # (an evals/... metric: the data most runs have it on, not the data the last ranking showed).
        self._eval_data_picked = False
        self.eval_data.activated.connect(lambda _i: self._pick_eval_data())
        self.project.currentIndexChanged.connect(lambda _i: self._on_project())
        self.table.doubleClicked.connect(lambda index: self.ctx.navigate("runs", self.rows.row(index.row()).run_id))
        self._task: Task | None = None
        self._asked = 0  # the newest read asked for; older answers are dropped
        self._keys: list[str] | None = None
        ctx.model.projects.projects_reset.connect(self._on_catalog)  # bound methods: see datasets_view
        ctx.model.datasets.datasets_reset.connect(self._on_catalog)
        # Runs that report values (an evaluation, a run finishing) while the board is shown: ranked
        # again, at most every RERANK_MS (the ranking is a read on the pool).
        self._rerank = QTimer(self)
        self._rerank.setSingleShot(True)
        self._rerank.setInterval(RERANK_MS)
        self._rerank.timeout.connect(self._rerank_now)
        ctx.model.runs.runs_updated.connect(self._on_runs_updated)
        self.refresh()

    def _read(self, fn: object, then: object) -> None:
        self._asked += 1
        asked = self._asked
        task = Task(lambda _ctx: fn(), owner=self, name="leaderboard")  # type: ignore[operator]
        task.signals.succeeded.connect(lambda result: then(result) if asked == self._asked else None)  # type: ignore[operator]
        task.signals.failed.connect(lambda message, _exc: self.banner.show_message(message, "error"))
        self._task = self.ctx.tasks.start(task, self.ctx.pool)

    def refresh(self) -> None:
        """Read the metric keys on the pool, then fill the filters and rank."""
        store = self.store
        self._read(lambda: metric_keys(store), self._fill_filters)

    def _on_catalog(self, _found: list) -> None:
        if self._keys is not None:
            self._fill_filters(self._keys)

    def _on_runs_updated(self, _runs: list) -> None:
        if self.isVisible() and not self._rerank.isActive():
            self._rerank.start()

    def _rerank_now(self) -> None:
        if self.isVisible():
            self.refresh()  # the metric keys too: a run may have logged its first eval_accuracy

    def _fill_filters(self, keys: list[str]) -> None:
        self._keys = keys
        project_list = self.ctx.model.projects.projects
        preferred = self.metric_box.currentText() or default_metric(keys) or ""
        self._refill(self.metric_box, [(k, k) for k in keys], preferred)
        self._refill(self.project, [("all projects", None)] + [(p.name, p.id) for p in project_list],
                     self.project.currentData())
        self._refill(self.recipe, [("all recipes", None)] + [(r.name, r.name) for r in list_recipes()],
                     self.recipe.currentData())
        self._on_project()

    @staticmethod
    def _refill(combo: QComboBox, items: list[tuple[str, object]], keep: object) -> None:
        combo.blockSignals(True)
        combo.clear()
        for text, data in items:
            combo.addItem(text, data)
        index = combo.findData(keep) if keep is not None else -1
        if index < 0 and isinstance(keep, str):
            index = combo.findText(keep)
        combo.setCurrentIndex(max(index, 0))
        combo.setToolTip(combo.currentText() if combo.maximumWidth() == NAME_BOX_PX else combo.toolTip())
        combo.blockSignals(False)

    def _pick_eval_data(self) -> None:
        self._eval_data_picked = True
        self.rank()

    def _on_project(self) -> None:
        project = self.project.currentData()
        found = self.ctx.model.datasets.of_project(project)
        self._dataset_names = self.ctx.model.datasets.names()
        self._project_names = self.ctx.model.projects.names()
        self._refill(self.dataset, [("all datasets", None)] + [(f"{d.name} ({d.project})", d.id) for d in found],
                     self.dataset.currentData())
        self.rank()

    def rank(self) -> None:
        key = self.metric_box.currentText()
        if not key:
            self._asked += 1
            self.rows.set_rows([])
            self.table.hide()
            self.empty.setText("No run has reported metrics yet: the leaderboard fills as runs train.")
            self.empty.show()
            return
        store, project = self.store, self.project.currentData()
        dataset, recipe, use = self.dataset.currentData(), self.recipe.currentData(), self.use.currentText()
        wanted = self.eval_data.currentData() if self._eval_data_picked else None

        def read() -> tuple[list, object, list]:
            try:
                return board(store, key, project=project, dataset=dataset, recipe=recipe, use=use, eval_data=wanted)
            except BadInput:  # the chosen data is not one of these runs' (another filter): the default one
                return board(store, key, project=project, dataset=dataset, recipe=recipe, use=use)

        self._read(read, lambda result: self._show(key, *result))

    def _show(self, key: str, entries: list, evals: EvalColumns, without: list) -> None:
        mixed = mixed_recipes(entries, key)
        self._refill(self.eval_data, [(f"{c.name} ({c.runs} run{'s' * (c.runs != 1)})", c.path) for c in evals.choices],
                     evals.data.path if evals.data else None)
        self._eval_data_pair.setVisible(bool(evals.choices))
        on = f" on {evals.data.name}" if evals.data and key.startswith(METRIC_PREFIX) else ""
        shown_on = eval_data_line(evals, 'pick one under "Evaluated on"')
        step = "where each run's best value was measured" if self.use.currentText() == "best" else "each run's last"
        self.order_note.setText(f"{'Lower' if lower_is_better(key) else 'Higher'} {key}{on} ranks first; "
                                f"Step: {step}; double-click a run to open it."
                                + (f" Evaluation columns: {shown_on.removeprefix('evaluation ')}." if shown_on else "")
                                + (f" {left_out}." if (left_out := left_out_text(without, key + on)) else "")
                                + (f" Note: {mixed}; choose a recipe above." if mixed else ""))
        names = self._dataset_names
        rows = [BoardRow((e.rank, e.run.id, e.project, e.run.experiment,
                          e.dataset_text(names), e.run.recipe,
                          float(e.score), e.step, e.summary.count, e.run.status.value),
                         evals.values.get(e.run.id, {}), e.run.id, tied=e.tied) for e in entries]
        self.rows.set_columns([*BOARD_COLUMNS, *evaluation_columns(evals)])
        self.rows.set_rows(rows, baseline_rows(evals, key))
        self.table.setVisible(bool(entries))
        self.empty.setText("" if entries else f"No run matching these filters has recorded {key}.")
        self.empty.setVisible(not entries)

    def search_box(self) -> RowFilter:
        return self.row_filter

    def busy(self) -> bool:
        """A read is in flight or its answer not yet shown."""
        return self._task is not None and not self._task.delivered


def _row_key(row: BoardRow) -> tuple[str, int]:
    return ("base", row.baseline.evaluation_id) if row.baseline is not None else ("run", row.run_id)
