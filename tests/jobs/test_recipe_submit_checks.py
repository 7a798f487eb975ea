"""Data a recipe cannot train on is refused by submit (issue 10, "bad input"): one line, exit 2,
before a run exists, from `spark-trainer train` (the GUI's launch calls the same submit). The
checks need no model loaded, so the model folders here hold only what submit looks at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from spark_trainer.store import runs
from spark_trainer.store.store import Store
from tests.jobs.conftest import hold_the_only_slot
from tests.recipes.helpers import make_image_folders, write_jsonl


def _run_file(tmp_path: Path, recipe: str, dataset: Path, marker: str, **recipe_config: Any) -> Path:
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / marker).write_text("{}")
    path = tmp_path / f"{recipe}.yaml"
    path.write_text(yaml.safe_dump({"project": "p", "name": recipe, "recipe": recipe, "base_model": str(model),
                                    "dataset": str(dataset), "gpus": "cpu", "recipe_config": recipe_config}))
    return path


def _tickets(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    return write_jsonl(tmp_path / "tickets.jsonl", rows * 5)


def _one_class_folder(tmp_path: Path) -> Path:
    root = make_image_folders(tmp_path / "pets", per_class=2)
    for other in ("green_disc", "blue_bars"):
        for image in (root / other).iterdir():
            image.unlink()
        (root / other).rmdir()
    return root


def _half_captioned(tmp_path: Path) -> Path:
    from spark_trainer.models.tiny_diffusion import write_captioned_images

    folder = write_captioned_images(tmp_path / "shapes", 6)
    for name in ("shape-001.txt", "shape-004.txt"):
        (folder / name).unlink()
    return folder


def _split_folders(tmp_path: Path) -> Path:
    """train/{red_square,green_disc} and val/{red_square,green_disc,blue_bars}: blue bars in validation only."""
    root = tmp_path / "splitimgs"
    make_image_folders(root / "train", per_class=2)
    make_image_folders(root / "val", per_class=2, seed=1)
    for image in (root / "train" / "blue_bars").iterdir():
        image.unlink()
    (root / "train" / "blue_bars").rmdir()
    return root


def _split_tables(tmp_path: Path) -> Path:
    """train.csv and validation.csv, whose label 'zzz' train.csv lacks."""
    root = tmp_path / "tables"
    root.mkdir()
    (root / "train.csv").write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(6)))
    (root / "validation.csv").write_text("text,label\nvalid a,a\nvalid z,zzz\nvalid zz,zzz\n")
    return root


CASES = {
    "label column missing": ("text-classification", lambda p: _tickets(p, [{"text": "a", "target": "x"}]),
                             "config.json", "dataset 'tickets': its records have no 'label' field "
                             "(recipe_config.label_column); fields: target, text"),
    "one class (text)": ("text-classification", lambda p: _tickets(p, [{"text": "a", "label": "x"}]), "config.json",
                         "error: dataset: recipe text-classification cannot train on dataset 'tickets': "
                         "classification needs at least 2 classes in 'label'; found 'x'"),
    "one class (images)": ("image-classification", _one_class_folder, "config.json",
                           "error: dataset: recipe image-classification cannot train on dataset 'pets': "
                           "classification needs at least 2 classes in 'label'; found 'red_square'"),
    "a class only in validation (images)": (
        "image-classification", _split_folders, "config.json",
        "error: dataset: recipe image-classification cannot train on dataset 'splitimgs': class 'blue_bars' has no "
        "training items (2 in validation): add training items for it or remove it from validation"),
    "a class only in validation (text)": (
        "text-classification", _split_tables, "config.json",
        "error: dataset: recipe text-classification cannot train on dataset 'tables': class 'zzz' has no training "
        "items (2 in validation): add training items for it or remove it from validation"),
    "captions missing": ("diffusion-lora", _half_captioned, "model_index.json",
                         "only 4 of 6 images have a caption (missing on "),
}
# The one-class cases named the dataset by its folder ("dataset /home/.../datasets/1: classification
# needs..."), not by the name the run file and `dataset list` give it, as every other refusal does.


@pytest.mark.parametrize("case", list(CASES))
def test_data_the_recipe_cannot_train_on_is_refused_before_a_run_exists(case, store: Store, cli, tmp_path) -> None:
    recipe, make_data, marker, message = CASES[case]
    refused = cli("train", str(_run_file(tmp_path, recipe, make_data(tmp_path), marker)))
    assert refused.code == 2, refused.err
    assert refused.err.count("\n") == 1 and message in refused.err, refused.err
    if case == "captions missing":
        assert "shape-001.png" in refused.err and "shape-004.png" in refused.err  # named, so they can be fixed
    assert runs.list_all(store) == []  # no run, no run folder
    assert not (store.home.root / "runs").exists() or not any((store.home.root / "runs").iterdir())
    # Nor the project and dataset the refused file named: they were left behind, ingested from the path.
    from spark_trainer.store import datasets, projects

    assert datasets.list_all(store) == [] and projects.list_all(store) == []
    assert not (store.home.root / "datasets").exists() or not any((store.home.root / "datasets").iterdir())


def test_a_file_refused_by_its_ingestion_leaves_no_project_behind(store: Store, cli, tmp_path) -> None:
    # `project: brandnew` with a file whose every row is rejected said "nothing to ingest", and left the
    # project brandnew, made for it, in `project list`.
    from spark_trainer.store import projects

    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n{broken\n")
    refused = cli("train", str(_run_file(tmp_path, "text-classification", junk, "config.json")))
    assert refused.code == 2 and "nothing to ingest" in refused.err, refused.err
    assert projects.list_all(store) == []
    projects.create(store, "p")  # a project that was there before stays
    refused = cli("train", str(_run_file(tmp_path, "text-classification", junk, "config.json")))
    assert refused.code == 2 and [p.name for p in projects.list_all(store)] == ["p"]


def test_a_stored_dataset_the_setup_form_greys_out_is_refused_in_its_words(store: Store, cli, tmp_path) -> None:
    """A prompt/completion table named for image-classification was refused only by the data check's
    long message; now `train` says the form's tooltip reason, in one line, before anything is recorded."""
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.store import projects

    projects.create(store, "p")
    rows = write_jsonl(tmp_path / "train.jsonl", [{"prompt": "q", "completion": "a"}] * 4)
    ingest_paths(store, [rows], project="p", name="train")
    run_file = _run_file(tmp_path, "image-classification", rows, "preprocessor_config.json")
    (tmp_path / "model" / "config.json").write_text("{}")  # a vision model: only the data is wrong
    run_file.write_text(run_file.read_text().replace(f"dataset: {rows}", "dataset: train"))
    refused = cli("train", str(run_file))
    assert refused.code == 2, refused.err
    assert refused.err == ("error: dataset: recipe image-classification cannot train on dataset 'train': its records "
                           "have no 'path' field (recipe_config.image_column); fields: completion, prompt\n")
    assert runs.list_all(store) == []


