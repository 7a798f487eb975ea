"""`spark-trainer-gui`: start the desktop app (or render one view to PNG with --screenshot).

Start-up imports Qt, the store and the first view only: torch, transformers, diffusers and cv2
load later, inside background tasks that need them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

VIEW_NAMES = ("projects", "datasets", "video-wizard", "experiments", "runs", "leaderboard", "gpus", "settings",
              "experiment-setup", "run-detail", "compare", "playground")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spark-trainer-gui", description="SparkTrainer Desktop")
    parser.add_argument("--home", metavar="DIR",
                        help="data home (default: $SPARK_TRAINER_HOME, else the one chosen in Settings, "
                             "else the user-data dir)")
    parser.add_argument("--screenshot", metavar="FILE", help="render a view offscreen to a PNG and exit")
    parser.add_argument("--view", default=None, metavar="NAME",
                        help=f"view to show: {', '.join(VIEW_NAMES)} (default: the last one used)")
    parser.add_argument("--theme", choices=("dark", "light"), help="theme for this start (not saved)")
    parser.add_argument("--run", type=int, metavar="ID", help="run to show with --view run-detail (default: latest)")
    parser.add_argument("--prompt", metavar="TEXT", help="with --view playground: answer this prompt first")
    # For the start-up benchmark and tests: print when the first window is on screen, then quit.
    parser.add_argument("--exit-when-shown", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _pick_platform() -> None:
    """Fall back to the offscreen platform when there is no display, instead of crashing."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("spark-trainer-gui: no display found (DISPLAY is not set); running offscreen. "
              "Use the `spark-trainer` command, or run on a desktop session.", file=sys.stderr)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _home(args: argparse.Namespace, qsettings: object) -> str | None:
    """--home, else $SPARK_TRAINER_HOME (resolved by the store), else the Settings choice."""
    from spark_trainer.paths import HOME_ENV

    if args.home or os.environ.get(HOME_ENV):
        return args.home
    chosen = qsettings.value("data_home")  # type: ignore[attr-defined]
    return str(chosen) if chosen else None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _pick_platform()
    from PySide6.QtCore import QEvent, QSettings
    from PySide6.QtWidgets import QApplication

    from spark_trainer.errors import SparkError
    from spark_trainer.store.store import Store

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    qt_app.setApplicationName("SparkTrainer")
    qt_app.setOrganizationName("SparkTrainer")
    from app.theme import use_fusion

    use_fusion(qt_app)  # before the first widget: see use_fusion
    from app.gc_guard import install as install_gc_guard

    install_gc_guard(qt_app)  # Qt objects are only ever collected on the GUI thread
    if args.view and args.view not in VIEW_NAMES:
        print(f"error: unknown view {args.view!r}; views are: {', '.join(VIEW_NAMES)}", file=sys.stderr)
        return 2
    if args.screenshot:
        # A screenshot must not depend on, or change, the user's window layout.
        scratch = tempfile.mkdtemp(prefix="spark-gui-")
        qsettings = QSettings(str(Path(scratch) / "gui.ini"), QSettings.Format.IniFormat)
    else:
        qsettings = QSettings()
    try:
        store = Store.open(_home(args, qsettings))
    except SparkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    from app.main_window import MainWindow

    window = MainWindow(store, qsettings, restore_state=not args.screenshot)
    if args.theme:
        window.apply_theme(args.theme)
    if args.screenshot:
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
    from app.run_scheduler import RunScheduler

    RunScheduler.of(window.ctx)  # schedules queued runs on a timer; reconciles now, offers to resume
    if args.view in ("experiment-setup", "run-detail", "compare", "playground"):
        from app.screenshot import OPTIONS, TARGETS

        OPTIONS["run"], OPTIONS["prompt"] = args.run, args.prompt
        TARGETS[args.view](window)
    elif args.view:
        if args.view == "video-wizard":
            window.view_call("datasets", "open_video_wizard")
        else:
            window.show_view(args.view)
    window.show()
    if args.exit_when_shown:
        from PySide6.QtCore import QTimer

        def shown() -> None:
            print(f"shown_at={time.time():.6f}", flush=True)
            window.close()
            qt_app.quit()

        QTimer.singleShot(0, shown)
    signal.signal(signal.SIGINT, lambda *_: qt_app.quit())
    code = qt_app.exec()
    store.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
