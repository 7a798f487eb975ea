"""Start-up: the window is shown before anything it does not need is imported (the store included:
it opens on a pool thread after show); its first view is built once the store is open. A store that
cannot be opened ends the app with one line and the store error's exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from spark_trainer.store import projects
from tests.conftest import subprocess_env

# Not needed to show the Projects view: the job layer and psutil (the scheduler starts after the
# window is shown), charts (numpy, pyqtgraph), migrations (the database is up to date), training, the
# ORM models (the theme comes from QSettings until the first view's turn).
DEFERRED = ("psutil", "spark_trainer.jobs.scheduler", "spark_trainer.jobs.process", "numpy", "pyqtgraph",
            "alembic", "yaml", "torch", "transformers", "pandas", "app.views.projects_view",
            "spark_trainer.store.models", "spark_trainer.store.store", "sqlalchemy")

PROBE = """
import json, sys
import app.main_window
from app.main import main

shown = {}
original_show = app.main_window.MainWindow.show

def show(self):
    shown["modules"] = sorted(m for m in DEFERRED if m in sys.modules)
    shown["views"] = list(self.views)
    original_show(self)

original_first = app.main_window.MainWindow.show_first_view

def show_first_view(self, name=None):
    original_first(self, name)
    shown["after"] = self.current_view_name(), list(self.views)

app.main_window.MainWindow.show_first_view = show_first_view

app.main_window.MainWindow.show = show
code = main(["--home", sys.argv[1], "--view", "projects", "--exit-when-shown"])
print("RESULT " + json.dumps({"code": code, **shown}))
""".replace("DEFERRED", repr(DEFERRED))


def test_window_is_shown_before_its_first_view_and_the_scheduler(store, tmp_path) -> None:
    projects.create(store, "support-bot")
    proc = subprocess.run([sys.executable, "-c", PROBE, str(store.home.root)], capture_output=True, text=True,
                          timeout=120, env=subprocess_env(QT_QPA_PLATFORM="offscreen",
                                                          XDG_CONFIG_HOME=str(tmp_path / "config")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.index("shown_at=") < proc.stdout.index("view_at=")
    result = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT "):])
    assert result["code"] == 0
    assert result["modules"] == [], f"imported before the first window: {result['modules']}"
    assert result["views"] == []
    assert result["after"] == ["projects", ["projects"]]  # then the first view, and only that one


def test_a_store_that_cannot_be_opened_ends_the_app_with_one_line(tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "sparktrainer.db").write_bytes(b"not a database at all" * 10)
    proc = subprocess.run([sys.executable, "-m", "app.main", "--home", str(home), "--exit-when-shown"],
                          capture_output=True, text=True, timeout=120,
                          env=subprocess_env(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config")))
    assert "shown_at=" in proc.stdout and "view_at=" not in proc.stdout  # the window was up; no view was built
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "sparktrainer.db is not a SQLite database" in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1  # a StoreError's exit code, as before the window came first
    assert (home / "sparktrainer.db").read_bytes() == b"not a database at all" * 10  # left untouched


def test_every_view_the_help_offers_opens_as_the_first_view(window) -> None:
    # `--view run-samples` (and run-evaluation, experiment-recipe) passed argparse's choices but only
    # --screenshot knew them: the first view raised KeyError and the window stayed on "Opening...".
    import argparse

    from app.main import VIEW_NAMES, _first_view

    for name in VIEW_NAMES:
        _first_view(window, argparse.Namespace(view=name, run=None, prompt=None))
    _first_view(window, argparse.Namespace(view="run-samples", run=None, prompt=None))
    detail = window.views["runs"].detail
    assert (window.current_view_name(), detail.tabs.tabText(detail.tabs.currentIndex())) == ("runs", "Samples")


BROKEN_VIEW = """
import json, sys
import app.main_window
from app.main import main

original_first = app.main_window.MainWindow.show_first_view
shown = {}

def show_first_view(self, name=None):
    if name == "leaderboard":  # a view whose build raises: a bug, or data it cannot show
        raise RuntimeError("boom")
    original_first(self, name)
    shown["after"] = self.current_view_name()

