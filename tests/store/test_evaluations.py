"""What an evaluation's data is called where results are listed, ranked and charted."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.store import datasets, evaluations, experiments, projects, runs
from spark_trainer.store.datasets import NewDataset
from spark_trainer.store.store import Store


def test_data_that_would_read_alike_is_qualified_by_project_or_folder(store: Store, tmp_path: Path) -> None:
    """Seen in a walk: after the demo and a second project each made a dataset named `train`, a run
    evaluated on both listed "perplexity on train" twice in `compare`, the leaderboard said "also
    evaluated on: train", and the run's chart joined the two into one curve rising from 170 to 482."""
    folders = {}
    for project in ("demo", "other"):
        projects.create(store, project)
        folders[project] = tmp_path / project / "datasets" / "1"
        folders[project].mkdir(parents=True)
        datasets.create(store, project, NewDataset(name="train", kind="text", path=str(folders[project])))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    exp = experiments.create(store, project="demo", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id)
    found = [evaluations.create(store, run.id, task="perplexity", data_path=str(path), base=False,
                                checkpoint="last", gpus=[])
             for path in (folders["demo"], folders["other"], tmp_path / "a" / "t.txt", tmp_path / "b" / "t.txt",
                          tmp_path / "a" / "only.csv")]
    names = evaluations.data_names(store, found)
    assert [names[e.data_path] for e in found] == ["dataset demo/train", "dataset other/train", "a/t.txt", "b/t.txt",
                                                  "only.csv"]
    alone = evaluations.data_names(store, found[:1], dataset_word="")  # nothing alike: the name as it is
    assert alone == {found[0].data_path: "train"}
