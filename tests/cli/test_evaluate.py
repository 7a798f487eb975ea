"""`eval`'s progress lines: every update on a terminal, a few in a log (a pipe or a file)."""

from __future__ import annotations

from types import SimpleNamespace

from spark_trainer.cli.evaluate import EvalProgress


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _feed(progress: EvalProgress, clock: _Clock, updates: list[int], total: int, seconds_each: float) -> None:
    for done in updates:
        clock.now += seconds_each
        progress(SimpleNamespace(done=done, total=total))


def test_a_log_gets_a_line_a_tenth_and_the_last(capsys) -> None:
    """70 updates for 360 items were 70 lines in a non-tty stderr (a CI log)."""
    clock = _Clock()
    updates = list(range(0, 361, 5))[1:] + [360]  # what the worker reports, and a repeat of the last
    _feed(EvalProgress(tty=False, clock=clock), clock, updates, 360, 0.1)
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == "  360/360" and lines[0] == "  40/360"
    assert len(lines) == 10 and lines.count("  360/360") == 1


def test_a_slow_evaluation_still_says_it_is_alive_in_a_log(capsys) -> None:
    clock = _Clock()
    _feed(EvalProgress(tty=False, clock=clock, every_s=10.0), clock, [1, 2, 3, 4, 5, 6], 1000, 4.0)
    assert capsys.readouterr().err.splitlines() == ["  3/1000", "  6/1000"]  # at 12 s, then 24 s (10 s later)


def test_a_terminal_gets_every_update(capsys) -> None:
    clock = _Clock()
    _feed(EvalProgress(tty=True, clock=clock), clock, [5, 10, 15], 360, 0.1)
    assert capsys.readouterr().err.splitlines() == ["  5/360", "  10/360", "  15/360"]


def test_list_shows_the_runs_evaluations_as_the_run_page_does(store, cli) -> None:
    # The run page's Exports tab lists a run's evaluations; the command could only start one.
    from spark_trainer.store import evaluations, experiments, projects, runs

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id)
    done = evaluations.create(store, run.id, task="perplexity", data_path="/data/held-out.jsonl", base=False,
                              checkpoint="last", gpus=[])
    evaluations.update(store, done.id, status="completed", done=4, total=4, step=30,
                       result={"task": "perplexity", "metrics": {"perplexity": 12.5, "loss": 2.5258},
                               "predictions": [{"text": "a"}] * 4})
    failed = evaluations.create(store, run.id, task="mcq", data_path="/data/mcq.csv", base=True, checkpoint="last",
                                gpus=[])
    evaluations.update(store, failed.id, status="failed", error="no 'answer' column\ntraceback...")
    listed = cli("eval", str(run.id), "--list")
    assert listed.code == 0, listed.err
    head, newest, oldest = listed.out.splitlines()
    assert head.split() == ["ID", "TASK", "WEIGHTS", "STATUS", "RESULT", "DATA"]
    assert newest.split() == [str(failed.id), "mcq", "base", "model", "failed", "no", "'answer'", "column", "mcq.csv"]
    # The checkpoint the worker found, as the run page shows it ("last" before, where the page said "step 30").
    assert oldest.split() == [str(done.id), "perplexity", "step", "30", "completed", "perplexity", "12.5000", "loss",
                              "2.5258", "held-out.jsonl"]
    shown = cli("--json", "eval", str(run.id), "--list").json()
    assert [e["id"] for e in shown] == [failed.id, done.id]
    assert shown[1]["result"]["metrics"]["perplexity"] == 12.5 and "predictions" not in shown[1]["result"]
    other = runs.create(store, exp.id)
    assert "no evaluations yet" in cli("eval", str(other.id), "--list").out


def test_without_task_or_data_it_says_which_is_missing(store, cli) -> None:
    missing = cli("eval", "1", "--task", "mcq")
    assert missing.code == 2 and missing.err == "error: eval: --data is required (or --list to list the run's evaluations)\n"
    assert "--task and --data are required" in cli("eval", "1").err


def test_a_failed_evaluation_with_a_blank_error_lists_as_a_dash() -> None:
    """Seen: `eval --list` raised IndexError on an evaluation whose error was whitespace only."""
    from types import SimpleNamespace

    from spark_trainer.cli.evaluate import _result

    assert _result(SimpleNamespace(status="failed", is_active=False, error=" \n ")) == "-"
    assert _result(SimpleNamespace(status="failed", is_active=False, error="\nout of memory\nmore")) == "out of memory"


