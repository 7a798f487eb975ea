"""`spark-trainer-gui`: start the desktop app (or render one view to PNG with --screenshot).

Start-up imports Qt and the main window only, and shows the window ("Opening the data home…");
the store (SQLAlchemy, migrations) opens on a pool thread meanwhile, then the first view is built.
torch, transformers, diffusers and cv2 load later, inside background tasks that need them; numpy,
pyqtgraph and pydantic on a thread of their own once the first view is filled (app.warmup).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.close_signals import close_on_signals
from spark_trainer.themes import THEMES

if TYPE_CHECKING:
    from app.relaunch import Relaunch

VIEW_NAMES = ("projects", "datasets", "video-wizard", "experiments", "runs", "leaderboard", "gpus", "settings",
              "experiment-setup", "run-detail", "compare", "compare-evaluations", "run-evaluation", "run-samples",
              "experiment-recipe", "playground")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spark-trainer-gui", description="SparkTrainer Desktop")
    from spark_trainer.home_record import home_flag

    parser.add_argument("--home", metavar="DIR", type=home_flag,
                        help="data home (default: $SPARK_TRAINER_HOME, else the one chosen in Settings, "
                             "else the user-data dir)")
    parser.add_argument("--screenshot", metavar="FILE", help="render a view offscreen to a PNG and exit")
    parser.add_argument("--view", default=None, metavar="NAME",
                        help=f"view to show: {', '.join(VIEW_NAMES)} (default: the last one used)")
    parser.add_argument("--theme", choices=THEMES, help="theme for this start (not saved)")
    parser.add_argument("--run", type=int, metavar="ID",
                        help="run to show with --view run-detail, run-evaluation, run-samples or playground "
                        "(default: latest); with compare or compare-evaluations, compared with the latest two others")
    parser.add_argument("--prompt", metavar="TEXT", help="with --view playground: answer this prompt first")
    # For the start-up benchmark and tests: print when the first window is on screen, then quit.
    parser.add_argument("--exit-when-shown", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _pick_platform() -> str | None:
    """Choose the Qt platform so that a missing library or display falls back instead of aborting.

    Returns the on-screen platform wanted (None when offscreen was asked for or there is no display);
    Qt falls back to offscreen itself when the display cannot be opened (see _warn_if_fell_back).
    """
    from app.qt_platform import ON_SCREEN, check_platform, wanted_platform

    wanted = wanted_platform()
    if sys.platform.startswith("linux") and wanted == "offscreen" and not os.environ.get("QT_QPA_PLATFORM"):
        print("spark-trainer-gui: no display found (DISPLAY is not set); running offscreen. "
              "Use the `spark-trainer` command, or run on a desktop session.", file=sys.stderr)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return None
    if wanted not in ON_SCREEN:
        return None
    check = check_platform(wanted)
    if not check.ok:
        print(f"spark-trainer-gui: {check.message()}\nRunning offscreen: no window will appear. "
              "Install the packages above and start again, or use the `spark-trainer` command.", file=sys.stderr)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return None
    os.environ["QT_QPA_PLATFORM"] = f"{wanted};offscreen"  # a display that cannot be opened: offscreen
    return wanted


def _warn_if_fell_back(wanted: str | None, platform_name: str) -> None:
    if wanted and platform_name != wanted:
        shown = os.environ.get("WAYLAND_DISPLAY" if wanted == "wayland" else "DISPLAY", "")
        print(f"spark-trainer-gui: could not open the display {shown!r} with Qt's '{wanted}' platform; "
              "running offscreen: no window will appear.", file=sys.stderr)


def _icon_path() -> Path | None:
    """resources/icons/sparktrainer.png in a checkout or in the frozen app."""
    from app.resources import resource

    return resource("icons/sparktrainer.png")


def _home(args: argparse.Namespace) -> str | None:
    """--home, else $SPARK_TRAINER_HOME (resolved by the store), else the chosen home (the home record
    `spark-trainer` shares, spark_trainer.home_record), else None: the default."""
    from spark_trainer import home_record
    from spark_trainer.paths import HOME_ENV

    if args.home or os.environ.get(HOME_ENV):
        return args.home
    return home_record.read_record().chosen


def _first_view(window, args: argparse.Namespace) -> None:
    """The view asked for with --view (or the last one used), built once the window is on screen."""
    if args.view in ("experiment-setup", "run-detail", "compare", "compare-evaluations", "playground",
                     "run-evaluation", "run-samples", "experiment-recipe"):  # not navigation views: app.screenshot builds them
        from app.screenshot import OPTIONS, TARGETS

        window.update_run_status()
        missing = _missing_run(window.store, args.run)
        if missing:  # the page would wait for the run to be read, for ever
            print(f"error: {missing}; showing the runs", file=sys.stderr)
            window.show_first_view("runs")
            window.statusBar().showMessage(f"{missing[:1].upper()}{missing[1:]}; showing the runs", 20000)
            return
        OPTIONS["run"], OPTIONS["prompt"] = args.run, args.prompt
        TARGETS[args.view](window)
    elif args.view == "video-wizard":
        window.update_run_status()
        window.view_call("datasets", "open_video_wizard")
    else:
        window.show_first_view(args.view)


def _missing_run(store, run_id: int | None) -> str | None:
    """Why `--run` names no run (one line), or None: a run page opened for an id no run has waited for
    it to be read (a screenshot, for three minutes)."""
    from spark_trainer.errors import SparkError
    from spark_trainer.store import runs

    if run_id is None:
        return None
    try:
        runs.get(store, int(run_id))
    except SparkError as exc:
        return str(exc)
    return None


def _first_view_failed(window, args: argparse.Namespace, exc: Exception) -> None:
    """The first view (asked for, or the last one used, remembered from the last session) raised: say
    why, on stderr with the traceback and in the status bar, and show Projects instead, so that one
    broken view never leaves the window on "Opening the data home..." at every start."""
    import traceback

    wanted = args.view or window.first_view
    traceback.print_exc()
    print(f"error: the {wanted} view could not be opened: {exc}; showing projects", file=sys.stderr)
    window.first_view = "projects"
    window.show_first_view("projects")
    window.statusBar().showMessage(f"The {wanted} view could not be opened ({type(exc).__name__}: {exc}); "
                                   "showing Projects", 20000)


def _relaunch(args: argparse.Namespace) -> Relaunch | None:
    """How this start can be repeated at another data home (app.relaunch): with the same --theme.
    None for a start that only shows itself and exits (--exit-when-shown, --screenshot)."""
    if args.exit_when_shown or args.screenshot:
        return None
    from app.relaunch import Relaunch

    return Relaunch(theme=args.theme)


def _start_scheduler(window) -> None:
    """Schedules queued runs from the store poller; reconciles now and offers to resume interrupted runs."""
    if not window.isVisible():  # closed already (--exit-when-shown)
        return
    window.ctx.scheduler.start()  # schedules queued runs from the store poller; reconciles now


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    wanted_platform = _pick_platform()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    _warn_if_fell_back(wanted_platform, qt_app.platformName())
    qt_app.setApplicationName("SparkTrainer")
    qt_app.setOrganizationName("SparkTrainer")
    qt_app.setDesktopFileName("sparktrainer")  # the installed .desktop entry: its icon and name
    from app.theme import use_fusion

    use_fusion(qt_app)  # before the first widget: see use_fusion
    icon = _icon_path()
    if icon is not None:
        from PySide6.QtGui import QIcon

        qt_app.setWindowIcon(QIcon(str(icon)))
    from app.gc_guard import install as install_gc_guard

    install_gc_guard(qt_app)  # Qt objects are only ever collected on the GUI thread
    if args.view and args.view not in VIEW_NAMES:
        print(f"error: unknown view {args.view!r}; views are: {', '.join(VIEW_NAMES)}", file=sys.stderr)
        return 2
    from spark_trainer.errors import SparkError

    try:
        if not args.screenshot:  # a screenshot neither reads nor changes the user's settings
            from app.home_check import migrate_qsettings

            migrate_qsettings(QSettings())  # earlier versions kept the home choice in QSettings
        home = _home(args)
    except SparkError as exc:  # a damaged home record: one line naming it
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.screenshot:
        return _screenshot(args, home)
    qsettings = QSettings()
    from app.main_window import MainWindow

    # The window appears first; the store opens on a pool thread meanwhile (SQLAlchemy's import and
    # any migration take longer than showing the window), then the first view is built.
    from app.single_instance import bring_forward, claim
    from spark_trainer.paths import resolve_home

    listener = claim(resolve_home(home).root)  # one window per home: a second start raises the first
    if isinstance(listener, int):  # another window has this home: it came forward (0) or did not answer (1)
        return listener
    window = MainWindow(None, qsettings, first_view_later=True)
    listener.raise_requested.connect(lambda: bring_forward(window))
    listener.raise_requested.connect(lambda: window.statusBar().showMessage(
        "Another start of SparkTrainer on this data home brought this window to the front.", 8000))
    if args.theme:
        window.apply_theme(args.theme)
    relaunch = _relaunch(args)
    if relaunch is not None:
        window.enable_restart(relaunch)
    window.show()
    from PySide6.QtCore import QTimer

    if args.exit_when_shown:
        QTimer.singleShot(0, lambda: print(f"shown_at={time.time():.6f}\nshown_cpu={time.process_time():.6f}",
                                           flush=True))
    from spark_trainer.paths import HOME_ENV

    explicit = bool(args.home or os.environ.get(HOME_ENV))  # the user's word: never second-guessed
    opened = _open_store_after_shown(window, home, args, check_missing=not explicit)
    restore_signals = close_on_signals(window)
    code = qt_app.exec()
    restore_signals()
    if window.isVisible():  # the store could not be opened: stop the pool (and its task) before exiting
        window.close()
    # A slot that ran after the window closed may have started a task: it ends before Python tears Qt
    # down, or its pool thread meets deleted objects ("Signal source has been deleted", or a crash).
    window.ctx.pool.waitForDone(5000)
    if "warmup" in opened:
        opened["warmup"].join(5.0)
    listener.close()
    if opened.get("store") is not None:
        opened["store"].close()
    return opened.get("exit_code", code)


def _open_store_after_shown(window, home: str | None, args: argparse.Namespace, check_missing: bool = False) -> dict:
    """Open the store on a pool thread; then attach it, build the first view and start the scheduler.
    If it cannot be opened: one line on stderr, a dialog saying why (on screen), and the app exits
    with the error's code. With `check_missing` (a home the app picked itself), a home opened before whose
    database is gone is asked about first (app.home_check). Returns the holder of the store (for
    closing it) and that code."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.workers import Task
    from spark_trainer.errors import SparkError

    opened: dict = {}

    def succeeded(_result: object) -> None:
        if not window.isVisible():  # closed while the store was opening
            return
        if check_missing:
            from app.home_check import remember_opened

            remember_opened(opened["store"].home.root)
        window.attach_store(opened["store"])
        try:
            _first_view(window, args)
        except Exception as exc:  # noqa: BLE001 - a view that cannot be built must not keep the app from opening
            _first_view_failed(window, args, exc)
        if args.exit_when_shown:
            print(f"view_at={time.time():.6f}", flush=True)
            window.close()
            QApplication.quit()
            return
        # The scheduler (psutil, the job layer, a first reconcile on a pool thread) starts once the
        # first view is built: nothing the first view needs waits for it; nor for the other views' imports.
        _start_scheduler(window)
        from app.warmup import Warmup

        opened["warmup"] = Warmup(window.ctx.model.poller.polled)

    def failed(message: str, exc: object) -> None:
        opened["exit_code"] = exc.exit_code if isinstance(exc, SparkError) else 1
        print(f"error: {message}", file=sys.stderr)
        if args.exit_when_shown or QApplication.platformName() == "offscreen":
            QApplication.exit(opened["exit_code"])
            return
        box = QMessageBox(QMessageBox.Icon.Critical, "Cannot open the data home",
                          f"{message}\n\nSparkTrainer will close. Fix the problem above (or choose another data "
                          "home with --home or $SPARK_TRAINER_HOME) and start it again.",
                          QMessageBox.StandardButton.Close, window)
        box.finished.connect(lambda _result: QApplication.exit(opened["exit_code"]))
        box.open()

    def start(where: str | None) -> None:
        def work(_ctx: object) -> None:
            from spark_trainer import home_record
            from spark_trainer.store.store import Store

            home_record.refuse_moved_away(home_record.choose_home(where))  # --home naming where a move took it from
            opened["store"] = Store.open(where)  # kept here too, so main() closes it even if never attached

        task = Task(work, owner=window, name="open store")
        task.signals.succeeded.connect(succeeded)
        task.signals.failed.connect(failed)
        # On the next event-loop turn: the window's first paint does not compete with it.
        QTimer.singleShot(0, lambda: window.ctx.tasks.start(task, window.ctx.pool))

    missing = None
    if check_missing:
        from app.home_check import missing_home

        missing = missing_home(home)
    if missing is None:
        start(home)
    elif args.exit_when_shown or QApplication.platformName() == "offscreen":  # nobody to ask
        print(f"warning: the data home opened last time is gone from {missing}; starting a new one there",
              file=sys.stderr)
        start(home)
    else:
        from app.home_check import MissingHomeDialog

        opened["dialog"] = dialog = MissingHomeDialog(missing, start, QApplication.quit, window)
        dialog.open()
    return opened


