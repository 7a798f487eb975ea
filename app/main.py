"""`spark-trainer-gui`: start the desktop app (or render one view to PNG with --screenshot)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spark-trainer-gui", description="SparkTrainer Desktop")
    parser.add_argument("--home", metavar="DIR", help="data home (default: $SPARK_TRAINER_HOME or the user-data dir)")
    parser.add_argument("--screenshot", metavar="FILE", help="render a view offscreen to a PNG and exit")
    parser.add_argument("--view", default="projects", help="view to show (with --screenshot)")
    return parser.parse_args(argv)


def _pick_platform() -> None:
    """Fall back to the offscreen platform when there is no display, instead of crashing."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("spark-trainer-gui: no display found (DISPLAY is not set); running offscreen. "
              "Use the `spark-trainer` command, or run on a desktop session.", file=sys.stderr)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _pick_platform()
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from spark_trainer.errors import SparkError
    from spark_trainer.store.store import Store

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    qt_app.setApplicationName("SparkTrainer")
    qt_app.setOrganizationName("SparkTrainer")
    try:
        store = Store.open(args.home)
    except SparkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    window = MainWindow(store)
    if args.screenshot:
        window.resize(1280, 800)
        window.show()
        qt_app.processEvents()
        ok = window.grab().save(args.screenshot)
        store.close()
        return 0 if ok else 1
    window.show()
    signal.signal(signal.SIGINT, lambda *_: qt_app.quit())
    code = qt_app.exec()
    store.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