app.main_window.MainWindow.show_first_view = show_first_view
code = main(["--home", sys.argv[1], "--view", "leaderboard", "--exit-when-shown"])
print("RESULT " + json.dumps({"code": code, **shown}))
"""


def test_a_first_view_that_cannot_be_built_falls_back_to_projects(store, tmp_path) -> None:
    # The last view used is remembered: one that raised left the window on "Opening the data home..."
    # at every start, with no way out but clearing the app's settings.
    proc = subprocess.run([sys.executable, "-c", BROKEN_VIEW, str(store.home.root)], capture_output=True, text=True,
                          timeout=120, env=subprocess_env(QT_QPA_PLATFORM="offscreen",
                                                          XDG_CONFIG_HOME=str(tmp_path / "config")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "view_at=" in proc.stdout  # the app went on: scheduler and all
    result = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT "):])
    assert result == {"code": 0, "after": "projects"}
    assert "error: the leaderboard view could not be opened: boom; showing projects" in proc.stderr


def test_the_home_opened_last_time_is_remembered_and_its_disappearance_noticed(tmp_path) -> None:
    """The app's own home (no --home, no $SPARK_TRAINER_HOME): once opened it is remembered, and when it
    is gone the next start asks where it is (app/home_check.py); offscreen, with nobody to ask, it says
    so on stderr and starts a new one."""
    env = subprocess_env(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
                         XDG_DATA_HOME=str(tmp_path / "data"))
    env.pop("SPARK_TRAINER_HOME", None)
    start = [sys.executable, "-m", "app.main", "--exit-when-shown"]
    first = subprocess.run(start, capture_output=True, text=True, timeout=120, env=env)
    assert first.returncode == 0 and "view_at=" in first.stdout, first.stderr[-2000:]
    homes = [p.parent for p in (tmp_path / "data").rglob("sparktrainer.db")]
    assert len(homes) == 1
    homes[0].rename(tmp_path / "moved")
    again = subprocess.run(start, capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"warning: the data home opened last time is gone from {homes[0]}; starting a new one there" in again.stderr


def test_a_home_named_where_a_move_took_it_from_ends_the_app_saying_where_it_went(tmp_path) -> None:
    """After `home move`, the app started with --home OLD made a new empty home there, as the command did."""
    from spark_trainer import home_record

    old, new = tmp_path / "old", tmp_path / "new"
    env = subprocess_env(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
                         SPARK_TRAINER_CONFIG_DIR=str(tmp_path / "record"))
    with pytest.MonkeyPatch.context() as patched:
        patched.setenv("SPARK_TRAINER_CONFIG_DIR", str(tmp_path / "record"))
        home_record.note_moved(old, new)
    proc = subprocess.run([sys.executable, "-m", "app.main", "--home", str(old), "--exit-when-shown"],
                          capture_output=True, text=True, timeout=120, env=env)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"was moved to {new}" in errors[0], proc.stderr[-2000:]
    assert proc.returncode == 2 and not old.exists()


def test_a_run_page_asked_for_a_run_that_does_not_exist_says_so(window, home, tmp_path) -> None:
    # `--view run-detail --run 99 --screenshot F` waited three minutes for run 99 to be read, and a window
    # opened on it showed an empty "Run 99" page for ever.
    import argparse

    from app.main import _first_view

    proc = subprocess.run([sys.executable, "-m", "app.main", "--home", str(home), "--view", "run-detail", "--run",
                           "99", "--screenshot", str(tmp_path / "shot.png")], capture_output=True, text=True,
                          timeout=120, env=subprocess_env(QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 2 and proc.stderr == "error: no run with id '99'; see `spark-trainer run list`\n"
    assert not (tmp_path / "shot.png").exists()
    _first_view(window, argparse.Namespace(view="run-detail", run=99, prompt=None))
    assert window.current_view_name() == "runs" and "No run with id '99'" in window.statusBar().currentMessage()


def test_the_unfinished_copy_of_an_interrupted_move_ends_the_app_in_one_line(tmp_path) -> None:
    """A walk: a move killed mid-copy left a folder the app opened as a normal home, half its files missing."""
    from spark_trainer.store import partial_copy

    copy = tmp_path / "copy"
    copy.mkdir()
    partial_copy.write(copy, tmp_path / "home")
    env = subprocess_env(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
                         SPARK_TRAINER_CONFIG_DIR=str(tmp_path / "record"))
    proc = subprocess.run([sys.executable, "-m", "app.main", "--home", str(copy), "--exit-when-shown"],
                          capture_output=True, text=True, timeout=120, env=env)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{copy} is the unfinished copy of an interrupted move of the data home at " \
        f"{tmp_path / 'home'} (that home is intact)" in errors[0], proc.stderr[-2000:]
    assert proc.returncode == 2 and sorted(p.name for p in copy.iterdir()) == [partial_copy.MARKER]


def test_an_empty_home_is_refused_not_taken_as_no_home(capsys) -> None:
    from app.main import _parse

    with pytest.raises(SystemExit) as ended:
        _parse(["--home", ""])
    assert ended.value.code == 2 and "argument --home: is empty" in capsys.readouterr().err


def test_a_screenshot_starts_no_queued_run(home, tmp_path) -> None:
    """A walk: `--view projects --screenshot F` of a home with a queued run started the run (the Runs view,
    built for the window, turned scheduling on) and it trained to the end."""
    from spark_trainer.store import projects, runs
    from spark_trainer.store.entities import RunStatus
    from spark_trainer.store.store import Store
    from tests.app.gui_assets import add_experiment_with_runs

    with Store.open(home) as store:
        projects.create(store, "p")
        [queued] = add_experiment_with_runs(store, "p", statuses=("queued",))
    for view in ("projects", "runs"):
        proc = subprocess.run([sys.executable, "-m", "app.main", "--home", str(home), "--view", view,
                               "--screenshot", str(tmp_path / f"{view}.png")], capture_output=True, text=True,
                              timeout=120, env=subprocess_env(QT_QPA_PLATFORM="offscreen"))
        assert proc.returncode == 0, proc.stderr[-2000:]
    with Store.open(home) as store:
        run = runs.get(store, queued.id)
        assert run.status == RunStatus.QUEUED and run.pid is None, (run.status, runs.events(store, run.id))
