"""`compare`'s settings (spark_trainer/cli/ranking.py, `leaderboard.compared_settings`): the runs' own
datasets by name, and a key one recipe lacks told apart from an empty value."""

from __future__ import annotations

from pathlib import Path

import yaml

from spark_trainer.store import datasets, experiments, projects, runs
from spark_trainer.store.entities import RunStatus


def _dataset(store, name: str, folder: str) -> int:
    return datasets.create(store, "p", datasets.NewDataset(name=name, kind="text",
                                                           path=str(store.home.root / "datasets" / folder))).id


def _run(store, exp: int, dataset: int | None, config: dict) -> int:
    run = runs.create(store, exp, dataset_id=dataset)
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")  # not queued: nothing starts it
    (Path(run.run_dir) / "config.yaml").write_text(yaml.safe_dump(config))  # frozen: the dataset by id
    return run.id


def test_compare_shows_runs_on_different_datasets_by_name(store, cli) -> None:
    # A walk: run 21 was run 1's run file with `dataset: data/lm_b.jsonl`; `compare 1 21` said "the runs'
    # settings are the same" (--json "settings": {}), as the app's Config differences did.
    projects.create(store, "p")
    lm, lm_b = _dataset(store, "lm", "1"), _dataset(store, "lm_b", "2")
    exp = experiments.create(store, project="p", name="lm-exp", recipe="causal-lm", base_model="m", dataset=lm,
                             config={"recipe": "causal-lm"}).id
    one = _run(store, exp, lm, {"recipe": "causal-lm", "dataset": str(lm)})
    two = _run(store, exp, lm_b, {"recipe": "causal-lm", "dataset": str(lm_b)})
    shown = cli("--json", "compare", str(one), str(two))
    assert shown.code == 0, shown.err
    assert shown.json()["settings"] == {"dataset": ["lm", "lm_b"]}
    text = cli("compare", str(one), str(two)).out.splitlines()
    assert text[2].split() == ["SETTING", "RUN", str(one), "RUN", str(two)]
    assert text[3].split() == ["dataset", "lm", "lm_b"]
    # Deleted: its name, said so; the same data is no difference.
    datasets.delete(store, lm_b, force=True)
    assert cli("--json", "compare", str(one), str(two)).json()["settings"] == {"dataset": ["lm", "lm_b (deleted)"]}
    same = _run(store, exp, lm, {"recipe": "causal-lm", "dataset": str(lm)})
    assert cli("--json", "compare", str(one), str(same)).json()["settings"] == {}


def test_compare_tells_a_setting_another_recipe_lacks_from_an_empty_one(store, cli) -> None:
    # `recipe_config.sample_prompts  -  -`: [] against a key the classifier's config does not have.
    projects.create(store, "p")
    lm = experiments.create(store, project="p", name="lm", recipe="causal-lm", base_model="m", dataset=None,
                            config={}).id
    tc = experiments.create(store, project="p", name="tc", recipe="text-classification", base_model="m",
                            dataset=None, config={}).id
    a = _run(store, lm, None, {"recipe": "causal-lm", "recipe_config": {"sample_prompts": []}})
    b = _run(store, tc, None, {"recipe": "text-classification", "recipe_config": {"label_column": "label"}})
    text = cli("compare", str(a), str(b)).out.splitlines()
    rows = {line.split()[0]: line.split(None, 1)[1] for line in text if line.startswith("recipe_config.")}
    assert rows["recipe_config.sample_prompts"].split("  ")[0] == "[]"
    assert rows["recipe_config.sample_prompts"].endswith("(not a setting of text-classification)")
    assert rows["recipe_config.label_column"].startswith("(not a setting of causal-lm)")
    data = cli("--json", "compare", str(a), str(b)).json()["settings"]
    assert data["recipe_config.sample_prompts"] == [[], None]
