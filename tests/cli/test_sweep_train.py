"""`train RUN_FILE --sweep KEY=V1,V2 --wait`: one real tiny run per value, then a ranked table; bad
values refused before anything is queued."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spark_trainer.store import datasets, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store

DEMO_DATA = Path(__file__).resolve().parents[2] / "resources" / "demo" / "train.jsonl"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    return create_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny", vocab_size=300, hidden_size=32,
                                 num_layers=1, num_heads=2)


@pytest.fixture
def run_file(tmp_path: Path, tiny_model: Path) -> Path:
    data = {"project": "sweeps", "name": "tiny", "recipe": "causal-lm", "base_model": str(tiny_model),
            "dataset": str(DEMO_DATA), "gpus": "cpu",
            "train": {"max_steps": 2, "batch_size": 4, "learning_rate": 1e-3},
            "recipe_config": {"method": "lora", "lora_r": 4, "seq_len": 64},
            "eval": {"every_steps": None, "val_fraction": 0.1, "max_batches": 1},
            "checkpoint": {"every_steps": 2, "keep": 1}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_sweep_of_two_tiny_runs_waits_and_ranks_them(store: Store, run_file: Path, cli) -> None:
    result = cli("train", str(run_file), "--sweep", "train.learning_rate=1e-3,2e-2", "--set", "train.seed=7",
                 "--wait")
    assert result.code == 0, result.err
    assert "sweep tiny-sweep-1: queued 2 runs (1, 2)" in result.err
    lines = result.out.strip().splitlines()
    assert lines[0] == "sweep tiny-sweep-1: 2 runs of tiny, ranked by eval_loss (final value; lower is better)"
    assert lines[1].split() == ["RANK", "RUN", "STATUS", "TRAIN.LEARNING_RATE", "EVAL_LOSS", "STEP"]
    ranked = [line.split() for line in lines[2:]]
    assert [row[0] for row in ranked] == ["1", "2"] and {row[1] for row in ranked} == {"1", "2"}
    assert all(row[2] == "completed" for row in ranked)
    losses = [float(row[4]) for row in ranked]
    assert losses == sorted(losses)  # lower eval_loss first, as causal-lm declares
    assert all(r.status == RunStatus.COMPLETED for r in runs.list_all(store))

    shown = cli("--json", "sweep", "show", "tiny-sweep-1").json()
    assert shown["metric"] == "eval_loss" and shown["higher_is_better"] is False
    scores = [r["score"] for r in shown["runs"]]
    assert len(scores) == 2 and scores == sorted(scores)  # the ranked value under `score`, as in leaderboard
    assert sorted(r["values"]["train.learning_rate"] for r in shown["runs"]) == [1e-3, 2e-2]
    listed = cli("run", "list", "--sweep", "tiny-sweep-1")
    assert listed.code == 0 and "train.learning_rate=0.02" in listed.out
    assert "tiny-sweep-1  tiny        causal-lm  2" in cli("sweep", "list").out
    unknown = cli("run", "list", "--sweep", "nope")
    assert unknown.code == 2 and "no sweep named 'nope'; sweeps: tiny-sweep-1" in unknown.err


@pytest.mark.parametrize(("args", "message"), [
    (["--sweep", "train.learning_rate=1e-3,-1"],
     "error: sweep train.learning_rate=-1: must be greater than 0\n"),
    (["--sweep", "train.seed=1,2,3,4,5,6,7,8,9", "--sweep", "train.batch_size=1,2,3,4,5,6,7,8"],
     "error: sweep: 9 x 8 values make 72 runs; a sweep queues at most 64\n"),
    (["--sweep", "dataset=a.jsonl,b.jsonl"], "error: sweep dataset: only settings under train.*"),
    (["--sweep-name", "x"], "error: --sweep-name names a sweep: give it with --sweep KEY=V1,V2,...\n"),
])
def test_bad_sweeps_are_one_line_and_queue_nothing(store: Store, run_file: Path, cli, args, message) -> None:
    refused = cli("train", str(run_file), *args)
    assert refused.code == 2 and refused.err.startswith(message) and refused.err.count("\n") == 1, refused.err
    assert runs.list_all(store) == [] and datasets.list_all(store) == [] and projects.list_all(store) == []


def test_wait_exits_1_when_a_run_of_the_sweep_did_not_complete(store: Store, cli, tmp_path: Path) -> None:
    """The table and the exit code once every run has ended (ended here by hand: nothing trains)."""
    from spark_trainer.cli.sweep_train import _wait_all
    from spark_trainer.config.sweep import parse_axis
    from spark_trainer.jobs.sweeps import queue_sweep
    from spark_trainer.store import metrics
    from tests.recipes.helpers import write_jsonl

    model = tmp_path / "model"
    model.mkdir()
    for name in ("config.json", "tokenizer_config.json"):
        (model / name).write_text("{}")
    # Five rows a class: one row of each, five times, was two after de-duplication, one held out,
    # so one class was in validation only (refused at submit).
    rows = write_jsonl(tmp_path / "t.jsonl", [{"text": label, "label": label, "n": i} for label in "xy" for i in range(5)])
    data = {"project": "p", "name": "cls", "recipe": "text-classification", "base_model": str(model),
            "dataset": str(rows), "gpus": "cpu", "train": {"max_steps": 2}}
    queued = queue_sweep(store, data, [parse_axis("train.seed=1,2")], machine=[])
    good, bad = (r.id for r in queued.runs)
    for run_id, last in ((good, RunStatus.COMPLETED), (bad, RunStatus.FAILED)):
        for status in (RunStatus.STARTING, RunStatus.RUNNING, last):
            runs.transition(store, run_id, status, "test", error="CUDA error: boom" if last == RunStatus.FAILED else None)
    metrics.add_batch(store, good, [("eval_accuracy", 2, 0.75)])

    result = _wait_all(store, queued.name, [good, bad])
    assert result.exit_code == 1
    lines = result.render_text().splitlines()
    assert lines[0] == "sweep cls-sweep-1: 2 runs of cls, ranked by eval_accuracy (final value; higher is better)"
    assert lines[2].split() == ["1", str(good), "completed", "1", "0.75", "2"]  # its value, at step 2
    assert lines[3].split() == ["-", str(bad), "failed", "2", "-", "-"]
    assert lines[4] == f"run {bad} ended failed: CUDA error: boom"


def test_a_swept_experiment_does_not_pass_off_one_runs_values_as_its_own(store: Store, run_file: Path, cli) -> None:
    """`exp show` printed the experiment a sweep shares with its first run's learning rate and rank, as
    if they were the experiment's: the sweep is now listed and each swept setting says it was swept.
    `run show` gives each run's own values and `run start EXP` says which values it trains.
    Nothing here needs a run trained: run 1 holds the only slot, so the sweep's runs (2-5) stay queued."""
    from tests.jobs.conftest import hold_the_only_slot

    hold_the_only_slot(store)
    queued = cli("train", str(run_file), "--sweep", "train.learning_rate=1e-3,2e-2", "--sweep",
                 "recipe_config.lora_r=4,8")
    assert queued.code == 0, queued.err
    shown = cli("exp", "show", "tiny")
    assert "sweeps      tiny-sweep-1 (4 runs: train.learning_rate, recipe_config.lora_r)" in shown.out
    lines = [line.strip() for line in shown.out.splitlines()]
    assert "learning_rate: 0.001  # swept by tiny-sweep-1: 0.001, 0.02; each run has its own (run show ID)" in lines
    assert "lora_r: 4  # swept by tiny-sweep-1: 4, 8; each run has its own (run show ID)" in lines
    assert "seed: 42" in lines and "batch_size: 4" in lines  # not swept: no note
    data = cli("--json", "exp", "show", "tiny").json()
    assert data["config"]["train"]["learning_rate"] == 1e-3 and data["num_runs"] == 4
    assert data["sweeps"] == [{"name": "tiny-sweep-1", "num_runs": 4,
                               "values": {"train.learning_rate": [1e-3, 2e-2], "recipe_config.lora_r": [4, 8]}}]

    run = cli("run", "show", "5")
    assert "sweep           tiny-sweep-1: train.learning_rate=0.02 recipe_config.lora_r=8" in run.out
    listed = cli("run", "list", "--sweep", "tiny-sweep-1").out
    assert "train.learning_rate=0.001 recipe_config.lora_r=8" in listed

    started = cli("run", "start", "tiny")
    assert started.code == 0, started.err
    assert ("note: experiment 'tiny' was swept by tiny-sweep-1; this run trains its stored config: "
            "train.learning_rate=0.001 recipe_config.lora_r=4") in started.err
    assert runs.get(store, 6).sweep is None


