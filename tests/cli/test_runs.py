"""`run metrics --key`: a key the run does not have is named, with the keys it has; `run logs --follow`
prints the log (text) or one JSON document (--json)."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer.store import experiments, metrics, projects, runs
from spark_trainer.store.entities import RunStatus


def _finished_run_with_metrics(store) -> int:
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={"train": {"learning_rate": 1e-4}})
    run = runs.create(store, exp.id)
    metrics.add_batch(store, run.id, [("loss", 1, 2.0), ("loss", 2, 1.5), ("eval_loss", 2, 1.7)])
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, run.id, status, "test")
    return run.id


def test_a_mistyped_key_of_a_finished_run_is_exit_2_naming_the_keys(store, cli) -> None:
    run_id = _finished_run_with_metrics(store)
    result = cli("run", "metrics", run_id, "--key", "eval_los")
    # It said "run N has no metrics yet", exit 0, about a run that has them.
    assert result.code == 2, (result.code, result.out, result.err)
    assert result.err.count("\n") == 1 and "'eval_los'" in result.err and "eval_loss, loss" in result.err
    assert cli("run", "metrics", run_id, "--key", "eval_loss", "--csv").out.splitlines()[1].startswith("2,eval_loss,")


def test_logs_follow_of_a_finished_run_prints_the_log_and_nothing_else(store, cli) -> None:
    run_id = _finished_run_with_metrics(store)
    log = "training 26 rows\n[2026-11-30 21:42:43] run 1 completed: completed 60 steps\n"
    (Path(runs.get(store, run_id).run_dir) / "worker.log").write_text(log, encoding="utf-8")
    text = cli("run", "logs", run_id, "--follow")
    # It ended with a JSON document ({"run": 1, "status": "completed"}) after the log.
    assert (text.code, text.out) == (0, log)
    as_json = cli("--json", "run", "logs", run_id, "--follow")
    # --json is one JSON document: the followed log is in it, not printed before it.
    assert json.loads(as_json.out) == {"run": run_id, "status": "completed", "log": log}


def test_logs_of_a_run_without_a_log_file_say_why(store, cli) -> None:
    # It printed nothing, exit 0, as for an empty log.
    run_id = _finished_run_with_metrics(store)
    gone = cli("run", "logs", run_id)
    log = Path(runs.get(store, run_id).run_dir) / "worker.log"
    assert (gone.code, gone.out) == (0, "") and gone.err == f"run {run_id} has no log: {log} is missing (deleted by hand?)\n"
    queued = runs.create(store, runs.get(store, run_id).experiment_id)
    assert cli("run", "logs", queued.id).err == f"run {queued.id} has not started yet, so it has no log\n"


def test_ctrl_c_while_waiting_stops_the_waiting_and_says_where_the_run_stands(store, monkeypatch) -> None:
    """`train --wait` / `run start --wait`: Ctrl-C said "error: interrupted", leaving the user to guess
    whether the run was cancelled; it goes on (or stays queued), exit 130, and the line says how to
    follow or stop it."""
    import argparse

    from spark_trainer.cli import runs as run_commands
    from spark_trainer.cli.context import Context

    run_id = _finished_run_with_metrics(store)
    queued = runs.create(store, runs.get(store, run_id).experiment_id)
    ctx = Context(args=argparse.Namespace(home=str(store.home.root)), json=False, debug=False)
    monkeypatch.setattr(run_commands, "schedule_once", lambda _store: [])  # no worker: it stays as set below

    def interrupted(_store, _run_id):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_commands, "wait_for_run", interrupted)
    result = run_commands.start_and_maybe_wait(ctx, store, queued.id, True, "")
    assert result.exit_code == 130 and result.data.status == RunStatus.QUEUED
    assert result.render_text() == (f"stopped waiting; run {queued.id} stays queued and starts when the app or "
                                    f"`spark-trainer queue serve` is running; `spark-trainer run cancel {queued.id}` stops it")

    runs.transition(store, queued.id, RunStatus.STARTING, "test")
    runs.transition(store, queued.id, RunStatus.RUNNING, "test", step=4, total_steps=2000)
    result = run_commands.start_and_maybe_wait(ctx, store, queued.id, True, "")
    assert result.exit_code == 130 and result.data.status == RunStatus.RUNNING
    assert result.render_text() == (f"stopped waiting; run {queued.id} goes on in the background (running, step 4/2000): "
                                    f"`spark-trainer run logs {queued.id} -f` follows it, "
                                    f"`spark-trainer run cancel {queued.id}` stops it")



def test_ctrl_c_while_waiting_on_a_held_queue_says_a_release_starts_it(store, monkeypatch) -> None:
    """It said the run "starts when the app or `spark-trainer queue serve` is running": untrue while the
    queue is held, as no scheduler starts it until the queue is released."""
    import argparse

    from spark_trainer.cli import runs as run_commands
    from spark_trainer.cli.context import Context
    from spark_trainer.store import queue_hold

    run_id = _finished_run_with_metrics(store)
    queued = runs.create(store, runs.get(store, run_id).experiment_id)
    queue_hold.hold(store)
    ctx = Context(args=argparse.Namespace(home=str(store.home.root)), json=False, debug=False)

    def interrupted(_store, _run_id):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_commands, "wait_for_run", interrupted)
    result = run_commands.start_and_maybe_wait(ctx, store, queued.id, True, "")
    assert result.exit_code == 130 and result.data.status == RunStatus.QUEUED  # held: nothing started it
    assert result.render_text() == (f"stopped waiting; run {queued.id} stays queued: the queue is held; it starts "
                                    "once it is released (`spark-trainer queue release`, or the app's Release "
                                    f"queue); `spark-trainer run cancel {queued.id}` stops it")

def _running_cpu_run(store):
    """A run marked running on the CPU, in a new project p, experiment e."""
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={"train": {"learning_rate": 1e-4}})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    for status in (RunStatus.STARTING, RunStatus.RUNNING):
        runs.transition(store, run.id, status, "test")
    return run


def test_show_of_a_queued_run_says_what_it_waits_for(store, cli) -> None:
    # It said only "queued", with nothing on why the run did not start.
    from spark_trainer.store import settings

    settings.set_value(store, "max_concurrent_runs", 1)
    first = _running_cpu_run(store)
    runs.update(store, first.id, pid=None)
    second = runs.create(store, first.experiment_id, requested_gpus="cpu")
    reason = f"waiting for run {first.id} to finish (max concurrent runs 1)"
    shown = cli("run", "show", second.id)
    assert shown.code == 0, shown.err
    assert f"queued: {reason}" in shown.out
    assert json.loads(cli("--json", "run", "show", second.id).out)["waiting"] == reason
    assert json.loads(cli("--json", "run", "show", first.id).out)["waiting"] is None


def test_show_list_and_the_wait_bar_of_a_starting_run_say_what_it_does(store, cli) -> None:
    # A run caching its images before the first step said only "running 0/10" for many minutes.
    from spark_trainer.cli.waiting import _bar

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="diffusion-lora", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    for status in (RunStatus.STARTING, RunStatus.RUNNING):
        runs.transition(store, run.id, status, "test")
    runs.beat(store, run.id, "loading the model: caching VAE latents 340/2,600 images")
    shown = cli("run", "show", run.id)
    assert "running: loading the model: caching VAE latents 340/2,600 images" in shown.out, shown.out
    assert cli("--json", "run", "show", run.id).json()["run"]["phase"].startswith("loading the model")
    assert "running: caching VAE latents 340/2,600 images" in cli("run", "list").out
    assert "0/? running: loading the model: caching VAE latents 340/2,600 images" in _bar(runs.get(store, run.id))
    runs.update(store, run.id, step=1, total_steps=10, phase=None)
    assert " 1/10 running\x1b[K" in _bar(runs.get(store, run.id))  # the longer line before is cleared


def test_list_names_each_runs_project(store, cli) -> None:
    """Two experiments of the same name in two projects listed alike: `run list` had no project column."""
    for project in ("vision", "text-bench"):
        projects.create(store, project)
        exp = experiments.create(store, project=project, name="baseline", recipe="causal-lm", base_model="m",
                                 dataset=None, config={})
        runs.create(store, exp.id)
    lines = cli("run", "list").out.splitlines()
    assert lines[0].split()[:3] == ["ID", "PROJECT", "EXPERIMENT"]
    assert [line.split()[:3] for line in lines[1:]] == [["1", "vision", "baseline"], ["2", "text-bench", "baseline"]]
    listed = cli("--json", "run", "list").json()
    assert [(r["id"], r["project"], r["project_id"], r["experiment"]) for r in listed] == [
        (1, "vision", 1, "baseline"), (2, "text-bench", 2, "baseline")]
    assert cli("run", "list", "--project", "vision").out.splitlines()[1].split()[:3] == ["1", "vision", "baseline"]


def test_a_filter_that_matches_no_run_says_so_not_that_there_are_none(store, cli) -> None:
    """`run list --status paused` with no paused run said 'no runs yet' beside a queue of finished runs."""
    _finished_run_with_metrics(store)
    assert cli("run", "list", "--status", "paused").out.strip() == "no runs match --status paused"
    assert cli("run", "list", "--project", "p", "--status", "failed,paused").out.strip() == (
        "no runs match --project p --status failed,paused")
    assert cli("run", "list").out.splitlines()[1].split()[:4] == ["1", "p", "e", "completed"]


def _queued_runs(store, count: int) -> list[int]:
    """Runs queued for 64 GPUs, which are never free here: no worker starts."""
    projects.create(store, "q")
    exp = experiments.create(store, project="q", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    return [runs.create(store, exp.id, requested_gpus="count:64").id for _ in range(count)]


def test_cancel_and_resume_take_several_runs_as_the_runs_lists_menu_does(store, cli) -> None:
    # The Runs list cancels or resumes the selected runs at once; the command took one run.
    first, second = _queued_runs(store, 2)
    done = _finished_run_with_metrics(store)
    cancelled = cli("run", "cancel", first, second, done)
    # One run that refuses is said on its own line; the others are still cancelled, exit 1.
    assert cancelled.code == 1, cancelled.err
    assert cancelled.out.splitlines() == [f"run {first} cancelled", f"run {second} cancelled"]
    assert cancelled.err.startswith(f"run {done} is completed") and cancelled.err.count("\n") == 1
    assert [runs.get(store, r).status for r in (first, second, done)] == [
        RunStatus.CANCELLED, RunStatus.CANCELLED, RunStatus.COMPLETED]

    resumed = cli("--json", "run", "resume", first, second)
    assert resumed.code == 0, resumed.err
    shown = resumed.json()
    assert [r["id"] for r in shown["runs"]] == [first, second] and shown["errors"] == []
    assert {r["status"] for r in shown["runs"]} == {"queued"}
    # Queued runs have no worker to pause: both refused, as `run pause` of one of them is (exit 2).
    assert cli("run", "pause", first, second).code == 2
    waited = cli("run", "resume", first, second, "--wait")
    assert waited.code == 2 and "--wait waits for one run" in waited.err and waited.err.count("\n") == 1
    # One run keeps the old behaviour and data: the run itself.
    single = cli("--json", "run", "cancel", first)
    assert single.code == 0 and single.json()["id"] == first and single.json()["status"] == "cancelled"


def test_several_run_errors_name_the_run_once_and_a_repeated_run_is_one(store, cli) -> None:
    """Seen: 'run 1: run 1 is completed; ...' (the run said twice); `run cancel 1 1` answered in the
    several-run shape ({"runs": [...], "errors": [...]}) for one run."""
    first, = _queued_runs(store, 1)
    done = _finished_run_with_metrics(store)
    cancelled = cli("run", "cancel", first, done)
    assert cancelled.code == 1 and cancelled.err.startswith(f"run {done} ") and cancelled.err.count(f"run {done}") == 1
    resumed = cli("--json", "run", "resume", first, first)
    assert resumed.code == 0 and resumed.json()["id"] == first, resumed.out
    cancelled = cli("--json", "run", "cancel", first, first)
    assert cancelled.code == 0 and cancelled.json()["id"] == first, cancelled.out


def test_several_runs_all_refused_exit_as_one_refused_run_does(store, cli) -> None:
    # Seen: `run cancel 999 12` (no run 999, run 12 completed) exited 1, "the operation failed", where
    # `run cancel 999` alone exits 2 (bad input); nothing was done, so the answer is the refusals' own.
    done = _finished_run_with_metrics(store)
    refused = cli("run", "cancel", "999", done)
    assert refused.code == 2, refused.err
    assert refused.err.count("\n") == 2 and "999" in refused.err and f"run {done}" in refused.err
    assert cli("run", "cancel", "999").code == 2


def test_list_status_active_is_the_runs_views_filter(store, cli) -> None:
    queued, = _queued_runs(store, 1)
    done = _finished_run_with_metrics(store)
    listed = cli("--json", "run", "list", "--status", "active")
    assert listed.code == 0, listed.err
    assert [r["id"] for r in listed.json()] == [queued]
    both = cli("--json", "run", "list", "--status", "active,completed")
    assert sorted(r["id"] for r in both.json()) == sorted([queued, done])
    bad = cli("run", "list", "--status", "activ")
    assert bad.code == 2 and "statuses are active, queued" in bad.err


def test_list_shows_a_finish_time_only_for_runs_that_have_finished(store, cli) -> None:
    """FINISHED showed a time for a paused and an interrupted run: they stopped, and may resume."""
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    for end in (RunStatus.PAUSED, RunStatus.INTERRUPTED, RunStatus.COMPLETED):
        run = runs.create(store, exp.id)
        runs.transition(store, run.id, RunStatus.STARTING, "test")
        runs.transition(store, run.id, RunStatus.RUNNING, "test")
        runs.transition(store, run.id, end, "test")
    lines = cli("run", "list").out.splitlines()
    finished = lines[0].index("FINISHED")
    assert [line[finished:].strip() for line in lines[1:]][:2] == ["-", "-"]
    assert lines[3][finished:].strip() not in ("", "-")


def test_list_status_help_says_which_statuses_active_takes(cli) -> None:
    """Seen: the help said active is 'queued, starting or running', but the filter takes stalled runs too."""
    shown = cli("run", "list", "--help")
    said = " ".join(shown.out.split())
    assert "active: queued, starting, running or stalled" in said, said


def test_train_wait_told_to_stop_or_left_by_its_terminal_stops_waiting_like_ctrl_c(tmp_path: Path) -> None:
    """`train --wait` given SIGTERM (or SIGHUP, its terminal closed) died at once, exit -15, without the
    line Ctrl-C prints; the run went on, as it does after Ctrl-C. Now the same as Ctrl-C: exit 130 and the
    line saying the run goes on in the background and how to follow or stop it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from spark_trainer.jobs import control
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.store.store import Store
    from tests.playground.trained import DEMO_DATA

    home = tmp_path / "home"
    model = create_tiny_causal_lm(tmp_path / "tiny", vocab_size=300, hidden_size=32, num_layers=1, num_heads=2)
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump({
        "project": "p", "name": "long", "recipe": "causal-lm", "base_model": str(model), "dataset": str(DEMO_DATA),
        "gpus": "cpu", "train": {"max_steps": 100_000, "batch_size": 2},
        "recipe_config": {"method": "lora", "lora_r": 4, "seq_len": 32}, "checkpoint": {"every_steps": 100_000}}))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cli = subprocess.Popen([sys.executable, "-m", "spark_trainer", "--home", str(home), "train", str(run_file),
                            "--wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (home / "sparktrainer.db").exists():
            time.sleep(0.2)
        with Store.open(home) as store:
            while time.monotonic() < deadline:
                found = runs.list_all(store)
                if found and found[0].status == RunStatus.RUNNING:
                    break
                time.sleep(0.2)
            run = found[0]
            assert run.status == RunStatus.RUNNING, run
            cli.send_signal(signal.SIGTERM)
            out, err = cli.communicate(timeout=60)
            assert cli.returncode == 130, (cli.returncode, err)
            assert f"stopped waiting; run {run.id} goes on in the background" in out + err, (out, err)
            assert runs.get(store, run.id).status == RunStatus.RUNNING  # the run trains on
            control.cancel(store, run.id, grace_s=5)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)


def test_list_and_show_say_where_a_run_trained_as_the_apps_runs_list_does(store, cli) -> None:
    """A finished CPU run listed its GPUs as "-" (the app's Runs list says "CPU"), and a queued run "cpu"
    whatever it asked for. Both now use `Run.devices`."""
    run_id = _finished_run_with_metrics(store)
    queued = runs.create(store, runs.get(store, run_id).experiment_id, requested_gpus="0,1")
    header, *rows = cli("run", "list").out.splitlines()
    gpus, ran_on = header.index("GPUS"), header.index("RAN ON")  # aligned columns
    assert {row.split()[0]: row[gpus:ran_on].strip() for row in rows} == {str(run_id): "CPU", str(queued.id): "asked 0,1"}
    shown = [line.split() for line in cli("run", "show", run_id).out.splitlines() if line.startswith("gpus")]
    assert shown == [["gpus", "requested", "auto"], ["gpus", "CPU"]]


def test_list_and_show_say_cpu_for_a_queued_cpu_run_as_once_it_has_started(store, cli) -> None:
    """A queued `gpus: cpu` run was listed as "cpu", and as "CPU" once it started (queued, "asked CPU":
    a request, not a device it got); `--json` keeps the request as written (`requested_gpus`)."""
    run_id = _finished_run_with_metrics(store)
    queued = runs.create(store, runs.get(store, run_id).experiment_id, requested_gpus="cpu")
    header, *rows = cli("run", "list").out.splitlines()
    gpus, ran_on = header.index("GPUS"), header.index("RAN ON")  # aligned columns
    assert {row.split()[0]: row[gpus:ran_on].strip() for row in rows} == {str(run_id): "CPU", str(queued.id): "asked CPU"}
    shown = [line.split() for line in cli("run", "show", queued.id).out.splitlines() if line.startswith("gpus")]
    assert shown == [["gpus", "requested", "cpu"], ["gpus", "asked", "CPU"]]
    listed = {r["id"]: (r["requested_gpus"], r["gpus"]) for r in cli("--json", "run", "list").json()}
    assert listed == {run_id: ("auto", []), queued.id: ("cpu", [])}


def test_run_delete_takes_several_runs_asked_once_and_refuses_all_for_one_unknown(store, cli) -> None:
    # Seen in a CLI walk: `run delete 98 99` said "unrecognized arguments: 99", while cancel, pause and
    # resume take several runs (and the Runs list deletes its selection).
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    ids = []
    for _ in range(3):
        run = runs.create(store, exp.id)
        runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")
        Path(run.run_dir).mkdir(parents=True, exist_ok=True)
        ids.append(run.id)
    unknown = cli("run", "delete", str(ids[0]), "999")
    assert unknown.code == 2 and "no run with id '999'" in unknown.err
    assert len(runs.list_all(store)) == 3  # the known one was not deleted either
    both = cli("--json", "run", "delete", str(ids[0]), str(ids[1]))
    assert both.code == 0 and [r["id"] for r in both.json()["deleted"]] == ids[:2]
    assert len(both.json()["removed_folders"]) == 2 and [r.id for r in runs.list_all(store)] == [ids[2]]
    one = cli("run", "delete", str(ids[2]))
    assert one.out.strip().startswith(f"deleted run {ids[2]} and 1 run folder")


def test_show_gives_a_runs_whole_error_with_its_continuation_lines_indented(store, cli) -> None:
    """A run whose worker was killed showed `error  worker process is gone; last lines of worker.log:` and
    nothing after: the log lines the error holds were cut off at its first line."""
    import subprocess
    import sys

    run = _running_cpu_run(store)
    (Path(run.run_dir) / "worker.log").write_text("step 3/10 loss 2.1\nCUDA error: an illegal memory access\n")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    runs.update(store, run.id, pid=gone.pid, pid_start_time=None)
    shown = cli("run", "show", run.id)
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("error"))
    column = lines[at].index(f"the worker process (pid {gone.pid}) ended without recording how")
    assert lines[at + 1:at + 3] == [" " * column + "step 3/10 loss 2.1", " " * column + "CUDA error: an illegal memory access"]
    assert "events:" in shown.out and "interrupted" in shown.out


