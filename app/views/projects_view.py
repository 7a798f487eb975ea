"""Projects: a searchable table with counts and last activity; create, rename, delete; the welcome panel.

The table shows the app model's project list (`ctx.model.projects`); searching filters it in place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.forms.cells import keep_room
from app.shortcuts import bind
from app.views.base import BaseView
from app.views.delete_project_dialog import DeleteProjectDialog
from app.views.name_dialog import NameDialog
from app.views.row_filter import SearchEdit
from app.views.run_actions import RefusalWatch
from app.views.welcome_panel import DEMO_CHOICES, WelcomePanel
from app.widgets import MessageBanner, cap_columns, select_row_id, selected_row_id, table_texts
from app.workers import Task
from spark_trainer.errors import NotFound, SparkError
from spark_trainer.store import in_use, projects
from spark_trainer.store.entities import Project, local_time
from spark_trainer.store.store import Store

COLUMNS = ["Name", "Datasets", "Experiments", "Runs", "Last activity", "Description"]


class NumberItem(QTableWidgetItem):
    """Sorts by number, not by text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return int(self.text() or 0) < int(other.text() or 0)


class ProjectsView(BaseView):
    title = "Projects"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.dialog: QDialog | None = None
        self.search = SearchEdit()
        self.search.setPlaceholderText("Search projects (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(50)  # gives way first when the window is narrow: the buttons keep their words
        self.search.setMaximumWidth(260)
        self.search.textChanged.connect(self.refresh)
        self.new_button = QPushButton("New project")
        self.new_button.setProperty("primary", True)
        self.new_button.setToolTip("Ctrl+N")
        self.new_button.clicked.connect(self.new_project)
        self.rename_button = QPushButton("Rename")
        self.rename_button.setToolTip("F2")
        self.rename_button.clicked.connect(self.rename_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.demo_button = QPushButton("Demo project")
        self.demo_button.setToolTip("Add a demo to the 'demo' project: a tiny local model, sample data and a "
                                    "short run, trained offline")
        demos = QMenu(self.demo_button)
        for recipe, text in DEMO_CHOICES:
            demos.addAction(text.removeprefix("Demo: ")).setData(recipe)
        demos.triggered.connect(lambda action: self.welcome.create_demo(action.data()))
        self.demo_button.setMenu(demos)
        for widget in (self.search, self.rename_button, self.delete_button, self.demo_button, self.new_button):
            if widget is not self.search:  # never narrower than their words
                widget.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            self.header.addWidget(widget)
        # Under the list, not over it: a line above the table pushed every row down as it came and went
        # (under the double-click meant for the row just created), and holding its room there would cost
        # 38 px above every list. Here it takes that room only while it speaks, from the list's foot.
        self.banner = MessageBanner()
        self.banner.forget_on_leave()

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # A to Z: Qt's first order is Z to A
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        cap_columns(self.table)  # a long name hid every other column
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.empty_search = QLabel("")
        self.empty_search.setObjectName("Muted")
        self.welcome = WelcomePanel(store, ctx)
        self.welcome.new_project_requested.connect(self.new_project)
        self.welcome.building.connect(lambda busy: self.demo_button.setEnabled(not busy))
        list_page = QWidget()
        list_layout = QVBoxLayout(list_page)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addWidget(self.table, 1)
        list_layout.addWidget(self.empty_search)
        self.pages = QStackedWidget()
        self.pages.addWidget(list_page)
        self.pages.addWidget(self.welcome)
        self.body.addWidget(self.pages, 1)
        self.body.addWidget(self.banner)
        self.body.addWidget(self.welcome.activity)  # a demo's progress shows on either page
        self.hint = QLabel("Double-click a project to see its datasets.  F2 renames, Delete removes.")
        self.hint.setObjectName("Muted")
        self.body.addWidget(self.hint)
        for name, slot in (("projects.rename", self.rename_selected), ("projects.delete", self.delete_selected),
                           ("projects.open", self.open_selected)):
            bind(name, self.table, slot, Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._projects: list[Project] = []
        self._task: Task | None = None
        ctx.model.projects.projects_reset.connect(self._on_projects)  # bound: see datasets_view
        ctx.current_project_changed.connect(self.banner.moved_to)  # "Created project 'x'" is about x
        RefusalWatch(self.banner, ctx.model.runs)  # 'Cannot delete: ... run 6 ...' goes once run 6 moved on
        self.refresh()

    # -- reading ------------------------------------------------------------------------------
    def _on_projects(self, _found: list) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the model (no store read); until its first read lands, nothing is claimed."""
        model = self.ctx.model.projects
        everything = model.projects
        shown = model.matching(self.search.text())
        self._projects = shown
        if model.loaded:
            self.pages.setCurrentWidget(self.welcome if not everything else self.pages.widget(0))
        on_welcome = self.pages.currentWidget() is self.welcome
        self.welcome.keep_activity_room(on_welcome)
        keep_room(self.banner, on_welcome)  # "Deleted project 'x'." under the welcome moved its centred text
        for widget in (self.hint, self.search, self.rename_button, self.delete_button):
            widget.setVisible(bool(everything))
        self.demo_button.setVisible(bool(everything) and self.welcome.demo_button is not None)
        self._fill(shown)
        if self.banner.passing and self.banner.about not in {None, *(p.id for p in everything)}:
            self.banner.clear_message()  # the project it names is gone (deleted from the command line...)
        term = self.search.text().strip()
        self.empty_search.setText(f"No project matches {term!r}." if everything and not shown else "")
        self.empty_search.setVisible(bool(self.empty_search.text()))  # not an empty line under the list
        self._update_buttons()

    def _fill(self, items: list[Project]) -> None:
        """Refill the rows, keeping the selection; a refill never changes the current project (it made
        this list's selection current again while the Datasets view was on another project)."""
        selected = self.selected_project()
        self.table.blockSignals(True)
        try:
            self._fill_rows(items, selected)
        finally:
            self.table.blockSignals(False)

    def _fill_rows(self, items: list[Project], selected: Project | None) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(items))
        for row, project in enumerate(items):
            name = QTableWidgetItem(project.name)
            name.setData(Qt.ItemDataRole.UserRole, project.id)
            name.setToolTip(project.name)  # elided past the column's cap
            cells = [
                name,
                NumberItem(str(project.num_datasets)),
                NumberItem(str(project.num_experiments)),
                NumberItem(str(project.num_runs)),
                QTableWidgetItem(f"{local_time(project.last_activity):%Y-%m-%d %H:%M}" if project.last_activity else "-"),
                QTableWidgetItem(project.description),
            ]
            for column, item in enumerate(cells):
                if column in (1, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.table.setSortingEnabled(True)
        if selected is not None:
            self.select(selected.id)

    def selected_project(self) -> Project | None:
        project_id = selected_row_id(self.table)
        return next((item for item in self._projects if item.id == project_id), None)

    def select(self, project_id: int) -> None:
        select_row_id(self.table, project_id)

    def row_texts(self) -> list[list[str]]:
        """What the table shows, row by row (for tests and screenshots)."""
        return table_texts(self.table)

    def _update_buttons(self) -> None:
        project = self.selected_project()
        self.rename_button.setEnabled(project is not None)
        self.delete_button.setEnabled(project is not None)

    def _on_selection(self) -> None:
        """The user chose a row: it is the current project."""
        self._update_buttons()
        project = self.selected_project()
        if project is not None:
            self.ctx.set_current_project(project.id)

    def open_item(self, payload: object) -> None:
        if payload == "new":  # "Create a project first" from another view
            self.new_project()

    def focus_target(self) -> QWidget:
        return self.table if self.pages.currentIndex() == 0 else self.welcome

    def search_box(self) -> QLineEdit:
        return self.search

    def open_selected(self) -> None:
        project = self.selected_project()
        if project is not None:
            self.ctx.set_current_project(project.id)
            self.ctx.navigate("datasets", None)

    # -- writing ------------------------------------------------------------------------------
    def new_project(self) -> NameDialog:
        dialog = NameDialog("New project", taken=self._names(), parent=self)
        dialog.accepted.connect(lambda: self._create(dialog.name.text(), dialog.description.text()))
        self._open(dialog)
        return dialog

    def _names(self) -> set[str]:
        return {p.name for p in self.ctx.model.projects.projects}

    def _write(self, name: str, fn: Callable[[], Any], done: Callable[[Any], None], failed: str,
               project: Project | None = None) -> Task:
        """Run a store write (or read) on the pool; `done` gets its result on the GUI thread. `project`: the
        one it acts on, which another process may have deleted meanwhile (`_gone`)."""
        task = Task(lambda _ctx: fn(), owner=self, name=name)
        task.signals.succeeded.connect(done)
        task.signals.failed.connect(lambda message, exc: self._gone(project) if project is not None and isinstance(
            exc, NotFound) else self.banner.show_message(f"{failed}: {message}", "error"))
        self._task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _gone(self, project: Project) -> None:
        """The project was deleted by another process (`project delete` in a terminal) since the list was
        read: the store's words ("no project named or numbered '7'; see `spark-trainer project list`") named
        its id and a command; say it in the window's words, and the list drops it now."""
        if self.ctx.current_project == project.id:
            self.ctx.set_current_project(None)
        self.ctx.model.projects.apply_removed(project.id)
        self.ctx.model.refresh()
        self.banner.show_message(f"Project {project.name!r} no longer exists (deleted elsewhere); the list has been "
                                 "refreshed.", "warning")

    def _create(self, name: str, description: str) -> Task:
        store = self.store
        return self._write("create-project", lambda: projects.create(store, name, description.strip()),
                           self._created, "Could not create the project")

    def _created(self, project: Project) -> None:
        self.ctx.model.projects.apply_written(project)
        self.ctx.model.refresh()
        self.banner.show_message(f"Created project {project.name!r}.", "ok", about=project.id)
        self.select(project.id)
        # The keys go to the list, on the new row, so Return opens it: after Ctrl+N from another view they
        # were left in that hidden view, and Return did nothing until the row was clicked. Not while the
        # user types somewhere else in the window meanwhile (the search box, say).
        focused = QApplication.focusWidget()
        if self.isVisible() and not (isinstance(focused, QLineEdit) and focused.isVisible()):
            self.table.setFocus()

    def rename_selected(self) -> NameDialog | None:
        project = self.selected_project()
        if project is None:
            return None
        dialog = NameDialog(f"Rename {project.name}", project.name, with_description=False, taken=self._names(),
                            parent=self)
        dialog.accepted.connect(lambda: self._rename(project, dialog.name.text()))
        self._open(dialog)
        return dialog

    def _rename(self, project: Project, new_name: str) -> Task:
        store = self.store

        def renamed(found: Project) -> None:
            self.banner.show_message(f"Renamed {project.name!r} to {found.name!r}.", "ok", about=found.id)
            self.ctx.model.projects.apply_written(found)
            self.ctx.model.refresh()

        return self._write("rename-project", lambda: projects.rename(store, project.id, new_name), renamed,
                           "Could not rename", project)

    def delete_selected(self) -> Task | None:
        """Read what deleting the selected project would remove (on the pool), then ask; the dialog
        is `self.dialog` once the task is delivered."""
        project = self.selected_project()
        if project is None:
            return None
        store, home = self.store, self.store.home

        def read() -> tuple[projects.ProjectContents, list[Path]] | str:
            from spark_trainer.jobs.deletion import project_folders, refuse_if_pinned
            from spark_trainer.store import runs

            contents = projects.contents(store, project.id)
            try:
                in_use.check(store, "project", project.id)
                for run in runs.list_all(store, project=project.id):
                    refuse_if_pinned(run)  # one of its runs being exported
            except SparkError as exc:
                return f"Cannot delete: {exc}."
            return contents, project_folders(contents, home)

        return self._write("read-project", read, lambda found: self._ask_delete(project, found),
                           "Could not read the project", project)

    def _ask_delete(self, project: Project, found: tuple[projects.ProjectContents, list[Path]] | str) -> None:
        if isinstance(found, str):
            self.banner.show_message(found, "error")
            return
        contents, folders = found
        dialog = DeleteProjectDialog(contents, folders, parent=self)
        dialog.accepted.connect(lambda: self._delete(project, dialog.delete_files.isChecked(), dialog.folders))
        self._open(dialog)

    def _delete(self, project: Project, delete_files: bool, folders: list[Path]) -> Task:
        store = self.store
        for run in self.ctx.model.runs.all_runs():  # noted first: the poller may see them gone before `deleted`
            if run.project_id == project.id:
                self.ctx.deleted_here[run.id] = f"with project {project.name!r}"

        def delete() -> int:
            from spark_trainer.jobs.control import delete_project

            return len(delete_project(store, project.id, folders, delete_files=delete_files))

        def deleted(removed: int) -> None:
            note = f" and {removed} folder{'s' if removed != 1 else ''} on disk" if delete_files else ""
            if self.ctx.current_project == project.id:
                self.ctx.set_current_project(None)
            self.ctx.model.projects.apply_removed(project.id)
            self.ctx.model.refresh()
            # about no project: it goes when one is chosen
            self.banner.show_message(f"Deleted project {project.name!r}{note}.", "ok")

        return self._write("delete-project", delete, deleted, "Could not delete", project)

    def busy(self) -> bool:
        return self._task is not None and not self._task.delivered

    def _open(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.open()