def test_a_sweep_queued_on_a_held_queue_says_why_its_runs_wait(store: Store, run_file: Path, cli) -> None:
    """It said only "sweep tiny-sweep-1: queued 2 runs (2, 3)" while `train` says "run 2 queued: queue is
    held (...)": the same reason now, for all of them. Run 1 holds the only slot, so that nothing trains
    once the queue is released."""
    from spark_trainer.store import queue_hold
    from tests.jobs.conftest import hold_the_only_slot

    hold_the_only_slot(store)
    queue_hold.hold(store)
    queued = cli("train", str(run_file), "--sweep", "train.learning_rate=1e-3,2e-2")
    assert queued.code == 0, queued.err
    assert queued.out.splitlines()[0] == (
        "ingested 'train'; sweep tiny-sweep-1: queued 2 runs (2, 3): queue is held (they start once the "
        "queue is released: `spark-trainer queue release` or the app's Runs view)")
    assert [r.status for r in runs.list_all(store)].count(RunStatus.QUEUED) == 2

    queue_hold.release(store)  # released: what holds them all now is the one slot, said as `train` says it
    again = cli("train", str(run_file), "--sweep", "train.seed=3,4")
    assert again.code == 0, again.err
    assert again.out.splitlines()[0] == ("sweep tiny-sweep-2: queued 2 runs (4, 5): waiting for run 1 to finish "
                                         "(max concurrent runs 1)")


def test_ctrl_c_while_a_held_sweep_waits_says_a_release_starts_its_runs(store: Store, cli, monkeypatch) -> None:
    """Each run's line said it "starts when the app or `spark-trainer queue serve` is running": untrue while
    the queue is held."""
    from spark_trainer.cli import waiting
    from spark_trainer.cli.sweep_train import _wait_all
    from spark_trainer.store import experiments, queue_hold

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    ids = [runs.create(store, exp.id, requested_gpus="cpu").id for _ in range(2)]
    queue_hold.hold(store)

    def interrupted(_store, _run_id):
        raise KeyboardInterrupt

    monkeypatch.setattr(waiting, "wait_for_run", interrupted)
    result = _wait_all(store, "e-sweep-1", ids)
    assert result.exit_code == 130
    assert result.render_text().splitlines() == [
        f"stopped waiting; run {i} stays queued: the queue is held; it starts once it is released "
        f"(`spark-trainer queue release`, or the app's Release queue); `spark-trainer run cancel {i}` stops it"
        for i in ids]