def test_images_left_out_of_an_evaluation_are_listed_with_their_reasons() -> None:
    from spark_trainer.cli.evaluate import _text

    report = {"task": "classification", "step": 12, "metrics": {"accuracy": 0.5},
              "skipped_images": [{"path": "/data/cats/empty.jpg", "reason": "undecodable image: cannot identify"},
                                 {"path": "/data/dogs/scan.png", "reason": "image too large: over 178,956,970 pixels"}]}
    assert _text(report).splitlines()[2] == (
        "2 images skipped, not evaluated: /data/cats/empty.jpg (undecodable image: cannot identify); "
        "/data/dogs/scan.png (image too large: over 178,956,970 pixels)")


def test_the_confusion_matrix_names_classes_as_their_folders_are_named() -> None:
    """Column headers were upper-cased: class folders 'cat' and 'Cat' both read CAT, and 'dögs und spaß'
    read 'DÖGS UND SPASS' (one letter longer than its column, which shifted the counts under it)."""
    from spark_trainer.cli.evaluate import _text

    labels = ["Cat", "cat", "dögs und spaß"]
    report = {"task": "classification", "step": 3, "metrics": {"accuracy": 1.0}, "labels": labels,
              "per_class": {c: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1} for c in labels},
              "confusion_matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}
    lines = _text(report).splitlines()
    header = lines[lines.index("confusion matrix (rows: true, columns: predicted)") + 1]
    assert header.split() == ["Cat", "cat", "dögs", "und", "spaß"]
    assert lines[-1].index("1") == header.index("dögs und spaß")


def test_an_evaluation_of_a_dataset_lists_the_datasets_name_not_its_folder_number(store, cli) -> None:
    """Seen: `eval 1 --data chat` listed its data as '1' (the last part of datasets/1), in the command
    and on the run page alike."""
    from spark_trainer.store import datasets, evaluations, experiments, projects, runs

    projects.create(store, "p")
    chat = datasets.create(store, "p", datasets.NewDataset(name="chat", kind="text",
                                                           path=str(store.home.dataset_dir(1))))
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id)
    evaluations.create(store, run.id, task="perplexity", data_path=chat.path, base=False, checkpoint="last", gpus=[])
    listed = cli("eval", str(run.id), "--list")
    assert listed.code == 0, listed.err
    assert listed.out.splitlines()[1].endswith("dataset chat"), listed.out


def test_options_the_evaluation_would_not_read_are_refused(store, cli) -> None:
    # `eval 3 --task perplexity --data f.jsonl --base --checkpoint 75` evaluated the base model and
    # dropped --checkpoint without a word; `eval 3 --list --task mcq` listed and dropped --task.
    for args, said in ((["--task", "perplexity", "--data", "f.jsonl", "--base", "--checkpoint", "75"],
                        "--checkpoint names the run's weights to evaluate; --base evaluates the base model "
                        "instead: give one of them"),
                       (["--list", "--task", "mcq"], "--list lists the run's evaluations; leave out --task"),
                       (["--list", "--base"], "--list lists the run's evaluations; leave out --base")):
        refused = cli("eval", "1", *args)
        assert refused.code == 2 and refused.err == f"error: {said}\n", refused.err


def test_the_start_line_says_which_checkpoint_in_words(store, cli, monkeypatch) -> None:
    """Seen: `eval RUN --checkpoint 2` said "evaluation 1 of run 1 (2) started on CPU"."""
    from spark_trainer.evaluation import jobs
    from spark_trainer.store import evaluations, experiments, projects, runs

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id)

    def submit(_store, run_ref, *, task, data_path, base, checkpoint, gpus):
        return evaluations.create(store, run.id, task=task, data_path=data_path, base=base, checkpoint=checkpoint,
                                  gpus=[])

    # No worker: the evaluation is answered as failed at once; the line before it is what is checked.
    monkeypatch.setattr(jobs, "submit", submit)
    monkeypatch.setattr(jobs, "wait", lambda _store, ev_id, on_progress: evaluations.update(
        store, ev_id, status="failed", error="stopped by the test"))
    for extra, said in ((["--checkpoint", "2"], "(checkpoint at step 2)"), ([], "(last checkpoint)"),
                        (["--checkpoint", "best"], "(best checkpoint)"), (["--base"], "(base model)")):
        ran = cli("eval", str(run.id), "--task", "perplexity", "--data", "/d/x.txt", *extra)
        assert ran.code == 1 and f"of run {run.id} {said} started on CPU" in ran.err, ran.err