def test_a_diffusers_pipeline_for_a_language_model_is_refused_at_submit(store: Store, cli, tmp_path) -> None:
    """It was queued, and failed in the worker with transformers' error about a missing config.json."""
    rows = write_jsonl(tmp_path / "notes.jsonl", [{"text": f"note {i}"} for i in range(6)])
    refused = cli("train", str(_run_file(tmp_path, "causal-lm", rows, "model_index.json")))
    assert refused.code == 2, refused.err
    assert refused.err.count("\n") == 1
    assert "base_model: recipe causal-lm cannot start from " in refused.err
    assert "it is a diffusers pipeline; this recipe needs a transformers model" in refused.err
    assert runs.list_all(store) == []


def test_images_smaller_than_the_resolution_are_warned_of_and_the_run_queued(store: Store, cli, tmp_path) -> None:
    """512 on 64 px frames kept a CPU run at step 0 for over 20 minutes, said only in the run's log.
    `train` now says it in one line before the run starts, and queues it (enlarging can be meant)."""
    from spark_trainer.models.tiny_diffusion import write_captioned_images
    from spark_trainer.store.entities import RunStatus

    hold_the_only_slot(store)
    frames = write_captioned_images(tmp_path / "frames", 6, size=64)
    run_file = _run_file(tmp_path, "diffusion-lora", frames, "model_index.json")
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):  # what submit looks at; no weights
        (tmp_path / "model" / part).mkdir()
    warned = cli("train", str(run_file))
    assert warned.code == 0, warned.err
    lines = [line for line in warned.err.splitlines() if line.startswith("warning: ")]
    assert lines == ["warning: recipe_config.resolution 512 is larger than 6 of the dataset's 6 images (shorter "
                     "side typically 64 px): each is enlarged to 512 px, 64x its pixels, which slows every step and "
                     "adds no detail; try recipe_config.resolution: 64 (keep 512 if the enlargement is intended)"]
    queued = runs.list_all(store, statuses={RunStatus.QUEUED})
    assert len(queued) == 1 and f"run {queued[0].id} queued" in warned.out

    quiet = cli("train", str(run_file), "--set", "recipe_config.resolution=64")
    # (the experiment's stored 512 is said, as for any run file reusing an experiment with other settings)
    assert quiet.code == 0 and "is larger than" not in quiet.err, quiet.err
    swept = cli("train", str(run_file), "--sweep", "recipe_config.resolution=64,512")
    assert swept.code == 0, swept.err
    [line] = [line for line in swept.err.splitlines() if "warning" in line]  # the 512 run's only
    assert line.startswith("warning: sweep recipe_config.resolution=512: recipe_config.resolution 512 is larger")
    started = cli("run", "start", "diffusion-lora")  # the experiment's stored config: 512 again
    assert started.code == 0 and "warning: recipe_config.resolution 512 is larger" in started.err, started.err


def test_seq_len_past_the_models_positions_is_refused_before_a_run_exists(store: Store, cli, tmp_path) -> None:
    # A causal-LM run with recipe_config.seq_len 128 on a model of 64 positions was queued, read and
    # tokenized its data, then failed in the worker.
    data = write_jsonl(tmp_path / "notes.jsonl", [{"text": f"note {i}"} for i in range(20)])
    path = _run_file(tmp_path, "causal-lm", data, "tokenizer.json", seq_len=128)
    (tmp_path / "model" / "config.json").write_text('{"max_position_embeddings": 64}')
    refused = cli("train", str(path))
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert refused.err == (f"error: recipe_config.seq_len 128 is larger than the model's max_position_embeddings 64 "
                           f"({(tmp_path / 'model').resolve()})\n")
    assert runs.list_all(store) == []


def test_a_target_module_the_model_lacks_is_refused_before_a_run_exists(store: Store, cli, run_file,
                                                                        tiny_model: Path) -> None:
    # It was refused by the worker once the run started: a night's queue failed one run after another.
    path = run_file("targets")
    data = yaml.safe_load(path.read_text())
    data["recipe_config"]["target_modules"] = "q_proj,c_attn"
    path.write_text(yaml.safe_dump(data))
    refused = cli("train", str(path))
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert refused.err.startswith("error: recipe_config.target_modules: 'c_attn' names no module of the model; "
                                  "its layers are named down_proj, embed_tokens, gate_proj, k_proj, lm_head"), refused.err
    assert runs.list_all(store) == []
