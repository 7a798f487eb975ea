"""The experiment setup form's Launch: the run the form describes queued off the GUI thread (the same
`submit_config` that `spark-trainer train` uses), after the store and disk checks when they are still
due, then opened; and the form's message line ("Run 7 queued", gone once that run has moved on). A
mixin of ExperimentSetupView, which provides the form (`config_data`, `launch`, `launch_reason`,
`banner`, `store`, `ctx`, `revalidate`) and its checks (`checking`, `_checked_data`, `_check_delay`,
`_start_check`, `_launch_when_checked`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.views.run_actions import outdated
from app.workers import Task
from spark_trainer.errors import SparkError


class SetupLaunchMixin:
    _task: Task | None
    _said_of: dict[str, Any]

    def _on_runs(self, _runs: list[Any]) -> None:
        """"Run 7 queued" goes once that run has moved on (started, finished)."""
        if self.banner.role == "ok" and outdated(self.banner.text(), self._status_of):
            self.banner.clear_message()

    def _status_of(self, run_id: int) -> Any:
        run = self.ctx.model.runs.get(run_id)
        return None if run is None else run.status

    def _say(self, text: str, role: str) -> None:
        """A banner about the form as it is now (saved, launched...): it goes at the next edit."""
        self._said_of = self.config_data()
        self.banner.show_message(text, role)

    def launch_run(self) -> Task | None:
        """Validate, freeze and queue the run off the GUI thread; opens the run when it is queued.
        While the store and disk checks are still due, they run first and the launch follows them."""
        if self.checking or self.config_data() != self._checked_data:
            self._launch_when_checked = True
            self._check_delay.stop()
            self._start_check()
            return None
        return self._submit()

    def _submit(self) -> Task | None:
        if not self.launch.isEnabled():
            return None
        from spark_trainer.config import validate_config

        try:
            config = validate_config(self.config_data())
        except SparkError as exc:
            self.launch_reason.setText(f"Cannot launch: {exc}")
            return None

        def submit(_ctx: Any) -> Any:
            from spark_trainer.jobs.submit import submit_config

            return submit_config(self.store, config, base_dir=Path.cwd()).run

        task = Task(submit, owner=self, name="launch")
        task.signals.succeeded.connect(self._launched)
        task.signals.failed.connect(lambda message, _exc: self._launch_failed(message))
        self._task = task
        self.launch.setEnabled(False)
        self.launch.setText("Queuing…")
        self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _launched(self, run: Any) -> None:
        self._task = None  # answered: Launch may be enabled again
        self.launch.setText("Launch")
        self._say(f"Run {run.id} queued", "ok")
        self.revalidate()
        self.ctx.model.runs.apply_written(run)
        self.ctx.model.refresh()
        self.ctx.scheduler.tick()
        self.ctx.navigate("runs", run.id)

    def _launch_failed(self, message: str) -> None:
        self._task = None
        self.launch.setText("Launch")
        self._say(f"Launch failed: {message}", "error")
        self.revalidate()
