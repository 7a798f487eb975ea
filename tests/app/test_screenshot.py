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