def _screenshot(args: argparse.Namespace, home: str | None) -> int:
    """Render one view offscreen to a PNG: the store is opened first, the view built at once. The window's
    settings live in a scratch folder, removed after: a screenshot must not depend on, or change, the
    user's window layout, nor leave anything behind."""
    from PySide6.QtCore import QSettings

    with tempfile.TemporaryDirectory(prefix="spark-gui-") as scratch:
        qsettings = QSettings(str(Path(scratch) / "gui.ini"), QSettings.Format.IniFormat)
        code = _render(args, home, qsettings)
        qsettings.sync()
        del qsettings
    return code


def _render(args: argparse.Namespace, home: str | None, qsettings: object) -> int:
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from spark_trainer.errors import SparkError
    from spark_trainer.store.store import Store

    try:
        store = Store.open(home)
    except SparkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    missing = _missing_run(store, args.run)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        store.close()
        return 2
    window = MainWindow(store, qsettings, restore_state=False)
    window.ctx.scheduler.forbid()  # before the poller's first pass: a screenshot starts no queued run
    if args.theme:
        window.apply_theme(args.theme)
    from app.screenshot import OPTIONS, render

    OPTIONS["run"], OPTIONS["prompt"] = args.run, args.prompt
    ok = render(window, args.view or "projects", Path(args.screenshot))
    window.close()
    window.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # delete it before the store closes
    store.close()
    if not ok:
        print(f"error: could not write {args.screenshot}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
