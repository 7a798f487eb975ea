"""Export a trained tiny LoRA run: merged and adapter-only folders load with the standard Hugging Face
classes and give the in-app model's logits; the card's front matter is valid YAML with real numbers."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spark_trainer.cli.main import main
from spark_trainer.store import exports, metrics
from spark_trainer.store.store import Store
from tests.synced import record_syncs, unsynced_before_publishing
from tests.tmpfs import tmpfs  # noqa: F401 - the fixture

TEXT = "count 3 4 5 6 7"


def _cli(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--home", str(home), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _in_app_logits(run_dir: Path, tiny_model: Path):
    """The fine-tuned model as the engine builds it (recipe's loader + the checkpoint's trained tensors)."""
    import torch
    from safetensors.torch import load_file

    from spark_trainer.jobs.submit import frozen_config
    from spark_trainer.recipes.causal_lm import CausalLMConfig
    from spark_trainer.recipes.causal_lm_model import load_model
    from spark_trainer.training.checkpoints import latest_checkpoint

    config = frozen_config(run_dir)
    model = load_model(tiny_model, CausalLMConfig.model_validate(config.recipe_config), torch.device("cpu"),
                       "fp32", "sdpa")
    trained = load_file(str(latest_checkpoint(run_dir) / "trainable.safetensors"))
    named = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in trained.items():
            named[name].copy_(tensor)
    model.eval()
    return _logits(model, tiny_model)


def _logits(model, tiny_model: Path):
    import torch
    from transformers import AutoTokenizer

    ids = AutoTokenizer.from_pretrained(tiny_model)(TEXT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def test_merged_export_loads_with_transformers_and_matches_the_app(lora_run, tiny_model, capsys) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    home, run = lora_run
    code, out, err = _cli(capsys, home, "export", run.id, "--merge", "--dtype", "fp32", "--json")
    assert code == 0, err
    doc = json.loads(out)
    folder = Path(doc["export"]["path"])
    assert folder.parent == home.resolve() / "exports"
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "README.md",
            "loss_curve.png"} <= names, names
    assert not any(n.endswith((".bin", ".pt")) for n in names)
    exported = AutoModelForCausalLM.from_pretrained(folder)
    assert exported.dtype == torch.float32
    ours, theirs = _in_app_logits(Path(run.run_dir), tiny_model), _logits(exported, tiny_model)
    base = _logits(AutoModelForCausalLM.from_pretrained(tiny_model), tiny_model)
    assert (ours - base).abs().max() > 1e-3  # training changed the model, so the comparison means something
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-4)
    with Store.open(home) as store:
        recorded = exports.list_for(store, run.id)
    assert recorded[0].path == str(folder) and recorded[0].options["kind"] == "merged"
    assert recorded[0].step == run.step

    # The same command again finds the finished export instead of writing another.
    code, out, err = _cli(capsys, home, "export", run.id, "--merge", "--dtype", "fp32", "--json")
    assert code == 0 and json.loads(out)["reused"] is True and json.loads(out)["export"]["path"] == str(folder)
    with Store.open(home) as store:
        assert len(exports.list_for(store, run.id)) == 1


def test_adapter_export_loads_with_peft_and_matches_the_app(lora_run, tiny_model, tmp_path, capsys) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    home, run = lora_run
    out_dir = tmp_path / "adapter"
    code, _, err = _cli(capsys, home, "export", run.id, "--out", out_dir)
    assert code == 0, err
    names = {p.name for p in out_dir.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "generation_config.json",
            "README.md"} <= names
    assert "model.safetensors" not in names
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out_dir)
    torch.testing.assert_close(_logits(model, tiny_model), _in_app_logits(Path(run.run_dir), tiny_model),
                               atol=1e-4, rtol=1e-4)


def test_adapter_export_asks_the_hub_nothing(tiny_model, tmp_path, capsys, monkeypatch) -> None:
    """Exporting is local: peft's save_pretrained looked the base's name up on the Hub (to see whether the
    vocabulary was resized) unless HF_HUB_OFFLINE was set, so a user's export tried the network."""
    import peft.utils.other

    from tests.export.conftest import train_in_store
    from tests.training.helpers import counting_rows, make_config, write_jsonl

    home = tmp_path / "home"
    data = write_jsonl(tmp_path / "count.jsonl", counting_rows(20))
    config = make_config(tiny_model, project="export", name="attention-only", dataset=str(data),
                         train={"max_steps": 1}, eval={"every_steps": None},
                         checkpoint={"every_steps": 1, "keep": 1},
                         recipe_config={"method": "lora", "lora_r": 2, "target_modules": "q_proj,v_proj",
                                        "seq_len": 32})
    with Store.open(home) as store:
        run = train_in_store(store, config)[0]

    asked: list[str] = []

    def no_network(repo_id: str, filename: str, **kwargs) -> bool:
        asked.append(f"{repo_id}/{filename}")
        raise OSError("network is off in this test")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(peft.utils.other, "file_exists", no_network)
    code, _, err = _cli(capsys, home, "export", run.id, "--out", tmp_path / "offline")
    assert code == 0, err
    assert asked == []
    config = json.loads((tmp_path / "offline" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny-llama"  # the card's and the Hub's name, not a local path


def test_model_card_front_matter_is_valid_yaml_with_real_numbers(lora_run, tmp_path, capsys) -> None:
    from PIL import Image

    home, run = lora_run
    out_dir = tmp_path / "card"
    code, _, err = _cli(capsys, home, "export", run.id, "--checkpoint", "best", "--out", out_dir)
    assert code == 0, err
    text = (out_dir / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert "base_model" not in meta  # a local folder: no Hub model to point at
    assert "The base model `tiny-llama` was a local folder" in text
    assert meta["library_name"] == "peft" and meta["pipeline_tag"] == "text-generation"
    assert "license" in meta and "spark-trainer" in meta["tags"] and "lora" in meta["tags"]
    assert len(meta["tags"]) == len(set(meta["tags"])), meta["tags"]  # a lora run was tagged "lora" twice
    assert "datasets" not in meta and "Dataset `count`." in text  # a local dataset, not a Hub one
    results = meta["model-index"][0]["results"]
    values = {m["name"]: m["value"] for r in results for m in r["metrics"]}
    with Store.open(home) as store:
        best_eval = min(p.value for p in metrics.read(store, run.id, keys=["eval_loss"]))
    assert isinstance(values["eval_loss"], float) and math.isfinite(values["eval_loss"])
    assert values["eval_loss"] == pytest.approx(best_eval, rel=1e-5)  # the best checkpoint's own value
    body = text.split("---\n", 2)[2]
    assert "## Training hyperparameters" in body and "train.learning_rate" in body
    assert "![Loss curve](loss_curve.png)" in body and "## Training data" in body
    assert "sources:" not in body  # no local paths of the user's files
    with Image.open(out_dir / "loss_curve.png") as image:
        assert image.size == (800, 400)
        assert len(image.getcolors(1_000_000) or []) > 3  # axes, text and a curve were drawn


def test_bad_export_requests_are_one_line_exit_2(lora_run, tmp_path, capsys) -> None:
    home, run = lora_run
    code, _, err = _cli(capsys, home, "export", run.id, "--checkpoint", "999")
    assert code == 2 and "no checkpoint at step 999" in err and len(err.strip().splitlines()) == 1
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    code, _, err = _cli(capsys, home, "export", run.id, "--out", busy)
    assert code == 2 and "not an empty folder" in err
    assert (busy / "keep.txt").read_text() == "mine" and len(list(busy.iterdir())) == 1
    a_file = tmp_path / "model.safetensors"
    a_file.write_text("mine")
    code, _, err = _cli(capsys, home, "export", run.id, "--out", a_file)
    assert code == 2 and f"export folder {a_file} is a file" in err and a_file.read_text() == "mine"
    code, _, err = _cli(capsys, home, "export", run.id, "--push", "no-namespace")
    assert code == 2 and "your-name/model-name" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder (os.access says so), so "
                    "there is nothing to refuse; run as another user to check the refusal")
def test_an_empty_read_only_out_folder_is_refused_and_left_as_it_was(lora_run, tmp_path, capsys) -> None:
    """`export RUN --out DIR`, DIR an empty folder the user made read-only, renamed its export over DIR:
    DIR became a writable folder of the export's, its permissions silently gone."""
    import stat

    home, run = lora_run
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    inode = locked.stat().st_ino
    try:
        code, _, err = _cli(capsys, home, "export", run.id, "--out", locked)
        assert code == 2 and err == (f"error: export folder {locked} is not writable; make it writable or choose "
                                     "another folder\n")
        assert locked.stat().st_ino == inode and stat.S_IMODE(locked.stat().st_mode) == 0o555
        assert list(locked.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["locked"]
    finally:
        locked.chmod(0o755)


def test_two_exports_into_one_folder_at_once_never_mix_their_files(lora_run, tmp_path) -> None:
    """Two exports to the same --out (the app's dialog and a terminal) shared one staging folder
    `.staging-NAME`: the second one's start deleted the first one's half-written folder, and under real
    concurrency the folder kept ended with one run's weights beside another's card and tokenizer, recorded
    as the other run's export. Each export now stages alone; the one that finishes second is refused."""
    from spark_trainer.errors import BadInput
    from spark_trainer.export import ExportOptions, export_run

    home, run = lora_run
    out = tmp_path / "shared"
    seen: dict[str, object] = {}

    def first_progress(phase: str, _done: int, _total: int) -> None:
        if phase == "finishing" and "second" not in seen:  # the first is staged; the second runs whole
            with Store.open(home) as other:
                seen["second"] = export_run(other, run.id, ExportOptions(merge=True, out=out)).export
            seen["stagings"] = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".staging"))

    with Store.open(home) as store:
        before = {e.id for e in exports.list_for(store, run.id)}
        with pytest.raises(BadInput, match=r"^export folder .*shared was filled by another export meanwhile"):
            export_run(store, run.id, ExportOptions(merge=False, out=out), progress=first_progress)
        added = [e for e in exports.list_for(store, run.id) if e.id not in before]
    assert len(seen["stagings"]) == 1  # the first export's staging outlived the second export
    assert [e.id for e in added] == [seen["second"].id] and added[0].options["kind"] == "merged"
    assert (out / "model.safetensors").is_file() and not (out / "adapter_model.safetensors").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging")]


def test_export_of_a_training_run_survives_its_checkpoint_being_pruned_meanwhile(tiny_model, tmp_path) -> None:
    """`export RUN` while the run trains reads its last checkpoint as the run saves the next one and
    prunes this one (checkpoint.keep): with checkpoints a few steps apart, 4 exports of 4 failed with
    'I/O error on: No such file or directory: .../step-00000010/trainable.safetensors'. The export now
    reads the checkpoint's files through hard links of its own."""
    import shutil

    from spark_trainer.export import ExportOptions, export_run
    from tests.export.conftest import train_run

    home = tmp_path / "home"
    with Store.open(home) as store:
        (tmp_path / "data").mkdir()
        run = train_run(store, tiny_model, tmp_path / "data", steps=3, eval_every=None)

        def prune_it(phase: str, _done: int, _total: int) -> None:
            if phase == "writing weights":  # the run saved a newer checkpoint and pruned this one
                for step in (Path(run.run_dir) / "checkpoints").glob("step-*"):
                    shutil.rmtree(step)

        result = export_run(store, run.id, ExportOptions(merge=True, out=tmp_path / "out"), progress=prune_it)
    assert result.export.step == 3 and (tmp_path / "out" / "model.safetensors").is_file()
    assert not list(Path(run.run_dir).glob(".pinned-*"))


def test_an_out_folder_that_cannot_be_made_is_named_in_one_line(lora_run, tmp_path, capsys, monkeypatch) -> None:
    """`--out FILE/sub` said 'I/O error on FILE: File exists', and `--out /proc/x` named the hidden
    staging folder ('.staging-x-...') the user never asked for."""
    home, run = lora_run
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    code, _, err = _cli(capsys, home, "export", run.id, "--out", a_file / "sub")
    assert code == 2 and err.strip() == (f"error: export folder {a_file / 'sub'}: cannot make a folder there "
                                         f"({a_file} is a file)")
    code, _, err = _cli(capsys, home, "export", run.id, "--out", "/proc/no-export-here")
    assert code == 2 and err.startswith("error: export folder /proc/no-export-here: cannot make a folder there (")
    assert ".staging" not in err and a_file.read_text() == "mine"
    # An empty --out was taken as none: "already exported ... in" a folder the user did not name. (Where it
    # is not refused, " " is a folder where the command runs: here, not the checkout.)
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli(capsys, home, "export", run.id, "--out", " ")
    assert code == 2 and err.strip() == ("error: --out is empty; give the export folder, or leave --out out for the "
                                         "data home's exports/")


def test_an_out_folder_inside_a_folder_the_app_deletes_is_refused(lora_run, capsys) -> None:
    # `export 7 --out <home>/runs/7/inside` was written, then `run delete 7` said it kept that export
    # ("yours to remove") and deleted it with the run's folder.
    home, run = lora_run
    for inside in (home / "runs" / str(run.id) / "inside", home / "datasets" / "1" / "x", home / "exports" / "9" / "y"):
        code, _, err = _cli(capsys, home, "export", run.id, "--out", inside)
        assert code == 2 and err.strip() == (
            f"error: export folder {inside.resolve()} is inside the data home's {inside.parents[1].name}/ folder, "
            f"whose folders go when their {inside.parents[1].name[:-1]} is deleted; choose a folder outside it")
        assert not inside.exists()


def test_a_causal_lm_run_exports_after_its_dataset_is_deleted(tiny_model, tmp_path, capsys) -> None:
    """Export needs only the run's frozen config and checkpoint. The card said `datasets: ['1']` and
    "Dataset `1`." (the deleted dataset's id): it names the dataset as its kept card records it, and
    with its files deleted too, says it was deleted."""
    import shutil

    from spark_trainer.jobs.submit import frozen_config
    from spark_trainer.store import datasets
    from tests.export.conftest import train_run

    home = tmp_path / "home"
    (tmp_path / "data").mkdir()
    with Store.open(home) as store:
        run = train_run(store, tiny_model, tmp_path / "data", steps=3, eval_every=None)
        dataset = datasets.delete(store, frozen_config(Path(run.run_dir)).dataset, force=True)  # files kept
    assert main(["--home", str(home), "export", str(run.id), "--merge", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "model.safetensors").is_file()
    text = (tmp_path / "out" / "README.md").read_text()
    assert "datasets" not in yaml.safe_load(text.split("---\n")[1]), text  # local: not a Hub dataset
    assert "Dataset `count` (deleted since it was trained on)." in text and f"`{dataset.id}`" not in text
    shutil.rmtree(dataset.path)  # as `dataset delete --delete-files` does
    assert main(["--home", str(home), "export", str(run.id), "--out", str(tmp_path / "gone")]) == 0
    text = (tmp_path / "gone" / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert "datasets" not in meta and f"'{dataset.id}'" not in text and f"`{dataset.id}`" not in text, text
    assert "A dataset deleted since it was trained on; its name was not kept." in text
    assert {r["dataset"]["name"] for r in meta["model-index"][0]["results"]} == {"deleted dataset"}


def test_a_full_runs_export_is_reused_with_or_without_merge(tiny_model, tmp_path, capsys) -> None:
    """A full fine-tune has no adapter: `export RUN` and `export RUN --merge` write the same whole
    model. The second was written again, a second folder as large as the model, as if it differed."""
    from tests.export.conftest import train_run

    home = tmp_path / "home"
    (tmp_path / "data").mkdir()
    with Store.open(home) as store:
        run = train_run(store, tiny_model, tmp_path / "data", method="full", steps=2, eval_every=None)
    code, out, _ = _cli(capsys, home, "--json", "export", run.id)
    assert code == 0 and json.loads(out)["export"]["options"]["kind"] == "full"
    first = json.loads(out)["export"]["path"]
    code, out, _ = _cli(capsys, home, "--json", "export", run.id, "--merge")
    assert code == 0 and json.loads(out)["reused"] is True and json.loads(out)["export"]["path"] == first
    with Store.open(home) as store:
        assert len(exports.list_for(store, run.id)) == 1
    assert len(list((home / "exports").iterdir())) == 1


def test_exported_and_saved_weights_are_readable_as_every_other_file_is(lora_run, tmp_path, capsys) -> None:
    """model.safetensors / adapter_model.safetensors were mode 0600 beside 0644 files (safetensors 0.8
    writes through a private temporary file): under umask 022 every written file is now 0644, in the
    export, the run's final/ and its checkpoints."""
    import os
    import stat

    home, run = lora_run
    before = os.umask(0o022)
    try:
        for how in ([], ["--merge"]):
            out = tmp_path / f"out{len(how)}"
            assert main(["--home", str(home), "export", str(run.id), *how, "--out", str(out)]) == 0
            modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in out.rglob("*") if p.is_file()}
            assert set(modes.values()) == {"0o644"}, modes
    finally:
        os.umask(before)
    run_files = [p for p in Path(run.run_dir).glob("*/**/*.safetensors")]
    assert run_files and {oct(stat.S_IMODE(p.stat().st_mode)) for p in run_files} == {"0o644"}, run_files


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tmpfs is Linux")
def test_an_export_that_fills_the_disk_is_one_line_naming_the_place_and_leaves_nothing(
        lora_run, tmp_path, capsys, tmpfs) -> None:  # noqa: F811
    """On a full --out filesystem a merged export printed safetensors' own traceback ('SafetensorError:
    Error while serializing: I/O error: No space left on device (os error 28)'), and an adapter export
    said 'I/O error on: No space left on device', naming no place. Both now say 'disk full at <folder>'
    in one line, record nothing, leave no staging, and the retry with room succeeds."""
    home, run = lora_run
    # Well under each export (weights alone: 119 KB merged, 60 KB bf16, 54 KB adapter): at 100 KiB the bf16
    # and adapter exports fit or not by a few hundred bytes of loss-curve picture, in 4 KiB tmpfs pages.
    small = tmpfs(tmp_path / "small", 40 * 1024)
    with Store.open(home) as store:
        before = exports.list_for(store, run.id)
    for args in (("--merge",), ("--merge", "--dtype", "bf16"), ()):
        code, _, err = _cli(capsys, home, "export", run.id, *args, "--out", small / "out")
        lines = [line for line in err.splitlines() if not line.startswith("  ")]  # progress lines
        assert code == 1 and len(lines) == 1, err
        assert re.fullmatch(rf"error: disk full at {re.escape(str(small))}: 0\.\d MiB free; the export was not written",
                            lines[0]), err
        assert list(small.iterdir()) == [], list(small.iterdir())
    with Store.open(home) as store:
        assert exports.list_for(store, run.id) == before
    subprocess.run(["mount", "-o", "remount,size=4m", str(small)], check=True)
    code, _, err = _cli(capsys, home, "export", run.id, "--merge", "--out", small / "out")
    assert code == 0 and (small / "out" / "model.safetensors").is_file(), err


def test_a_run_deleted_while_it_is_exported_leaves_no_unrecorded_export_folder(lora_run, tmp_path,
                                                                               monkeypatch) -> None:
    """The run deleted (the app, another terminal) while its export was being written: the export said
    'conflicts with existing data: FOREIGN KEY constraint failed' and its folder stayed (in exports/, or
    --out), recorded nowhere. It now says what happened, and the folder is gone with the run. (A delete
    is refused while the export's pin is there, tests/jobs/test_control.py; this one looked before the
    export pinned the checkpoint, the race that check cannot close.)"""
    import shutil

    from spark_trainer.errors import OperationFailed
    from spark_trainer.export import ExportOptions, export_run
    from spark_trainer.jobs import control, deletion

    source, run = lora_run
    home = tmp_path / "home"
    shutil.copytree(source, home)
    monkeypatch.setattr(deletion, "refuse_if_pinned", lambda _run: None)

    def delete_it(phase: str, _done: int, _total: int) -> None:
        if phase == "finishing":
            with Store.open(home) as other:
                control.delete(other, run.id)

    with Store.open(home) as store:
        with pytest.raises(OperationFailed, match=rf"^run {run.id} was deleted while it was being exported; "
                                                  r"the export was not kept$"):
            export_run(store, run.id, ExportOptions(merge=True, out=tmp_path / "out"), progress=delete_it)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".staging-*"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads fsync's file from /proc")
def test_an_export_reaches_the_disk_before_it_is_renamed_into_place(lora_run, tmp_path, monkeypatch) -> None:
    """The export's staging folder was renamed into place with none of its files fsynced: a power loss
    soon after could leave an export of empty files, recorded and ready to push."""
    home, run = lora_run
    events = record_syncs(monkeypatch)
    out = tmp_path / "durable"
    assert main(["--home", str(home), "export", str(run.id), "--out", str(out)]) == 0
    assert (out / "adapter_model.safetensors").is_file()
    assert unsynced_before_publishing(events, out) == []


def test_the_card_names_an_evaluations_dataset_by_its_name_not_its_folder_number(lora_run, tmp_path,
                                                                                capsys) -> None:
    """An evaluation of an ingested dataset records the dataset's folder, datasets/<id>: the card's
    model-index called the data by that folder's last part, '1', where `eval --list` says 'dataset count'."""
    import shutil

    from spark_trainer.store import datasets, evaluations

    shutil.copytree(lora_run[0], tmp_path / "home")  # the module's run stays without evaluations
    home, run = tmp_path / "home", lora_run[1]
    with Store.open(home) as store:
        folder = datasets.get(store, "count").path
        for data_path in (folder, str(tmp_path / "held-out.jsonl")):
            made = evaluations.create(store, run.id, task="perplexity", data_path=data_path, base=False,
                                      checkpoint="last", gpus=[])
            evaluations.complete(store, made.id, step=run.step, result={"metrics": {"perplexity": 7.5}}, points=[],
                                 report_path=None, artifact_meta={})
    code, _, err = _cli(capsys, home, "export", run.id, "--out", tmp_path / "card")
    assert code == 0, err
    meta = yaml.safe_load((tmp_path / "card" / "README.md").read_text().split("---\n")[1])
    named = sorted(r["dataset"]["name"] for r in meta["model-index"][0]["results"]
                   if [m["name"] for m in r["metrics"]] == ["perplexity"])
    assert named == ["count", "held-out.jsonl"], meta["model-index"]


def test_the_card_lists_only_the_evaluations_of_the_exported_checkpoint(lora_run, tmp_path, capsys) -> None:
    """An export of step 3 listed the step-6 evaluation as its result too: two conflicting rows for one
    dataset in the model-index the Hub shows, where the card promises the exported checkpoint's metrics."""
    import shutil

    from spark_trainer.store import datasets, evaluations

    shutil.copytree(lora_run[0], tmp_path / "home")  # the module's run stays without evaluations
    home, run = tmp_path / "home", lora_run[1]
    with Store.open(home) as store:
        folder = datasets.get(store, "count").path
        for step, value in ((3, 9.25), (6, 4.5)):
            made = evaluations.create(store, run.id, task="perplexity", data_path=folder, base=False,
                                      checkpoint=str(step), gpus=[])
            evaluations.complete(store, made.id, step=step, result={"metrics": {"perplexity": value}}, points=[],
                                 report_path=None, artifact_meta={})
    for step, value, other in (("3", 9.25, 4.5), ("6", 4.5, 9.25)):
        code, _, err = _cli(capsys, home, "export", run.id, "--checkpoint", step, "--out", tmp_path / step)
        assert code == 0, err
        text = (tmp_path / step / "README.md").read_text()
        meta = yaml.safe_load(text.split("---\n")[1])
        evaluated = [m["value"] for r in meta["model-index"][0]["results"] for m in r["metrics"]
                     if m["name"] == "perplexity"]
        assert evaluated == [value], (step, meta["model-index"])
        assert f"perplexity {value:.4f}" in text and f"perplexity {other:.4f}" not in text


def test_best_says_when_a_better_evaluation_has_no_checkpoint(tiny_model, tmp_path, capsys) -> None:
    # A night-queue walk: a run failed on a full disk after evaluating a step it never saved; the
    # leaderboard ranked it by that value, and `export --checkpoint best` exported another step unsaid.
    from tests.export.conftest import train_run

    home = tmp_path / "home"
    with Store.open(home) as store:
        (tmp_path / "data").mkdir()
        run = train_run(store, tiny_model, tmp_path / "data")  # evaluated and saved at steps 3 and 6
        best = min(p.value for p in metrics.read(store, run.id, keys=["eval_loss"]))
        metrics.add_batch(store, run.id, [("eval_loss", 4, best / 2)])  # evaluated, never saved
    code, _, err = _cli(capsys, home, "export", run.id, "--checkpoint", "best", "--out", tmp_path / "best")
    assert code == 0, err
    assert re.search(r"note: the best eval_loss, [\d.]+ at step 4, has no checkpoint \(its weights were not saved\); "
                     r"exported the best checkpoint kept, step [36] \(eval_loss [\d.]+\)", err), err
    again = _cli(capsys, home, "export", run.id, "--checkpoint", "best", "--out", tmp_path / "best")
    assert "already exported" in again[2] and "at step 4, has no checkpoint" in again[2]  # said when reused too
    last = _cli(capsys, home, "export", run.id, "--out", tmp_path / "last")
    assert last[0] == 0 and "note:" not in last[2]  # only "best" promises the best


def test_the_card_of_a_stopped_run_credits_no_earlier_steps_figures_to_its_checkpoint(lora_run, tmp_path,
                                                                                    capsys) -> None:
    """A run cancelled at step 574, last evaluated at step 500: its card said 'checkpoint at step 574' and
    gave step 500's eval_loss as model-index's result, with no step, where `run checkpoints` says
    '(at step 500)'."""
    import shutil

    from spark_trainer.store.models import RunRow

    shutil.copytree(lora_run[0], tmp_path / "home")
    home, run = tmp_path / "home", lora_run[1]
    with Store.open(home) as store:
        metrics.add_batch(store, run.id, [("eval_accuracy", 4, 0.625)])  # evaluated at 4, not at 6
        with store.write() as session:
            row = session.get(RunRow, run.id)
            row.status, row.total_steps = "cancelled", 10
    code, _, err = _cli(capsys, home, "export", run.id, "--out", tmp_path / "card")
    assert code == 0, err
    text = (tmp_path / "card" / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    named = [m["name"] for r in meta["model-index"][0]["results"] for m in r["metrics"]]
    assert "eval_accuracy" not in named and "eval_loss" in named, named  # eval_loss is step 6's own
    assert "| eval_accuracy | 0.6250 (at step 4) |" in text
    assert "checkpoint at step 6" in text and f"The run was cancelled at step {run.step} of its 10 max steps." in text
