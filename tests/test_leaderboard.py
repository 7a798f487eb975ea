"""The leaderboard's pure choices (ranking against a real store is tested in tests/cli/test_ranking.py)."""

from __future__ import annotations

from spark_trainer.leaderboard import default_metric


def test_default_metric_prefers_eval_loss_then_loss_then_the_first_key() -> None:
    assert default_metric(["accuracy", "eval_loss", "loss"]) == "eval_loss"
    assert default_metric(["accuracy", "loss"]) == "loss"
    assert default_metric(["accuracy", "f1"]) == "accuracy"
    assert default_metric([]) is None


def test_a_run_is_ranked_and_shown_with_the_dataset_it_trained_on_not_its_experiments(store) -> None:  # noqa: ANN001
    """A run file whose data changed queues its run on `d-2` under an experiment on `d`: the board said `d`,
    and `--dataset d-2` left it out; once `d-2` was deleted it said "d (deleted)"."""
    from spark_trainer.leaderboard import rank
    from spark_trainer.store import datasets, experiments, metrics, projects, runs
    from spark_trainer.store.datasets import NewDataset
    from spark_trainer.store.entities import RunStatus

    projects.create(store, "p")
    d, d2 = (datasets.create(store, "p", NewDataset(name=n, kind="text", path=f"/tmp/{n}", num_items=1))
             for n in ("d", "d-2"))
    exp = experiments.create(store, project="p", name="tc", recipe="causal-lm", base_model="m", dataset=d.id,
                             config={})
    first, second = (runs.create(store, exp.id, dataset_id=i) for i in (d.id, d2.id))
    for run, loss in ((first, 2.0), (second, 1.0)):
        metrics.add_batch(store, run.id, [("loss", 1, loss)])
        for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
            runs.transition(store, run.id, status, "test")
    names = {d.id: "d", d2.id: "d-2"}
    assert [(e.run.id, e.dataset_text(names)) for e in rank(store, "loss")] == [(second.id, "d-2"), (first.id, "d")]
    assert [e.run.id for e in rank(store, "loss", dataset=d2.id)] == [second.id]
    assert [e.run.id for e in rank(store, "loss", dataset=d.id)] == [first.id]
    datasets.delete(store, d2.id, force=True)
    assert [e.dataset_text({d.id: "d"}) for e in rank(store, "loss")] == ["d-2 (deleted)", "d"]