def test_the_line_of_a_run_that_ended_says_where_the_rest_of_its_error_is() -> None:
    # `train --wait` ended at "...; last lines of worker.log:" with nothing after it.
    from datetime import datetime

    from spark_trainer.cli.runs import ended_line
    from spark_trainer.store.entities import Run

    now = datetime(2026, 1, 1)
    fields = {name: None for name in Run.__dataclass_fields__}
    run = Run(**{**fields, "id": 7, "status": RunStatus.FAILED, "created_at": now,
                 "error": "worker process is gone; last lines of worker.log:\n  step 3\n\n  Killed\n"})
    assert ended_line(run) == ("run 7 ended failed: worker process is gone; last lines of worker.log: (2 more lines: "
                               "`spark-trainer run show 7`)")
    one = Run(**{**fields, "id": 8, "status": RunStatus.FAILED, "created_at": now, "error": "CUDA error: boom"})
    assert ended_line(one) == "run 8 ended failed: CUDA error: boom"


def test_a_pause_whose_worker_died_while_saving_says_where_a_resume_starts(store, cli) -> None:
    """Seen: "run 29 paused" (exit 0) for a worker killed -9 while it wrote its pause checkpoint: no
    checkpoint was saved, and the resume started from step 0 unsaid (fault walk, item 3)."""
    from tests.jobs.test_control import _saving_worker

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run, worker, _folder = _saving_worker(store, exp, chunks=5, then="die")
    runs.update(store, run.id, step=10)
    try:
        paused = cli("run", "pause", run.id, "--grace", "0.5")
    finally:
        worker.kill()
        worker.wait()
    assert (paused.code, paused.out.strip()) == (0, f"run {run.id} paused: no checkpoint was saved at step 10, and "
                                                    "none is complete: a resume starts from step 0"), paused.err
    shown = cli("run", "show", run.id).out  # as the run's error, and at the end of the pause's event
    assert "\nerror           no checkpoint was saved at step 10, and none is complete" in shown, shown
    assert shown.count("none is complete: a resume starts from step 0") == 2, shown


