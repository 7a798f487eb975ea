"""The GUI half of `bench_history.py` (its --gui, --gui-only and --gui-before measures): the Runs and
Leaderboard views shown and painted offscreen on the generated home, and the same views as they were at a
git commit, timed in the same run. Run through `bench_history.py`; see its docstring for the keys."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bench_history import REPO, timed


def _limit_rows(board_class: type, limit: int | None) -> None:
    """Give the leaderboard view at most `limit` ranked runs (its module's `board`, which returns the
    ranked runs and their evaluation columns; before it, its `rank`)."""
    module = sys.modules[board_class.__module__]
    name = "board" if hasattr(module, "board") else "rank"
    real = getattr(module, "_bench_real_rank", getattr(module, name))
    module._bench_real_rank = real

    def cut(*args: object, **kwargs: object) -> object:
        found = real(*args, **kwargs)
        return (found[0][:limit], *found[1:]) if name == "board" else found[:limit]

    setattr(module, name, real if limit is None else cut)


def _views(ref: str | None) -> tuple[type, type, object]:
    """(RunsView, LeaderboardView, read_evaluations) of this checkout, or as they were at git `ref`
    (their own modules loaded from `git show`; everything else they import is this checkout's)."""
    if ref is None:
        from app.views.leaderboard_view import LeaderboardView
        from app.views.runs_view import RunsView
        from spark_trainer.evaluation.leaderboard import read_evaluations

        return RunsView, LeaderboardView, read_evaluations
    import subprocess
    import types

    def load(path: str, stand_in: dict[str, types.ModuleType]) -> types.ModuleType:
        source = subprocess.run(["git", "-C", str(REPO), "show", f"{ref}:{path}"], capture_output=True, text=True,
                                check=True).stdout
        name = f"bench_{ref}_{Path(path).stem}".replace("-", "_").replace("/", "_")
        module = types.ModuleType(name)
        module.__file__ = f"{ref}:{path}"
        sys.modules[name] = module
        saved = {k: sys.modules.get(k) for k in stand_in}
        sys.modules.update(stand_in)
        try:
            exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own repository's file
        finally:
            for k, v in saved.items():
                if v is None:
                    sys.modules.pop(k, None)
                else:
                    sys.modules[k] = v
        return module

    evals = load("app/views/leaderboard_evals.py", {})
    board = load("app/views/leaderboard_view.py", {"app.views.leaderboard_evals": evals})
    runs_view = load("app/views/runs_view.py", {})
    # read_evaluations moved from the view's module into the core (the CLI's leaderboard reads it too)
    reads = evals if hasattr(evals, "read_evaluations") else load("spark_trainer/evaluation/leaderboard.py", {})
    return runs_view.RunsView, board.LeaderboardView, reads.read_evaluations


def measure_gui(home: Path, repeats: int, before: str | None = None, limit: int | None = None,
                before_tick: bool = True) -> dict[str, float]:
    """The Runs view and the Leaderboard view as users open them (offscreen Qt, 1280x800, shown and
    painted), with the app model loaded; with `before` (a git ref) the same for the views of that
    commit first, in the same process and home, keys prefixed "before_". `limit`: the views get only
    the newest `limit` runs and the first `limit` ranked ones (for views too slow to time in full)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QEvent, QSettings
    from PySide6.QtWidgets import QApplication, QComboBox, QWidget

    from app.context import AppContext
    from app.theme import use_fusion
    from spark_trainer.leaderboard import rank
    from spark_trainer.store.store import Store

    app = QApplication.instance() or QApplication([])
    use_fusion(app)  # as app.main does
    result: dict[str, float] = {}
    with Store.open(home) as store, tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext(store, QSettings(str(Path(tmp) / "gui.ini"), QSettings.Format.IniFormat), poll_gpus=False)
        model = ctx.model.runs
        began = time.perf_counter()
        while not (model.loaded and ctx.model.projects.projects):
            app.processEvents()
            time.sleep(0.001)
        result["model_first_read_ms"] = round((time.perf_counter() - began) * 1000, 1)
        ctx.model.poller.stop(10.0)  # timed without the poller's ticks; the live update below is driven by hand
        if limit is not None:
            for run_id in sorted(model.runs, reverse=True)[limit:]:
                del model.runs[run_id]
        all_runs = model.all_runs()
        bump = [0]

        hosts: list = []

        def shown(widget):
            """`widget` in a 1280x800 window, as the main window holds a view, shown and painted."""
            from PySide6.QtWidgets import QVBoxLayout, QWidget

            host = QWidget()
            hosts.append(host)  # kept until disposed
            QVBoxLayout(host).addWidget(widget)
            host.resize(1280, 800)
            host.show()
            settle(widget)
            return widget

        def settle(widget) -> None:  # the event loop's turn and a paint of the window, as a shown window gets
            app.processEvents()
            widget.window().grab()

        def dispose(widget) -> None:
            if hasattr(widget, "shutdown"):
                widget.shutdown()
            host = widget.window()
            hosts.remove(host)
            host.hide()
            host.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            app.processEvents()

        def measure_views(prefix: str, ref: str | None) -> None:
            RunsView, LeaderboardView, read_evaluations = _views(ref)  # noqa: N806 - classes
            _limit_rows(LeaderboardView, limit)
            views: list = []

            def open_runs() -> None:  # navigating to Runs the first time: build, show, paint
                views.append(shown(RunsView(store, ctx)))

            result[f"{prefix}runs_view_open_ms"] = timed(open_runs, repeats, after=lambda: dispose(views.pop()))
            view = shown(RunsView(store, ctx))
            ctx.scheduler.stop()

            def fill() -> None:  # every run into an empty table, painted
                view._show_runs(all_runs)
                settle(view)

            result[f"{prefix}runs_view_fill_ms"] = timed(fill, repeats, before=lambda: (view._show_runs([]), settle(view)))
            view._show_runs(all_runs)
            settle(view)
            changing = all_runs[len(all_runs) // 2]

            def tick_one_run_changed() -> None:  # GUI-thread part of a tick in which one run moved a step
                bump[0] += 1
                moved = replace(changing, step=changing.step + bump[0],
                                updated_at=(changing.updated_at or changing.created_at) + timedelta(seconds=bump[0]))
                model.apply_written(moved)
                app.processEvents()  # the event loop's turn: the changed rows are repainted

            if before_tick or not prefix:
                result[f"{prefix}tick_gui_runs_view_ms"] = timed(tick_one_run_changed, repeats)
            result[f"{prefix}status_refresh_gui_ms"] = timed(model.counts, repeats)
            dispose(view)

            def metric_of(board: QWidget) -> QComboBox:  # the drop-down; `metric` in views before e53a8c4 (--gui-before)
                return board.metric_box if hasattr(board, "metric_box") else board.metric

            boards: list = []

            def open_board() -> None:  # the view reads on the pool and fills its table on the GUI thread
                board = shown(LeaderboardView(store, ctx))
                while board.busy() or not metric_of(board).currentText():
                    app.processEvents()
                    time.sleep(0.001)
                settle(board)
                boards.append(board)

            result[f"{prefix}leaderboard_view_ms"] = timed(open_board, repeats, after=lambda: dispose(boards.pop()))
            board = shown(LeaderboardView(store, ctx))
            while board.busy() or not metric_of(board).currentText():
                app.processEvents()
                time.sleep(0.001)
            result[f"{prefix}leaderboard_rows"] = board.table.rowCount()
            key = metric_of(board).currentText()
            entries = rank(store, key)[:limit]
            evals = read_evaluations(store, entries, None)
            none = read_evaluations(store, [], None)

            def board_fill() -> None:
                board._show(key, entries, evals, [])
                settle(board)

            result[f"{prefix}leaderboard_table_fill_ms"] = timed(
                board_fill, repeats, before=lambda: (board._show(key, [], none, []), settle(board)))
            dispose(board)

        for prefix, ref in ((("before_", before),) if before else ()) + (("", None),):
            measure_views(prefix, ref)
        ctx.shutdown(10.0)
    app.processEvents()
    return result
