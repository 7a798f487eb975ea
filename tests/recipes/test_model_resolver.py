"""The one base-model resolver (GUI form, submit, worker): local folders, and the Hugging Face cache
through huggingface_hub, following refs/main rather than the alphabetically last snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.jobs.submit import resolve_model
from spark_trainer.models.loading import cached_model_ids, check_base_model, resolve_base_model

MAIN, OLD = "1" * 40, "f" * 40  # the old snapshot sorts last


def _fake_cache(root: Path) -> Path:
    repo = root / "models--acme--tiny"
    for revision, layers in ((MAIN, 2), (OLD, 9)):
        blob = repo / "blobs" / f"{revision[:8]}{'0' * 56}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_text(json.dumps({"model_type": "llama", "num_hidden_layers": layers}))
        snapshot = repo / "snapshots" / revision
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").symlink_to(blob)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(MAIN)
    return root


def test_hub_ids_resolve_to_the_main_snapshot_and_are_listed(tmp_path):
    cache = _fake_cache(tmp_path / "hub")
    folder = resolve_base_model("acme/tiny", cache_dir=cache)
    assert folder.name == MAIN and json.loads((folder / "config.json").read_text())["num_hidden_layers"] == 2
    assert cached_model_ids(cache) == ["acme/tiny"]
    assert cached_model_ids(tmp_path / "no-cache") == []


def test_relative_folders_follow_the_search_order_and_submit_freezes_the_absolute_path(tmp_path):
    for root in ("runfile", "home", "home/models"):
        (tmp_path / root / "m").mkdir(parents=True)
        (tmp_path / root / "m" / "config.json").write_text("{}")
    assert resolve_model("m", tmp_path / "runfile", tmp_path / "home") == str((tmp_path / "runfile" / "m").resolve())
    assert resolve_model("m", None, tmp_path / "home") == str((tmp_path / "home" / "m").resolve())
    (tmp_path / "home" / "m" / "config.json").unlink()
    (tmp_path / "home" / "m").rmdir()
    assert resolve_model("m", None, tmp_path / "home") == str((tmp_path / "home" / "models" / "m").resolve())
    with pytest.raises(ConfigError, match=r"^base_model: 'nope/absent' is not a local folder \(looked in: .*\) "
                       r"and not in the Hugging Face cache .*; download it first \(hf download nope/absent\)$"):
        resolve_model("nope/absent", None, tmp_path / "home")  # refused at submit, not later in the worker


def test_the_form_gets_the_reason(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_base_model(str(empty), ())[1].startswith(f"{empty} has no config.json")
    assert "choose a base model" in check_base_model(" ", ())[1]
    with pytest.raises(BadInput, match="looked in"):
        resolve_base_model("nothing-here", search_dirs=(tmp_path,))


def test_one_rule_set_for_what_a_model_is(tmp_path):
    """The rules submit, the form and the worker share: a folder with config.json or a diffusers
    model_index.json is a model; a file, or a folder with neither, is refused naming the path; a
    relative name that is a model in a later search folder wins over a non-model in an earlier one."""
    pipeline, llm, plain, afile = (tmp_path / n for n in ("pipe", "llm", "plain", "weights.bin"))
    for folder, marker in ((pipeline, "model_index.json"), (llm, "config.json")):
        folder.mkdir()
        (folder / marker).write_text("{}")
    plain.mkdir()
    afile.write_text("x")
    assert resolve_base_model(str(pipeline)) == pipeline.resolve()
    assert check_base_model(str(llm), ()) == (llm.resolve(), None)
    assert check_base_model(str(afile), ())[1] == f"{afile} is a file, not a model folder"
    assert check_base_model(str(plain), ())[1] == (
        f"{plain} has no config.json (transformers) or model_index.json (diffusers); it does not look like a model folder")
    assert check_base_model(str(tmp_path / "gone"), ())[1] == f"{tmp_path / 'gone'} does not exist"

    first, second = tmp_path / "first", tmp_path / "second"
    (first / "m").mkdir(parents=True)  # not a model here...
    (second / "m").mkdir(parents=True)
    (second / "m" / "config.json").write_text("{}")  # ...but a model here
    assert resolve_base_model("m", search_dirs=(first, second)) == (second / "m").resolve()
    (second / "m" / "config.json").unlink()
    with pytest.raises(BadInput, match=f"^{first / 'm'} has no config.json"):
        resolve_base_model("m", search_dirs=(first, second))


def test_a_base_model_gone_before_the_worker_starts_is_named_as_the_base_model(tmp_path: Path) -> None:
    # faultwalk: a model folder moved after `run resume` queued the run failed it with a bare
    # "/tmp/faultwalk/model-copy does not exist".
    from spark_trainer.models.loading import resolve_for_run

    with pytest.raises(BadInput) as gone:
        resolve_for_run(str(tmp_path / "model-copy"))
    assert str(gone.value) == f"base_model: {tmp_path / 'model-copy'} does not exist"


def test_a_demo_model_not_made_yet_says_the_demo_makes_it(tmp_path: Path) -> None:
    # docwalk: `train examples/tiny-lora.yaml` before `spark-trainer demo` advised `hf download
    # models/demo-tiny-llama`, which cannot work: the demo makes that model.
    with pytest.raises(BadInput) as missing:
        resolve_base_model("models/demo-tiny-llama", search_dirs=(tmp_path,))
    assert str(missing.value) == (f"models/demo-tiny-llama does not exist (looked in: {tmp_path / 'models/demo-tiny-llama'}"
                                  ", models/demo-tiny-llama); `spark-trainer demo` makes it, in the data home's models/")
    with pytest.raises(BadInput, match=r"`spark-trainer demo --recipe diffusion-lora` makes it"):
        resolve_base_model(str(tmp_path / "models" / "demo-tiny-sd"))
