"""The managed worker's outcome for a run whose engine raised (spark_trainer/jobs/worker.py)."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.config import load_config
from spark_trainer.jobs import worker
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store.entities import RunStatus
from spark_trainer.training.reporting import Commands


def test_an_error_whose_message_starts_on_a_new_line_keeps_its_text_on_the_first_line(store, run_file, monkeypatch):
    # transformers raises ImportErrors whose message begins with a newline; the stored error's first line
    # is what `run show`, `train --wait` and the GUI show, and it used to read just "ImportError: ".
    run = submit_config(store, load_config(run_file()), base_dir=Path(".")).run

    def engine_fails(*args, **kwargs):
        raise ImportError("\nAutoImageProcessor requires the Torchvision library but it was not found.\nSee the docs.")

    monkeypatch.setattr(worker, "train", engine_fails)
    finish = worker._train_here_or_ranks(store, run, Path(run.run_dir), Commands())
    assert finish.status is RunStatus.FAILED
    assert finish.reason == "training failed: ImportError: AutoImageProcessor requires the Torchvision library but it was not found."
    assert finish.error is not None
    assert finish.error.splitlines()[0] == ("ImportError: AutoImageProcessor requires the Torchvision library "
                                            "but it was not found.")
    assert finish.error.splitlines()[1] == "See the docs."


def test_a_base_model_removed_after_queueing_fails_with_its_line_in_the_event_and_the_log(store, run_file, tiny_model,
                                                                                           tmp_path, capfd):
    # The event read "running -> failed  training failed: BadInput" while the error said what was wrong,
    # and worker.log held a full traceback for a one-line error of the user's.
    import shutil

    model = tmp_path / "gone-model"
    shutil.copytree(tiny_model, model)
    path = run_file()
    path.write_text(path.read_text().replace(str(tiny_model), str(model)))
    run = submit_config(store, load_config(path), base_dir=Path(".")).run
    shutil.rmtree(model)
    capfd.readouterr()
    finish = worker._train_here_or_ranks(store, run, Path(run.run_dir), Commands())
    assert finish.status is RunStatus.FAILED
    assert finish.error is not None and finish.error == f"base_model: {model} does not exist", finish.error
    assert finish.reason == f"training failed: {finish.error.splitlines()[0]}"
    logged = capfd.readouterr()
    assert finish.error in logged.out and "Traceback" not in logged.out + logged.err, logged


def test_an_unexpected_error_keeps_its_traceback_in_the_log(store, run_file, monkeypatch, capfd):
    run = submit_config(store, load_config(run_file()), base_dir=Path(".")).run

    def engine_fails(*args, **kwargs):
        raise RuntimeError("shape mismatch in layer 3")

    monkeypatch.setattr(worker, "train", engine_fails)
    finish = worker._train_here_or_ranks(store, run, Path(run.run_dir), Commands())
    assert finish.reason == "training failed: RuntimeError: shape mismatch in layer 3"
    logged = capfd.readouterr().err
    assert "Traceback (most recent call last)" in logged and "engine_fails" in logged, logged


def test_a_diverged_run_fails_with_its_one_line_and_no_traceback_as_the_error(store, run_file, monkeypatch):
    from spark_trainer.training.divergence import Diverged

    run = submit_config(store, load_config(run_file()), base_dir=Path(".")).run
    message = "training diverged at step 5: the loss became nan (learning rate 0.003), ..."

    def diverges(*args, **kwargs):
        raise Diverged(message)

    monkeypatch.setattr(worker, "train", diverges)
    finish = worker._train_here_or_ranks(store, run, Path(run.run_dir), Commands())
    assert (finish.status, finish.reason, finish.error) == (RunStatus.FAILED, "training diverged", message)


def test_training_in_process_leaves_the_callers_imports_alone(store, run_file):
    """Only the worker's own process keeps bitsandbytes out (`main` passes lean=True): `bench lora`
    calls `train` in process and runs other things after it, and the tests do too."""
    import sys

    from spark_trainer.jobs.submit import frozen_config

    run = submit_config(store, load_config(run_file(steps=2, ckpt_every=2)), base_dir=Path(".")).run
    outcome = worker.train(store, run.id, frozen_config(Path(run.run_dir)), Path(run.run_dir), Commands())
    assert outcome.status == "completed"
    assert sys.modules.get("bitsandbytes", "absent") is not None  # not blocked (None) in this process


def test_a_run_queued_before_its_dataset_was_renamed_trains_on_it(store, run_file):
    """The frozen config names the dataset by id, which is what the worker looks up: a rename while the
    run waits in the queue changes nothing for it."""
    from spark_trainer.jobs.submit import frozen_config
    from spark_trainer.store import datasets

    submitted = submit_config(store, load_config(run_file(steps=2, ckpt_every=2)), base_dir=Path("."))
    run, dataset = submitted.run, submitted.dataset
    datasets.rename(store, dataset.id, "flowers")
    config = frozen_config(Path(run.run_dir))
    assert config.dataset == str(dataset.id)
    outcome = worker.train(store, run.id, config, Path(run.run_dir), Commands())
    assert outcome.status == "completed"
