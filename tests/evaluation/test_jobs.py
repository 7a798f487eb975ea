"""`spark-trainer eval`: tasks run in a worker process; results land as run metrics, an artifact, the
evaluation's row, and (for --base) a leaderboard baseline; bad files are exit 2 before any work.

The tests of the worker process (mcq, cancel, a delete under it, a full disk, SIGTERM/SIGHUP) start real
ones; the tests of results and data names run the evaluation worker's main in this process
(tests/worker_here.evaluated_here), saving a process's imports each."""

from __future__ import annotations

import csv
import json
import math
import os
import random
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from spark_trainer.cli.main import main
from spark_trainer.store import artifacts, evaluations, metrics
from spark_trainer.store.store import Store
from tests.tmpfs import fill, free, tmpfs  # noqa: F401 - the fixture
from tests.worker_here import evaluated_here

SUBJECTS = ("algebra", "geography", "music")


def _cli(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--home", str(home), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def write_mcq(path: Path, per_subject: int = 4, *, columns: tuple[str, ...] | None = None) -> Path:
    rng = random.Random(1)
    header = columns or ("subject", "question", "A", "B", "C", "D", "answer")
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for subject in SUBJECTS:
            for i in range(per_subject):
                a = rng.randint(1, 9)
                row = {"subject": subject, "question": f"What is {a} plus {i}?", "A": str(a + i), "B": str(a + i + 1),
                       "C": str(a + i + 2), "D": str(a + i + 3), "answer": rng.choice("ABCD")}
                writer.writerow([row[c] for c in header])
    return path


def test_mcq_gives_per_subject_accuracy_and_is_stored(lora_run, tmp_path, capsys) -> None:
    home, run = lora_run
    data = write_mcq(tmp_path / "mmlu.csv")
    code, out, err = _cli(capsys, home, "eval", run.id, "--task", "mcq", "--data", data, "--gpus", "cpu", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["task"] == "mcq" and set(doc["by_subject"]) == set(SUBJECTS)
    assert all(0.0 <= v <= 1.0 for v in doc["by_subject"].values())
    assert doc["overall"] == pytest.approx(sum(doc["by_subject"].values()) / 3)  # equal-sized subjects
    with Store.open(home) as store:
        stored = metrics.read(store, run.id, keys=["evals/mcq_accuracy"])
        assert [(m.step, m.value) for m in stored][-1] == (run.step, pytest.approx(doc["overall"]))
        report = artifacts.list_for(store, run.id, "evaluation")[-1]
        ev = evaluations.get(store, doc["evaluation"])
    assert json.loads(Path(report.path).read_text())["by_subject"] == doc["by_subject"]
    assert ev.status == "completed" and ev.pid is not None and ev.total == 12
    assert (Path(run.run_dir) / "evals" / f"{ev.id}.log").is_file()  # it ran in its own worker process


def test_missing_answer_column_is_exit_2_naming_it(lora_run, tmp_path, capsys) -> None:
    home, run = lora_run
    data = write_mcq(tmp_path / "no-answer.csv", columns=("subject", "question", "A", "B", "C", "D"))
    code, out, err = _cli(capsys, home, "eval", run.id, "--task", "mcq", "--data", data)
    assert code == 2 and out == ""
    assert err.strip() == f"error: {data} has no 'answer' column; columns are: subject, question, A, B, C, D"
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text(json.dumps({"subject": "s", "question": "q", "A": "1", "B": "2", "C": "3", "D": "4"}) + "\n")
    code, _, err = _cli(capsys, home, "eval", run.id, "--task", "mcq", "--data", jsonl)
    assert code == 2 and "no 'answer' column (line 1)" in err
    with Store.open(home) as store:
        assert all(e.data_path not in (str(data), str(jsonl)) for e in evaluations.list_for(store, run.id))


def test_a_gpu_this_machine_lacks_is_exit_2_and_records_no_evaluation(lora_run, tmp_path, capsys,
                                                                      monkeypatch) -> None:
    # Seen in a CLI walk: `eval ... --gpus 7` on a machine without GPUs said "started on GPU 7", ran on the
    # CPU and recorded gpus [7]; `run start --gpus 7` and `generate --device 7` refuse.
    from spark_trainer.jobs import scheduler

    home, run = lora_run
    data = write_mcq(tmp_path / "q.csv")
    with Store.open(home) as store:
        before = len(evaluations.list_for(store, run.id))
    for machine, said in (([], "GPU 7 requested but this machine has no NVIDIA GPU (use auto or cpu)"),
                          ([0, 1], "GPU 7 requested but this machine has GPUs 0,1")):
        monkeypatch.setattr(scheduler, "machine_gpus", lambda machine=machine: list(machine))
        code, out, err = _cli(capsys, home, "eval", run.id, "--task", "mcq", "--data", data, "--gpus", "7")
        assert code == 2 and out == "" and err.strip() == f"error: --gpus '7': {said}"
    code, _, err = _cli(capsys, home, "eval", run.id, "--task", "mcq", "--data", data, "--gpus", "first")
    assert code == 2 and "--gpus 'first' must be auto, cpu or a GPU id like 0" in err
    with Store.open(home) as store:
        assert len(evaluations.list_for(store, run.id)) == before


def test_perplexity_and_a_base_model_baseline(lora_run, tmp_path, capsys) -> None:
    from spark_trainer.evaluation.leaderboard import baselines

    home, run = lora_run
    data = tmp_path / "held-out.jsonl"
    data.write_text("".join(json.dumps({"text": f"count {s} {s + 1} {s + 2} {s + 3}"}) + "\n" for s in range(8)))
    with evaluated_here():  # the worker process is test_mcq's subject; this one's is the numbers
        code, out, err = _cli(capsys, home, "eval", run.id, "--task", "perplexity", "--data", data, "--gpus", "cpu",
                              "--json")
        assert code == 0, err
        tuned = json.loads(out)["metrics"]
        assert math.isfinite(tuned["perplexity"]) and tuned["perplexity"] == pytest.approx(math.exp(tuned["loss"]))
        code, out, err = _cli(capsys, home, "eval", run.id, "--task", "perplexity", "--data", data, "--base",
                              "--gpus", "cpu", "--json")
    assert code == 0, err
    base = json.loads(out)
    assert base["base"] is True and base["step"] is None
    # The tuned model learned this counting pattern; the random base did not.
    assert tuned["perplexity"] < base["metrics"]["perplexity"]
    with Store.open(home) as store:
        assert [m.value for m in metrics.read(store, run.id, keys=["evals/perplexity"])] == [
            pytest.approx(tuned["perplexity"])]  # the base result is not one of the run's metrics
        found = [b for b in baselines(store) if "evals/perplexity" in b.values]
    assert len(found) == 1 and found[0].values["evals/perplexity"] == pytest.approx(base["metrics"]["perplexity"])
    assert found[0].base_model.endswith("tiny-llama")


def test_cancel_stops_the_worker(lora_run, tmp_path) -> None:
    from spark_trainer.evaluation import jobs
    from spark_trainer.jobs.process import is_alive

    home, run = lora_run
    data = write_mcq(tmp_path / "big.csv", per_subject=2000)
    with Store.open(home) as store:
        before = metrics.read(store, run.id, keys=["evals/mcq_accuracy"])
        ev = jobs.submit(store, run.id, task="mcq", data_path=data, gpus="cpu")
        deadline = time.monotonic() + 300  # the worker imports torch first: slow on a busy machine
        while evaluations.get(store, ev.id).done == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        running = evaluations.get(store, ev.id)
        assert running.status == "running" and running.done > 0, running
        ended = jobs.cancel(store, ev.id)
        assert ended.status == "cancelled" and ended.done < ended.total
        assert not is_alive(ended.pid, ended.pid_start_time)
        assert metrics.read(store, run.id, keys=["evals/mcq_accuracy"]) == before  # a cancelled one records nothing


def test_labels_the_model_lacks_are_exit_2_before_a_worker_starts(tmp_path, cli, store) -> None:
    """A held-out file with a label the run never trained on started a worker, loaded the model and then
    failed (exit 1, a failed evaluation recorded); the run's labels are known from its dataset."""
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier
    from tests.recipes.helpers import TOPICS, ticket_rows, write_jsonl

    model = create_tiny_text_classifier(tmp_path / "tiny-bert", corpus=list(TOPICS.values()))
    config = ExperimentConfig.model_validate({
        "project": "p", "name": "tickets", "recipe": "text-classification", "base_model": str(model),
        "dataset": str(write_jsonl(tmp_path / "tickets.jsonl", ticket_rows(30))), "gpus": "cpu"})
    run = submit_config(store, config, gpus="cpu", machine=[]).run
    held_out = write_jsonl(tmp_path / "held-out.jsonl", [{"text": "where is my parcel", "label": "shipping"}])
    result = cli("eval", run.id, "--task", "classification", "--data", held_out)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1 and "'shipping'" in result.err and "billing" in result.err, result.err
    assert evaluations.list_for(store, run.id) == []


def test_a_classification_eval_that_nothing_can_name_the_classes_of_is_refused_before_a_worker(
        tmp_path, capsys) -> None:
    """A run with no final model and no validation report whose dataset was deleted: eval said so only
    after a worker had started and failed (exit 1); now one line, exit 2, no evaluation recorded."""
    from spark_trainer.jobs.demo_recipes import image_classification_demo
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.store import datasets, runs
    from spark_trainer.store.entities import RunStatus

    home = tmp_path / "home"
    with Store.open(home) as store:
        _model, folder, config = image_classification_demo(store, steps=1)
        run = submit_config(store, config.model_copy(update={"gpus": "cpu"})).run
        runs.transition(store, run.id, RunStatus.CANCELLED, "test")  # never started
        datasets.delete(store, datasets.list_all(store)[0].id, force=True)
    code, _out, err = _cli(capsys, home, "eval", run.id, "--task", "classification", "--data", folder,
                           "--base", "--gpus", "cpu")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no label names" in err and "dataset was deleted" in err
    with Store.open(home) as store:
        assert evaluations.list_for(store, run.id) == []


def test_eval_data_may_name_an_ingested_dataset(lora_run, capsys) -> None:
    """`eval --data NAME` took only a file; an ingested dataset's name (or id) now reads its records."""
    home, run = lora_run
    with Store.open(home) as store:
        from spark_trainer.store import datasets

        name = datasets.list_all(store)[0].name
    with evaluated_here():
        code, out, err = _cli(capsys, home, "eval", run.id, "--task", "perplexity", "--data", name, "--gpus", "cpu",
                              "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["perplexity"] > 0
    code, _out, err = _cli(capsys, home, "eval", run.id, "--task", "perplexity", "--data", "no-such-thing")
    assert code == 2 and "no-such-thing" in err and len(err.strip().splitlines()) == 1


def test_eval_data_names_the_dataset_before_a_folder_of_that_name_here(lora_run, tmp_path, monkeypatch,
                                                                         capsys) -> None:
    """`eval --data pets` in a folder holding ./pets read the folder, while a run file's `dataset: pets`
    names the dataset. The dataset comes first now; `./pets` is the folder."""
    home, run = _copy_home(lora_run, tmp_path)
    with Store.open(home) as store:
        from spark_trainer.store import datasets

        own = datasets.list_all(store)[0]
    here = tmp_path / "cwd"
    (here / own.name).mkdir(parents=True)  # an empty folder: evaluating on it is refused
    monkeypatch.chdir(here)
    with evaluated_here():
        code, out, err = _cli(capsys, home, "eval", run.id, "--task", "perplexity", "--data", own.name, "--gpus",
                              "cpu", "--json")
    assert code == 0, err
    with Store.open(home) as store:
        assert evaluations.get(store, json.loads(out)["evaluation"]).data_path == str(Path(own.path).resolve())
    code, _out, err = _cli(capsys, home, "eval", run.id, "--task", "perplexity", "--data", f"./{own.name}")
    assert code == 2 and err.strip() == f"error: evaluation data {here / own.name}: a folder; this task reads a CSV or JSONL file"


def test_eval_data_names_the_runs_own_dataset_when_other_projects_use_the_name(lora_run, tmp_path, capsys) -> None:
    """After `spark-trainer demo` and `train examples/tiny-lora.yaml` two projects each hold a dataset
    named 'train', and `eval RUN --data train` said "no such file, folder or dataset". The run's own
    project is looked in first; a name only other projects share is refused naming them."""
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.store import datasets, projects

    home, run = _copy_home(lora_run, tmp_path)  # the module's other tests see one project
    with Store.open(home) as store:
        own = datasets.list_all(store)[0]
        manifest = Path(own.path) / "manifest.jsonl"
        for project in ("elsewhere", "elsewhere-2"):
            projects.create(store, project)
            ingest_paths(store, [manifest], project=project, name=own.name)
            ingest_paths(store, [manifest], project=project, name="shared")
    with evaluated_here():
        code, out, err = _cli(capsys, home, "eval", run.id, "--task", "perplexity", "--data", own.name, "--gpus",
                              "cpu", "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["perplexity"] > 0
    code, _out, err = _cli(capsys, home, "eval", run.id, "--task", "perplexity", "--data", "shared")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "several projects" in err and "elsewhere" in err


def test_eval_data_naming_a_renamed_dataset_says_the_new_name(lora_run, tmp_path, capsys) -> None:
    from spark_trainer.store import datasets

    home, run = _copy_home(lora_run, tmp_path)
    with Store.open(home) as store:
        own = datasets.list_all(store)[0]
        datasets.rename(store, own.id, "flowers")
    code, _out, err = _cli(capsys, home, "eval", run.id, "--task", "perplexity", "--data", own.name)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.rstrip().endswith(f"evaluation data {own.name}: no such file, folder or dataset (see `spark-trainer dataset "
                                 "list`); it was renamed to 'flowers'")


KILLED_WHILE_STARTING = """
import os, signal, sys
from pathlib import Path
from spark_trainer.evaluation import jobs
from spark_trainer.store.store import Store

def killed(*args, **kwargs):  # the moment between the evaluation's row and its worker's start
    os.kill(os.getpid(), signal.SIGKILL)

jobs.subprocess.Popen = killed
with Store.open(Path(sys.argv[1])) as store:
    jobs.submit(store, int(sys.argv[2]), task="mcq", data_path=Path(sys.argv[3]), gpus="cpu")
"""


def _copy_home(lora_run, tmp_path: Path) -> tuple[Path, object]:
    source, run = lora_run
    shutil.copytree(source, tmp_path / "home")
    return tmp_path / "home", run


def test_an_evaluation_whose_starter_was_killed_before_its_worker_started_does_not_stay_queued(
        lora_run, tmp_path, capsys) -> None:
    """`eval` (or the app) killed between recording the evaluation and starting its worker left it
    'queued' with no process for ever: listed as queued, and waited on by `eval` without end. Like a run
    claimed by a scheduler that died, it is failed once it had a minute to start; the retry works."""
    import subprocess
    from datetime import timedelta

    from spark_trainer.evaluation import jobs
    from spark_trainer.jobs.reconcile import reconcile

    home, run = _copy_home(lora_run, tmp_path)
    data = write_mcq(tmp_path / "mcq.csv", per_subject=2)
    child = subprocess.run([sys.executable, "-c", KILLED_WHILE_STARTING, str(home), str(run.id), str(data)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr
    with Store.open(home) as store:
        (left,) = [e for e in evaluations.list_for(store, run.id) if e.is_active]  # the copy holds earlier ones
        assert (left.status, left.pid) == ("queued", None)
        assert jobs.list_for_run(store, run.id)[0].status == "queued"  # it may still be starting
        evaluations.update(store, left.id, created_at=left.created_at - timedelta(seconds=61))
        reconcile(store)
        failed = evaluations.get(store, left.id)
        assert failed.status == "failed" and failed.finished_at is not None
        assert failed.error == "the process that started this evaluation ended before its worker started; run it again"
    with evaluated_here():
        code, out, err = _cli(capsys, home, "eval", run.id, "--task", "mcq", "--data", data, "--gpus", "cpu", "--json")
    assert code == 0, err
    assert json.loads(out)["evaluation"] == left.id + 1


def test_a_run_being_evaluated_is_not_deleted_under_its_evaluation(lora_run, tmp_path, capsys) -> None:
    """`run delete` (or `project delete`, or the app's Delete) while the run was being evaluated removed the
    run, its folder and the evaluation's row under the worker, which then died on its next progress write;
    `eval` said only 'no evaluation with id 1'. An evaluation in progress now blocks the delete, as a run in
    progress does; once it has ended, or its worker is gone, the delete goes ahead."""
    from spark_trainer.errors import Conflict
    from spark_trainer.evaluation import jobs
    from spark_trainer.jobs import control
    from spark_trainer.store import projects, runs

    home, run = _copy_home(lora_run, tmp_path)
    data = write_mcq(tmp_path / "big.csv", per_subject=2000)
    with Store.open(home) as store:
        run = runs.get(store, run.id)  # the copy's folder
        ev = jobs.submit(store, run.id, task="mcq", data_path=data, gpus="cpu")
        refused = f"run {run.id} is being evaluated (evaluation {ev.id}); let it finish or cancel it before deleting"
        with pytest.raises(Conflict, match=rf"^{re.escape(refused)}$"):
            control.delete(store, run.id)
        deadline = time.monotonic() + 300
        while evaluations.get(store, ev.id).done == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        with pytest.raises(Conflict, match=rf"^{re.escape(refused)}$"):
            control.delete(store, run.id)
        with pytest.raises(Conflict, match=rf"is in use by evaluation {ev.id} of run {run.id}; "):
            projects.delete(store, run.project_id)
        assert Path(run.run_dir).is_dir() and evaluations.get(store, ev.id).status == "running"
        assert jobs.cancel(store, ev.id).status == "cancelled"
        control.delete(store, run.id)
        assert not Path(run.run_dir).exists()


def test_an_evaluation_whose_worker_cannot_start_is_failed_at_once(lora_run, tmp_path, capsys) -> None:
    """The worker's log could not be opened (here `evals` is a file, not a folder): `eval` failed in one
    line but left its evaluation 'queued', with no process, for the app and `eval --list` to show."""
    from spark_trainer.store import runs

    home, run = _copy_home(lora_run, tmp_path)
    with Store.open(home) as store:
        evals = Path(runs.get(store, run.id).run_dir) / "evals"
    shutil.rmtree(evals, ignore_errors=True)
    evals.write_text("not a folder")
    data = write_mcq(tmp_path / "mcq.csv", per_subject=2)
    code, _out, err = _cli(capsys, home, "eval", run.id, "--task", "mcq", "--data", data, "--gpus", "cpu")
    assert code == 1 and err.count("\n") == 1 and str(evals) in err, err
    assert "is a file in the data home; move it away" in err, err  # the app's folder, not a place the user gave
    with Store.open(home) as store:
        ev = evaluations.list_for(store, run.id)[0]  # the newest (the copy holds earlier ones)
    assert ev.data_path == str(data)
    assert ev.status == "failed" and ev.error.startswith("the worker could not start: FileExistsError: "), ev


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tmpfs is Linux")
def test_an_evaluation_report_that_meets_a_full_disk_fails_in_one_line_and_records_nothing(
        lora_run, tmp_path, capsys, tmpfs) -> None:  # noqa: F811
    """The disk filled while the evaluation ran (a tmpfs over `runs/<id>/evals`): writing its report raised
    out of the worker, which died with a traceback it could not even log; the evaluation stayed 'running'
    until a reader called it 'the evaluation worker exited unexpectedly', and an empty report file was left.
    It is now failed by the worker in one line naming the place, with no report file, metric or artifact;
    with room again an evaluation of the run succeeds (on a few questions: the 900 that kept the first one
    busy while its disk filled would only cost time)."""
    from spark_trainer.evaluation import jobs
    from spark_trainer.store import runs

    home, run = _copy_home(lora_run, tmp_path)
    data = write_mcq(tmp_path / "big.csv", per_subject=300)
    with Store.open(home) as store:
        evals = tmpfs(Path(runs.get(store, run.id).run_dir) / "evals", 2**20)
        before = (metrics.read(store, run.id, keys=["evals/mcq_accuracy"]), artifacts.list_for(store, run.id))
        ev = jobs.submit(store, run.id, task="mcq", data_path=data, gpus="cpu")
        deadline = time.monotonic() + 300
        while evaluations.get(store, ev.id).done == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        fill(evals)
        ended = jobs.wait(store, ev.id, timeout_s=300)
        assert ended.status == "failed", ended
        assert re.fullmatch(rf"disk full at {re.escape(str(evals))}: 0\.\d MiB free; the evaluation's report was not "
                            r"written, nothing was recorded", ended.error), ended.error
        assert (metrics.read(store, run.id, keys=["evals/mcq_accuracy"]), artifacts.list_for(store, run.id)) == before
        assert not list(evals.glob("*.json*")), list(evals.iterdir())
        free(evals)
    small = write_mcq(tmp_path / "small.csv")
    with evaluated_here():
        code, out, err = _cli(capsys, home, "eval", run.id, "--task", "mcq", "--data", small, "--gpus", "cpu", "--json")
    assert code == 0, err
    assert (evals / f"{json.loads(out)['evaluation']}.json").is_file()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_eval_told_to_stop_or_left_by_its_terminal_cancels_like_ctrl_c(lora_run, tmp_path, signum) -> None:
    """Ctrl-C cancelled `eval`'s evaluation, but SIGTERM (or the terminal closing, SIGHUP) ended only the
    command: its worker went on evaluating in the background, holding the GPU, for a result nobody read."""
    import subprocess
    import sys

    from spark_trainer.jobs.process import wait_gone

    home, run = lora_run
    data = write_mcq(tmp_path / "big.csv", per_subject=2000)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cli = subprocess.Popen([sys.executable, "-m", "spark_trainer", "--home", str(home), "eval", str(run.id),
                            "--task", "mcq", "--data", str(data), "--gpus", "cpu"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        with Store.open(home) as store:
            deadline = time.monotonic() + 300
            found = []
            while time.monotonic() < deadline:
                found = [e for e in evaluations.list_for(store, run.id) if e.is_active and e.done > 0]
                if found:
                    break
                time.sleep(0.2)
            assert found, "the evaluation never got going"
            os.kill(cli.pid, signum)
            cli.wait(60)
            ended = evaluations.get(store, found[0].id)
            assert ended.status == "cancelled", ended
            assert wait_gone(ended.pid, ended.pid_start_time, 10)
            said = cli.stdout.read()
            assert said.strip() == f"evaluation {ended.id} cancelled", said  # it said "cancelled: cancelled"
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)
        from spark_trainer.evaluation import jobs

        with Store.open(home) as store:  # none left running for the next test, whatever happened
            for ev in evaluations.list_for(store, run.id):
                if ev.is_active:
                    jobs.cancel(store, ev.id, grace_s=5)
