"""`run samples RUN`: the run page's Samples tab from the command line, newest first, on sample files
as training and the Playground write them (text items, image items, an image, an unreadable file)."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer.store import artifacts, experiments, projects, runs
from spark_trainer.store.store import Store


def _run_with_samples(store: Store) -> tuple[int, Path]:
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id)
    folder = Path(run.run_dir) / "samples"
    folder.mkdir(parents=True)
    text = folder / "step-00000010.json"
    text.write_text(json.dumps({"samples": [{"prompt": "Count up from 20:", "completion": "20 21 22\n23"}]}))
    images = folder / "step-00000020.json"
    images.write_text(json.dumps({"samples": [{"prompt": "a red circle", "image": "step-20-0.png",
                                               "caption": "seed 3"}]}))
    broken = folder / "step-00000030.json"
    broken.write_text("{not json")
    for step, path in ((10, text), (20, images), (30, broken)):
        artifacts.add(store, run.id, "sample", str(path), step=step)
    return run.id, folder


def test_samples_are_listed_newest_first_as_the_samples_tab_shows_them(store: Store, cli) -> None:
    run_id, folder = _run_with_samples(store)
    shown = cli("run", "samples", run_id)
    assert shown.code == 0, shown.err
    broken, images, text = shown.out.split("\n\n")
    assert broken.splitlines()[0] == f"step 30  {folder / 'step-00000030.json'}"
    assert broken.splitlines()[1].startswith(f"  cannot read {folder / 'step-00000030.json'}: ")
    assert images.splitlines()[1] == f"  a red circle  ->  {folder / 'step-20-0.png'}  (seed 3)"
    assert text.splitlines()[1:] == ["  > Count up from 20:", "    20 21 22", "    23"]
    newest = cli("--json", "run", "samples", run_id, "--limit", "1").json()
    assert [s["step"] for s in newest["samples"]] == [30] and newest["samples"][0]["items"] == []
    every = cli("--json", "run", "samples", run_id).json()["samples"]
    assert every[1]["items"] == [{"prompt": "a red circle", "output": "[image step-20-0.png] a red circle",
                                  "image": "step-20-0.png", "caption": "seed 3"}]


def test_a_run_without_samples_says_how_to_get_some(store: Store, cli) -> None:
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id)
    done = cli("run", "samples", run.id)
    assert done.code == 0 and done.out.startswith(f"run {run.id} has no samples yet; set eval.samples_every_steps")
    assert cli("run", "samples", run.id, "--limit", "0").code == 2
