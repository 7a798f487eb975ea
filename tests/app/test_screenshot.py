"""`spark-trainer-gui --screenshot`: a view is grabbed once its background work is done."""

from __future__ import annotations

import time


def test_the_setup_form_is_grabbed_after_its_checks_however_long_they_take(window, qtbot, tmp_path,
                                                                           monkeypatch) -> None:
    """The form's first check imports torch and transformers (the memory estimate), which took longer than
    the render's 10 s wait on a loaded machine: `--view experiment-setup` was grabbed saying "Choose a base
    model to see the estimate" beside a chosen model, and the check's thread met the interpreter's exit
    (tracebacks on stderr)."""
    from app import screenshot
    from app.views import experiment_setup_view
    from app.views.setup_checks import check_setup

    done: list[float] = []

    def slow_check(*args):
        time.sleep(10.5)
        result = check_setup(*args)
        done.append(time.monotonic())
        return result

    monkeypatch.setattr(experiment_setup_view, "check_setup", slow_check)
    assert screenshot.render(window, "experiment-setup", tmp_path / "setup.png")
    assert done, "grabbed before the form's check had answered"


def test_compare_with_run_compares_that_run(window, qtbot, monkeypatch) -> None:
    """`--view compare --run ID` (and compare-evaluations) ignored --run and compared the latest three runs."""
    from app import screenshot
    from spark_trainer.store import projects
    from tests.app.gui_assets import add_experiment_with_runs

    projects.create(window.store, "p")
    made = [r.id for r in add_experiment_with_runs(window.store, "p", statuses=("completed",) * 4)]
    monkeypatch.setitem(screenshot.OPTIONS, "run", made[0])
    for target in ("compare", "compare-evaluations"):
        screenshot.TARGETS[target](window)
        assert window.views["runs"].compare_page.run_ids == [made[0], made[2], made[3]], target
    monkeypatch.setitem(screenshot.OPTIONS, "run", None)
    screenshot.TARGETS["compare"](window)
    assert window.views["runs"].compare_page.run_ids == made[1:]  # the latest three, as before
