"""The classifier exporter's loader: the base with no checkpoint is the run's seeded starting point."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.jobs.submit import frozen_config, submit_config
from spark_trainer.store import datasets
from spark_trainer.store.store import Store


def test_the_base_model_loads_with_the_same_fresh_head_every_time(tmp_path) -> None:
    import torch

    from spark_trainer.export import classifier
    from spark_trainer.jobs.demo_recipes import image_classification_demo

    with Store.open(tmp_path / "home") as store:
        _model, _folder, config = image_classification_demo(store, steps=1)
        run = submit_config(store, config.model_copy(update={"gpus": "cpu"})).run  # queued, never started
        config = frozen_config(Path(run.run_dir))
        data = Path(datasets.get(store, config.dataset).path)
    loads = [classifier.load(config, None, "cpu", "fp32", data_path=data)[0] for _ in range(2)]
    first, second = (dict(m.named_parameters()) for m in loads)
    heads = [n for n in first if "classifier" in n]
    assert heads and first.keys() == second.keys()
    for name, value in first.items():
        assert torch.equal(value, second[name]), name  # a --base evaluation repeats
    other = classifier.load(config.model_copy(update={"train": config.train.model_copy(update={"seed": 7})}),
                            None, "cpu", "fp32", data_path=data)[0]
    assert not torch.equal(dict(other.named_parameters())[heads[0]], first[heads[0]])  # the run's seed decides
