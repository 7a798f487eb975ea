"""The main window: navigation on the left, the current view on the right, a status bar below.

Views are built the first time they are shown, so start-up costs one view. Window geometry, the
splitter and the last view are kept in QSettings; the theme is a store setting.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from app import theme
from app.context import AppContext
from app.views import NAV_VIEWS, ViewSpec, spec
from app.views.base import BaseView
from spark_trainer.errors import SparkError
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store

STATUS_INTERVAL_MS = 3000
# Background work a user started and would lose by quitting (polls and previews just stop).
ASK_BEFORE_QUIT = {"ingestion", "video wizard", "demo project"}


class MainWindow(QMainWindow):
    def __init__(self, store: Store, qsettings: QSettings | None = None, *, poll_gpus: bool = True,
                 restore_state: bool = True, first_view_later: bool = False) -> None:
        """With `first_view_later`, the first view is built (and the status bar filled) by
        `show_first_view()`, which the app calls once the window is on screen."""
        super().__init__()
        self.store = store
        self.qsettings = qsettings if qsettings is not None else QSettings()
        self.ctx = AppContext(store, self.qsettings, poll_gpus=poll_gpus)
        self.views: dict[str, BaseView] = {}
        self.setWindowTitle("SparkTrainer")
        self.setMinimumSize(760, 520)
        self._build_body()
        self._build_status_bar()
        self._build_menus()
        self.ctx.navigate_requested.connect(self.show_view)
        self.ctx.data_changed.connect(self._on_data_changed)
        self.ctx.theme_changed.connect(self.apply_theme)
        self.ctx.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.ctx.gpu_monitor.sampled.connect(self._update_gpu_status)
        # Shown first: the theme last applied here (QSettings), so the ORM loads after the first paint;
        # show_first_view() corrects it if the store's setting changed (say, by the CLI).
        self.apply_theme(self._remembered_theme() if first_view_later else self._stored_theme())
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self.update_run_status)
        self._status_timer.start()
        last = str(self.qsettings.value("window/last_view", "projects")) if restore_state else "projects"
        if restore_state:
            self._restore_geometry()
        self.first_view = last if last in self._names else "projects"
        if not first_view_later:
            self.show_first_view()

    def show_first_view(self, name: str | None = None) -> None:
        """Build and show the first view (`name`, else the last one used) and fill the status bar."""
        stored = self._stored_theme()
        if stored != theme.current().name:
            self.apply_theme(stored)
        self.update_run_status()
        self.show_view(name or self.first_view)

    # -- layout -----------------------------------------------------------------------------
    @property
    def _names(self) -> list[str]:
        return [v.name for v in NAV_VIEWS]

    def _build_body(self) -> None:
        self.nav = QListWidget()
        self.nav.setObjectName("NavList")
        self.nav.setFixedWidth(170)
        self.nav.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for number, view in enumerate(NAV_VIEWS, start=1):
            item = QListWidgetItem(view.title)
            item.setToolTip(f"{view.hint} (Ctrl+{number})")
            item.setData(Qt.ItemDataRole.UserRole, view.name)
            self.nav.addItem(item)
        self.stack = QStackedWidget()
        self._slots: dict[str, QWidget] = {}
        for view in NAV_VIEWS:
            slot = QWidget()  # replaced by the real view on first show
            self._slots[view.name] = slot
            self.stack.addWidget(slot)
        self.nav.currentRowChanged.connect(lambda row: self.show_view(NAV_VIEWS[row].name) if row >= 0 else None)
        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(body)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.gpu_status = QLabel(self.ctx.gpu_monitor.summary())
        self.run_status = QLabel("")
        self.home_status = QLabel(f"Data home: {self.store.home.root}")
        self.home_status.setObjectName("Muted")
        bar.addPermanentWidget(self.run_status)
        bar.addPermanentWidget(self.gpu_status)
        bar.addPermanentWidget(self.home_status)

    def _action(self, menu: Any, text: str, shortcut: str | QKeySequence.StandardKey, slot: Any) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "New project…", "Ctrl+N", lambda: self.view_call("projects", "new_project"))
        self._action(file_menu, "Add files to a dataset…", "Ctrl+O", lambda: self.view_call("datasets", "add_files"))
        self._action(file_menu, "Add a folder to a dataset…", "Ctrl+Shift+O",
                     lambda: self.view_call("datasets", "add_folder"))
        self._action(file_menu, "Video wizard…", "Ctrl+Shift+V", lambda: self.view_call("datasets", "open_video_wizard"))
        file_menu.addSeparator()
        self._action(file_menu, "Quit", "Ctrl+Q", self.close)
        view_menu = self.menuBar().addMenu("&View")
        for number, view in enumerate(NAV_VIEWS, start=1):
            self._action(view_menu, view.title, f"Ctrl+{number}", lambda _=False, n=view.name: self.show_view(n))
        view_menu.addSeparator()
        self._action(view_menu, "Refresh", "F5", self.refresh_current)
        self._action(view_menu, "Find", "Ctrl+F", lambda: self.view_call(self.current_view_name(), "focus_search"))
        self._action(view_menu, "Switch dark / light theme", "Ctrl+Shift+T", self.toggle_theme)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", "F1", self.show_shortcuts)

    # -- navigation ---------------------------------------------------------------------------
    def view(self, name: str) -> BaseView:
        """The view called `name`, built now if it was not yet."""
        if name not in self.views:
            view_spec: ViewSpec = spec(name)
            widget = view_spec.load()(self.store, self.ctx)
            slot = self._slots[name]
            index = self.stack.indexOf(slot)
            self.stack.insertWidget(index, widget)
            self.stack.removeWidget(slot)
            slot.deleteLater()
            self.views[name] = widget
        return self.views[name]

    def show_view(self, name: str, payload: Any = None) -> BaseView:
        widget = self.view(name)
        self.stack.setCurrentWidget(widget)
        row = self._names.index(name)
        if self.nav.currentRow() != row:
            self.nav.blockSignals(True)
            self.nav.setCurrentRow(row)
            self.nav.blockSignals(False)
        widget.refresh()
        if payload is not None:
            widget.open_item(payload)
        return widget

    def current_view_name(self) -> str:
        return NAV_VIEWS[max(self.nav.currentRow(), 0)].name

    def view_call(self, name: str, method: str) -> None:
        """Show a view and call one of its actions (menu shortcuts), if it has that action."""
        widget = self.show_view(name)
        action = getattr(widget, method, None)
        if callable(action):
            action()

    def refresh_current(self) -> None:
        self.view(self.current_view_name()).refresh()
        self.update_run_status()

    def _on_data_changed(self, what: str) -> None:
        current = self.current_view_name()
        if current in self.views:
            self.views[current].refresh()
        self.update_run_status()

    # -- status bar ---------------------------------------------------------------------------
    def update_run_status(self) -> None:
        from spark_trainer.store import runs  # the ORM: after the first paint (see show_first_view)

        try:
            active = runs.list_all(self.store, statuses={RunStatus.QUEUED, *runs.ACTIVE})
        except SparkError as exc:
            self.run_status.setText(f"Runs: unavailable ({exc})")
            return
        running = sum(1 for r in active if r.status.is_active)
        queued = sum(1 for r in active if r.status == RunStatus.QUEUED)
        self.run_status.setText(f"{running} running · {queued} queued")

    def _update_gpu_status(self, _gpus: list) -> None:
        self.gpu_status.setText(self.ctx.gpu_monitor.summary())

    # -- theme, shortcuts, persistence -------------------------------------------------------
    def _stored_theme(self) -> str:
        from spark_trainer.store import settings

        try:
            return str(settings.get(self.store, "theme"))
        except SparkError:
            return "dark"

    def _remembered_theme(self) -> str:
        return str(self.qsettings.value("window/theme", "dark"))

    def apply_theme(self, name: str) -> None:
        self.qsettings.setValue("window/theme", name)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply(app, name)
        for widget in self.views.values():
            hook = getattr(widget, "on_theme_changed", None)
            if callable(hook):
                hook()

    def toggle_theme(self) -> None:
        from spark_trainer.store import settings

        new = "light" if theme.current().name == "dark" else "dark"
        settings.set_value(self.store, "theme", new)
        self.ctx.theme_changed.emit(new)

    def shortcut_lines(self) -> list[str]:
        lines = []
        for action in self.findChildren(QAction):
            key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if key and action.text():
                lines.append(f"{key:<16} {action.text().replace('&', '')}")
        return lines

    def show_shortcuts(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts", "\n".join(self.shortcut_lines()),
                          QMessageBox.StandardButton.Ok, self)
        box.setStyleSheet("QLabel { font-family: monospace; }")
        box.open()

    def _restore_geometry(self) -> None:
        geometry = self.qsettings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)

    def save_state(self) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/last_view", self.current_view_name())
        for widget in self.views.values():
            hook = getattr(widget, "save_state", None)
            if callable(hook):
                hook()
        self.qsettings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        busy = sorted({t.name for t in self.ctx.tasks.running if t.name in ASK_BEFORE_QUIT})
        if busy and self.isVisible() and QApplication.platformName() != "offscreen":
            answer = QMessageBox.question(
                self, "Work in progress",
                f"{', '.join(busy)} is still running. Cancel it and quit? (Training runs are not affected.)",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.save_state()
        self._status_timer.stop()
        for widget in self.views.values():
            widget.shutdown()
        self.ctx.shutdown()
        event.accept()
