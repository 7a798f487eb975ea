"""Render one view of the main window to a PNG, offscreen (`spark-trainer-gui --screenshot`).

Targets are the navigation views plus dialogs that open from them. The second GUI issue adds
`experiment-setup`, `run-detail` and `compare` to `TARGETS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QWidget

from app.main_window import MainWindow
from app.views import NAV_VIEWS


def _nav(name: str) -> Callable[[MainWindow], QWidget]:
    def show(window: MainWindow) -> QWidget:
        window.show_view(name)
        return window

    return show


def _video_wizard(window: MainWindow) -> QWidget:
    view = window.show_view("datasets")
    return view.open_video_wizard()


# Set by `spark-trainer-gui --run ID` for the run-detail target (default: the latest run).
OPTIONS: dict[str, Any] = {"run": None, "prompt": None, "compare": True, "temperature": None}


def _latest_runs(window: MainWindow, count: int) -> list[int]:
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus

    found = runs.list_all(window.store)
    done = [r.id for r in found if r.status == RunStatus.COMPLETED]
    return (done if len(done) >= count else [r.id for r in found])[-count:]


def _experiment_setup(window: MainWindow) -> QWidget:
    """The setup form, filled from the latest run's config when there is one."""
    from spark_trainer.jobs.clone import clone_config
    from spark_trainer.store import runs

    view = window.show_view("experiments")
    latest = [OPTIONS["run"]] if OPTIONS["run"] else _latest_runs(window, 1)
    if latest:
        view.open_item({"clone": clone_config(window.store, runs.get(window.store, int(latest[0])))})
    return window


def _run_detail(window: MainWindow) -> QWidget:
    view = window.show_view("runs")
    run_id = OPTIONS["run"] or next(iter(_latest_runs(window, 1)), None)
    if run_id is not None:
        view.open_run(int(run_id))
    return window


def _experiment_recipe(window: MainWindow) -> QWidget:
    """The setup form scrolled to its recipe settings (the fields built from the recipe's schema)."""
    from PySide6.QtWidgets import QScrollArea

    _experiment_setup(window)
    for area in window.findChildren(QScrollArea):
        box = _recipe_box(area)
        if box is not None and area.widget() is not None:
            settle(0.3)
            area.verticalScrollBar().setValue(box.mapTo(area.widget(), box.rect().topLeft()).y() - 8)
    return window


def _recipe_box(area: QWidget) -> QWidget | None:
    from PySide6.QtWidgets import QGroupBox

    for box in area.findChildren(QGroupBox):
        if box.title().startswith("Recipe settings"):
            return box
    return None


def _run_tab(title: str) -> Callable[[MainWindow], QWidget]:
    """The run detail view with one of its tabs (Evaluation, Samples...) in front."""

    def show(window: MainWindow) -> QWidget:
        _run_detail(window)
        detail = window.views["runs"].detail  # type: ignore[attr-defined]
        for index in range(detail.tabs.count()):
            if detail.tabs.tabText(index) == title:
                detail.tabs.setCurrentIndex(index)
        return window

    return show


def compared_runs(window: MainWindow) -> list[int]:
    """The runs the compare views show: the latest three, or with `--run ID` that run and the latest two
    others (the option was ignored)."""
    if not OPTIONS["run"]:
        return _latest_runs(window, 3)
    chosen = int(OPTIONS["run"])
    return [chosen, *[r for r in _latest_runs(window, 3) if r != chosen][-2:]]


def _compare(window: MainWindow) -> QWidget:
    view = window.show_view("runs")
    compared = compared_runs(window)
    if len(compared) >= 2:
        view.compare(compared)
    return window


def _compare_tab(title: str) -> Callable[[MainWindow], QWidget]:
    """The Compare page of the latest runs with one of its tabs (Evaluation results...) in front."""
    def show(window: MainWindow) -> QWidget:
        _compare(window)
        tabs = window.show_view("runs").compare_page.tabs
        for index in range(tabs.count()):
            if tabs.tabText(index) == title:
                tabs.setCurrentIndex(index)
        return window

    return show


def _playground(window: MainWindow) -> QWidget:
    """The Playground of a run; with OPTIONS["prompt"], after answering it (and the base model's answer)."""
    view = window.show_view("runs")
    run_id = OPTIONS["run"] or next(iter(_latest_runs(window, 1)), None)
    if run_id is not None:
        view.open_playground(int(run_id))
        settle(0, until=lambda: view.playground.opening is None)  # the run and its checkpoints are read on the pool
        panel = view.playground.panel
        if OPTIONS.get("image") and hasattr(panel, "image"):  # image classification: the dropped image
            panel.image.blockSignals(True)
            panel.image.set_path(str(OPTIONS["image"]))
            panel.image.blockSignals(False)
        if OPTIONS.get("prompt") or OPTIONS.get("image"):
            panel.prompt.setPlainText(str(OPTIONS.get("prompt") or ""))
            if hasattr(panel, "compare"):
                panel.compare.setChecked(bool(OPTIONS.get("compare", True)))
            if OPTIONS.get("temperature") is not None and hasattr(panel, "temperature"):
                panel.temperature.setValue(float(OPTIONS["temperature"]))
            view.playground.generate()
            settle(0.5, until=lambda: not view.playground.pending, timeout=300)
    return window


TARGETS: dict[str, Callable[[MainWindow], QWidget]] = {view.name: _nav(view.name) for view in NAV_VIEWS}
TARGETS["video-wizard"] = _video_wizard
TARGETS["experiment-setup"] = _experiment_setup
TARGETS["run-detail"] = _run_detail
TARGETS["compare"] = _compare
TARGETS["compare-evaluations"] = _compare_tab("Evaluation results")
TARGETS["experiment-recipe"] = _experiment_recipe
TARGETS["run-evaluation"] = _run_tab("Evaluation")
TARGETS["run-samples"] = _run_tab("Samples")
TARGETS["playground"] = _playground


IDLE_TIMEOUT_S = 180.0  # the longest a render waits for the view's background work


def settle(seconds: float = 0.3, until: Callable[[], bool] | None = None, timeout: float = 10.0) -> None:
    """Process events for a while (and until a condition holds), so background loads land."""
    app = QCoreApplication.instance()
    start = time.monotonic()
    while True:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        elapsed = time.monotonic() - start
        done = until is None or until()
        if (elapsed >= seconds and done) or elapsed >= timeout:
            return
        time.sleep(0.01)


def render(window: MainWindow, target: str, path: Path) -> bool:
    """Show `target`, wait for its background loads, grab it and save a PNG. False if saving failed."""
    if target not in TARGETS:
        raise KeyError(f"unknown view {target!r}; views are: {', '.join(sorted(TARGETS))}")
    window.resize(1280, 800)
    window.show()
    widget = TARGETS[target](window)
    widget.show()
    # A view's first background work may import torch (the setup form's memory estimate): seconds, and
    # more than ten on a loaded machine; grabbing before it answers shows a half-filled view.
    settle(0.5, until=lambda: _idle(window), timeout=IDLE_TIMEOUT_S)
    settle(0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    return widget.grab().save(str(path))


def _idle(window: MainWindow) -> bool:
    return (window.ctx.gpu_monitor.has_sampled or not window.ctx.gpu_monitor.enabled) and not window.ctx.tasks.running \
        and not window.ctx.model.busy() \
        and not any(view.busy() for view in window.views.values())