def test_run_list_notes_why_a_run_waits_and_why_one_failed(store, cli) -> None:
    """A night's queue read in the morning: `run list` said a bare "queued" and "failed" where the app's
    Runs list says why; its NOTE column says it too (cut with "…"), --json keeps every key and adds `waiting`."""
    done = _finished_run_with_metrics(store)
    experiment = runs.get(store, done).experiment_id
    waits = runs.create(store, experiment, requested_gpus="count:64")  # more GPUs than any machine here has
    failed = runs.create(store, experiment)
    error = "RuntimeError: CUDA out of memory. Tried to allocate 20.00 GiB; GPU 0 has 23.65 GiB in all\nTraceback..."
    for status in (RunStatus.STARTING, RunStatus.FAILED):
        runs.transition(store, failed.id, status, "test", error=error if status == RunStatus.FAILED else None)
    result = cli("run", "list")
    assert result.code == 0, result.err
    header, *lines = result.out.splitlines()
    assert header.split()[-1] == "NOTE"
    notes = {int(line.split()[0]): line for line in lines}
    assert "  waiting for 64 free GPUs" in notes[waits.id]
    assert notes[failed.id].endswith("  " + error[:59] + "…")
    finished = runs.get(store, done).finished_at
    assert notes[done].endswith(f"{finished:%Y-%m-%d %H:%M}")  # a completed run has no note
    listed = {item["id"]: item for item in cli("--json", "run", "list").json()}
    assert listed[waits.id]["waiting"].startswith("waiting for 64 free GPUs")
    assert listed[failed.id]["error"] == error and listed[failed.id]["waiting"] is None


def test_list_and_show_give_times_on_this_computers_clock_and_json_in_utc(store, cli, new_york) -> None:
    """Every time was shown as stored, in UTC, unsaid: five hours off in New York."""
    from datetime import datetime

    from spark_trainer.store.entities import local_time
    from spark_trainer.store.models import RunEventRow, RunRow

    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, "e")
    with store.write() as session:
        session.get(RunRow, run.id).created_at = datetime(2026, 12, 3, 16, 5)
        for event in session.query(RunEventRow).filter_by(run_id=run.id):
            event.created_at = datetime(2026, 12, 3, 16, 5, 9)
    assert local_time(datetime(2026, 12, 3, 16, 5)) == datetime(2026, 12, 3, 11, 5)
    listed = cli("run", "list").out.splitlines()
    created = listed[0].index("CREATED")
    assert listed[1][created:].startswith("2026-12-03 11:05 "), listed
    assert "  2026-12-03 11:05:09  - -> queued" in cli("run", "show", run.id).out
    assert cli("--json", "run", "show", run.id).json()["run"]["created_at"] == "2026-12-03T16:05:00+00:00"
