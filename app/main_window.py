"""The main window: navigation on the left, the current view on the right, a status bar below.

Views are built the first time they are shown, so start-up costs one view. Window geometry, the
splitter and the last view are kept in QSettings; the theme is a store setting (read once at
start-up, written on the pool). The status bar follows the app model: no timer, no store reads.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.context import AppContext
from app.menus import build_menus
from app.relaunch import Relaunch, RelaunchFailed
from app.run_status import RunStatusLabel
from app.views import NAV_VIEWS, ViewSpec, spec
from app.views.base import BaseView
from app.widgets import MessageBanner
from app.workers import Task
from spark_trainer.disk import network_home_warning
from spark_trainer.errors import SparkError
from spark_trainer.themes import DEFAULT_THEME, THEMES

if TYPE_CHECKING:  # SQLAlchemy: not imported before the first window
    from spark_trainer.store.store import Store

THEME_CACHE_KEY = "window/theme"
# Background work a user started and would lose by quitting (polls and previews just stop).
ASK_BEFORE_QUIT = {"ingestion", "video wizard", "demo project"}


class MainWindow(QMainWindow):
    def __init__(self, store: Store | None, qsettings: QSettings | None = None, *, poll_gpus: bool = True,
                 restore_state: bool = True, first_view_later: bool = False) -> None:
        """With `first_view_later`, the first view is built (and the status bar filled) by
        `show_first_view()`, which the app calls once the window is on screen. With no `store` (yet),
        the window says the data home is being opened, with navigation and menus off, until
        `attach_store()` (then `show_first_view()`)."""
        super().__init__()
        if store is None and not first_view_later:
            raise ValueError("a window without a store shows its first view later")
        self.store = store
        self.qsettings = qsettings if qsettings is not None else QSettings()
        self.ctx = AppContext(store, self.qsettings, poll_gpus=poll_gpus)
        self.views: dict[str, BaseView] = {}
        self.ask_before_quit = True  # False when a signal (SIGTERM at logout) closes the window
        self.interactive = QApplication.platformName() != "offscreen"  # someone can answer a question
        self.relaunch: Relaunch | None = None  # how to start again at another home (enable_restart)
        self.setWindowTitle("SparkTrainer")
        self.setMinimumSize(760, 520)
        self._build_body()
        self._build_status_bar()
        build_menus(self)
        self.ctx.navigate_requested.connect(self.show_view)
        self.ctx.theme_changed.connect(self._theme_chosen)
        self.ctx.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.ctx.gpu_monitor.sampled.connect(self._update_gpu_status)
        self.ctx.model.poller.polled.connect(lambda r: r.only_reading or self.disk_banner.hide())  # room again
        self._themes_applied = 0
        # Shown first in the theme last read from the store (cached in QSettings): nothing is read
        # from SQLite on the GUI thread; show_first_view() reads the stored one on the pool.
        self.apply_theme(self._cached_theme())
        last = str(self.qsettings.value("window/last_view", "projects")) if restore_state else "projects"
        if restore_state:
            self._restore_geometry()
        self.first_view = last if last in self._names else "projects"
        self._opening: QLabel | None = None
        if store is None:
            self._show_opening()
        if not first_view_later:
            self.show_first_view()

    def _show_opening(self) -> None:
        self._opening = QLabel("Opening the data home…")
        self._opening.setObjectName("Muted")
        self._opening.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self._opening)
        self.stack.setCurrentWidget(self._opening)
        self.nav.setEnabled(False)
        for action in self.findChildren(QAction):
            action.setEnabled(False)

    def attach_store(self, store: Store) -> None:
        """The store, opened after the window was shown: views can be built and the model reads it."""
        self.store = store
        self.ctx.attach_store(store)
        self._show_home(store.home.root)
        if store.moved is not None:  # moved or copied by hand: say once that its paths now point here
            text = store.moved.describe()
            self.ctx.status_message.emit(text[0].upper() + text[1:])
        self.nav.setEnabled(True)
        for action in self.findChildren(QAction):
            action.setEnabled(True)

    def _show_home(self, root: Path) -> None:
        """The home in the status bar (network filesystem: warning colour, reason as tooltip); a full disk: a banner."""
        if self.store is not None and (line := self.store.reading_line(app=True)) is not None:  # till room is made
            self.disk_banner.show_message(line[0].upper() + line[1:], "error")
        warning = network_home_warning(root)
        if warning is None:
            self.home_status.setText(f"Data home: {root}")
            return
        self.home_status.setText(f"Data home: {root} (network filesystem: not safe for the database)")
        self.home_status.setObjectName("")
        self.home_status.setProperty("role", "warning")
        self.home_status.setToolTip(warning[0].upper() + warning[1:])
        self.home_status.style().polish(self.home_status)

    def show_first_view(self, name: str | None = None) -> None:
        """Build and show the first view (`name`, else the last one used) and fill the status bar."""
        self._read_stored_theme()
        self.update_run_status()
        self.show_view(name or self.first_view)
        if name is None and self.first_view != "projects":  # the last view is per user, not per home
            self.ctx.model.projects.projects_reset.connect(self._welcome_an_empty_home)
        if self._opening is not None:
            self.stack.removeWidget(self._opening)
            self._opening.deleteLater()
            self._opening = None

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
        # A click on the item already shown takes its view home (a run's page back to the Runs list):
        # it did nothing. The row at the press tells a re-click from a click that changed the view.
        self._row_at_press = -1
        self.nav.viewport().installEventFilter(self)
        self.nav.itemClicked.connect(self._on_nav_clicked)
        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        column = QWidget()
        stacked = QVBoxLayout(column)
        stacked.setContentsMargins(0, 0, 0, 0)
        self.disk_banner = MessageBanner()  # a disk full at open: the store only reads (Store.full)
        stacked.addWidget(self.disk_banner)
        stacked.addWidget(self.stack, 1)
        layout.addWidget(column, 1)
        self.setCentralWidget(body)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.gpu_status = QLabel(self.ctx.gpu_monitor.summary())
        self.run_status = RunStatusLabel(self.ctx.model)  # "2 running · 3 queued · ends about 03:40"
        self.awake_status = QLabel("")  # "Can't keep the computer awake ..." while runs train
        self.awake_status.setProperty("role", "warning")
        self.awake_status.hide()
        self.ctx.scheduler.awake_problem.connect(self._show_awake_problem)
        self.home_status = QLabel("Opening the data home…")
        self.home_status.setObjectName("Muted")
        if self.store is not None:
            self._show_home(self.store.home.root)
        bar.addPermanentWidget(self.awake_status)
        bar.addPermanentWidget(self.run_status)
        bar.addPermanentWidget(self.gpu_status)
        bar.addPermanentWidget(self.home_status)

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

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.nav.viewport() and event.type() == QEvent.Type.MouseButtonPress:
            self._row_at_press = self.nav.currentRow()
        return super().eventFilter(watched, event)

    def _on_nav_clicked(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        if self.nav.row(item) == self._row_at_press and name in self.views:
            self.views[name].go_home()

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

    def show_view_by_key(self, name: str) -> None:
        """Ctrl+1...: as a click on the view's item (the view shown goes home), and the keys go into the
        view; they stayed behind on the view left, so reaching the Runs list took six Tabs."""
        if name == self.current_view_name() and name in self.views:
            self.views[name].go_home()
        self.show_view(name).focus_target().setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _welcome_an_empty_home(self, found: list) -> None:
        """On the first read: an empty home opens on the welcome panel (its demo) unless the user
        has moved on from the first view meanwhile."""
        self.ctx.model.projects.projects_reset.disconnect(self._welcome_an_empty_home)
        if not found and self.current_view_name() == self.first_view:
            self.show_view("projects")

    def current_view_name(self) -> str:
        return NAV_VIEWS[max(self.nav.currentRow(), 0)].name

    def view_call(self, name: str, method: str) -> None:
        """Show a view and call one of its actions (menu shortcuts), if it has that action."""
        widget = self.show_view(name)
        action = getattr(widget, method, None)
        if callable(action):
            action()

    def refresh_current(self) -> None:
        """F5: read the store again now (the views follow the model)."""
        self.ctx.model.refresh()
        self.view(self.current_view_name()).refresh()

    # -- status bar ---------------------------------------------------------------------------
    def _show_awake_problem(self, text: str, detail: str) -> None:
        self.awake_status.setText(text)
        self.awake_status.setToolTip(detail)
        self.awake_status.setVisible(bool(text))

    def update_run_status(self, _runs: object = None) -> None:
        """The run count, the hold and the queue's estimated end (app.run_status)."""
        self.run_status.update_text()

    def _update_gpu_status(self, _gpus: list) -> None:
        self.gpu_status.setText(self.ctx.gpu_monitor.summary())

    # -- theme, shortcuts, persistence -------------------------------------------------------
    def _cached_theme(self) -> str:
        """The theme last read from the store, kept in QSettings so the window opens in it."""
        cached = str(self.qsettings.value(THEME_CACHE_KEY, DEFAULT_THEME))
        return cached if cached in THEMES else DEFAULT_THEME

    def _read_stored_theme(self) -> None:
        """The theme setting is a store setting: read on the pool, applied unless one was chosen since."""
        store = self.store

        def read(_ctx: object) -> str:
            from spark_trainer.store import settings  # the ORM: not before the first paint

            try:
                return str(settings.get(store, "theme"))
            except SparkError:
                return DEFAULT_THEME

        def arrived(name: str) -> None:
            self.qsettings.setValue(THEME_CACHE_KEY, name)
            if self._themes_applied == 1 and name != theme.current().name:  # nothing chosen meanwhile
                self.apply_theme(name)
                self._themes_applied = 1

        task = Task(read, owner=self, name="read-theme")
        task.signals.succeeded.connect(arrived)
        self.ctx.tasks.start(task, self.ctx.pool)

    def _theme_chosen(self, name: str) -> None:
        """The user chose a theme (saved in the store by whoever emitted theme_changed)."""
        self.qsettings.setValue(THEME_CACHE_KEY, name)
        self.apply_theme(name)

    def apply_theme(self, name: str) -> None:
        self._themes_applied += 1
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
        store = self.store
        task = Task(lambda _ctx: settings.set_value(store, "theme", new), owner=self, name="save-theme")
        task.signals.failed.connect(lambda message, _exc: self.ctx.status_message.emit(f"Theme not saved: {message}"))
        self.ctx.tasks.start(task, self.ctx.pool)
        self.ctx.theme_changed.emit(new)

    def _restore_geometry(self) -> None:
        """The size and place saved last; else 1280x800, or the screen's size when that is smaller. Qt
        refuses a geometry saved on a screen over 25% wider or narrower (another monitor, another
        QT_SCALE_FACTOR): the window then opened at its minimum, 760x520."""
        geometry = self.qsettings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty() and self.restoreGeometry(geometry):
            return
        screen = self.screen().availableGeometry()
        self.resize(min(1280, screen.width()), min(800, screen.height()))

    def save_state(self) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        if self.views:  # else closed before its first view was built: the last view stays
            self.qsettings.setValue("window/last_view", self.current_view_name())
        for widget in self.views.values():
            hook = getattr(widget, "save_state", None)
            if callable(hook):
                hook()
        self.qsettings.sync()

    def _may_quit(self) -> bool:
        """Ask before quitting while work the user started would be lost, else say that runs go on
        (app.quit_note); True to go on."""
        if not (self.ask_before_quit and self.isVisible() and self.interactive):
            return True
        busy = sorted({t.name for t in self.ctx.tasks.running if t.name in ASK_BEFORE_QUIT})
        if busy:
            answer = QMessageBox.question(
                self, "Work in progress",
                f"{', '.join(busy)} is still running. Cancel it and quit? (Training runs are not affected.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,  # Enter keeps the work, as every question that would lose some
            )
            return answer == QMessageBox.StandardButton.Yes
        from app.quit_note import confirm_quit

        return confirm_quit(self, self.ctx.model.runs.all_runs(), self.qsettings)

    def enable_restart(self, relaunch: Relaunch) -> None:
        """This start can be repeated (not a screenshot or --exit-when-shown): views offer a restart
        at a new data home through `ctx.restart`."""
        self.relaunch = relaunch
        self.ctx.restart = self.restart_at

    def restart_at(self, home: Path) -> str | None:
        """Close this window as the user does and start the app again at `home` (app.relaunch).
        Returns why not, one sentence, with the window still open; else None: the app is quitting."""
        if self.relaunch is None:
            return "This start of SparkTrainer cannot restart itself: close it and start it again by hand."
        if not self._may_quit():
            return "Not restarted: the work in progress goes on."
        self.save_state()  # before the new process reads the window's place and last view
        try:
            pid = self.relaunch.start(home)
        except RelaunchFailed as exc:
            return str(exc)
        print(f"spark-trainer-gui: restarting at {home} (process {pid})", file=sys.stderr, flush=True)
        self.ask_before_quit = False  # asked above
        self.close()
        QApplication.quit()
        return None

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self._may_quit():
            event.ignore()
            return
        self.save_state()
        for widget in self.views.values():
            widget.shutdown()
        self.ctx.shutdown()
        event.accept()
