"""The look at a checkpoint's files before a resume: whole files pass, any file cut short is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.training.checkpoint_check import damage, final_damage, set_aside_damaged
from spark_trainer.training.checkpoints import latest_checkpoint, write_checkpoint


def _checkpoint(run_dir: Path, step: int) -> Path:
    import torch
    from safetensors.torch import save_file

    files = {"trainable.safetensors": lambda p: save_file({"w": torch.ones(64, 8)}, str(p)),
             "optimizer.pt": lambda p: torch.save({"state": {0: torch.zeros(64, 8)}}, p)}
    return write_checkpoint(run_dir, step, files, {"data_position": step})


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size - 100])


@pytest.mark.parametrize("name", ["trainable.safetensors", "optimizer.pt"])
def test_a_file_cut_short_is_named_and_the_checkpoint_before_becomes_latest(tmp_path: Path, name: str) -> None:
    first, second = _checkpoint(tmp_path, 4), _checkpoint(tmp_path, 8)
    assert damage(first) is None and damage(second) is None
    _cut(second / name)
    assert damage(second).startswith(name)
    notes = set_aside_damaged(tmp_path)
    assert len(notes) == 1 and "step-00000008 is damaged" in notes[0] and "resumes from step 4" in notes[0]
    assert latest_checkpoint(tmp_path) == first
    assert (tmp_path / "checkpoints" / "damaged-step-00000008" / name).is_file()


def test_a_cut_short_state_file_is_set_aside_and_said_not_passed_over_in_silence(tmp_path: Path) -> None:
    """A run's folder names its run, so each checkpoint's owner is read from its state.json: one that
    cannot be read was skipped as if another run's, the resume went back a checkpoint without a word,
    and the folder stayed under its step's name (deleted outright when that step was saved again)."""
    from spark_trainer.training.checkpoints import write_identity

    write_identity(tmp_path, 1, "c0ffee")
    first, second = _checkpoint(tmp_path, 4), _checkpoint(tmp_path, 8)
    state = second / "state.json"
    state.write_text(state.read_text()[:20])
    notes = set_aside_damaged(tmp_path)
    assert len(notes) == 1, notes
    assert "step-00000008 is damaged: state.json is unreadable" in notes[0] and "resumes from step 4" in notes[0]
    assert latest_checkpoint(tmp_path) == first
    assert (tmp_path / "checkpoints" / "damaged-step-00000008" / "optimizer.pt").is_file()
    assert set_aside_damaged(tmp_path) == []  # said once


def test_another_run_s_checkpoint_is_left_alone(tmp_path: Path) -> None:
    from spark_trainer.training.checkpoints import write_identity

    write_identity(tmp_path, 1, "c0ffee")
    first = _checkpoint(tmp_path, 4)
    write_identity(tmp_path, 2, "other")
    _checkpoint(tmp_path, 8)  # stamped with the other run's uuid
    write_identity(tmp_path, 1, "c0ffee")
    assert set_aside_damaged(tmp_path) == [] and latest_checkpoint(tmp_path) == first
    assert (tmp_path / "checkpoints" / "step-00000008").is_dir()


@pytest.mark.parametrize("name", ["trainable.safetensors", "optimizer.pt"])
def test_a_file_missing_is_named_and_the_checkpoint_before_becomes_latest(tmp_path: Path, name: str) -> None:
    # faultwalk: a checkpoint with its state.json but no weights failed every `run resume` with
    # "FileNotFoundError ... step-00000052/trainable.safetensors", step-50 whole beside it.
    first, second = _checkpoint(tmp_path, 4), _checkpoint(tmp_path, 8)
    (second / name).unlink()
    assert damage(second) == f"{name} is missing"
    notes = set_aside_damaged(tmp_path)
    assert len(notes) == 1 and f"step-00000008 is damaged: {name} is missing" in notes[0]
    assert latest_checkpoint(tmp_path) == first


def test_a_final_model_folder_is_judged_by_what_it_holds(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    final = tmp_path / "final"
    final.mkdir()
    (final / "config.json").write_text('{"model_type": "gpt2"}')
    assert final_damage(final) == "it holds no model weights (no .safetensors or .bin file)"
    save_file({"w": torch.ones(64, 8)}, str(final / "model.safetensors"))
    assert final_damage(final) is None
    whole = (final / "model.safetensors").read_bytes()
    (final / "model.safetensors").write_bytes(whole[:-10])
    assert "model.safetensors is cut short" in final_damage(final)
    (final / "model.safetensors").write_bytes(whole)
    (final / "sub").mkdir()
    (final / "sub" / "tokenizer.json").write_text("")
    assert final_damage(final) == "sub/tokenizer.json is not valid JSON (0 bytes): cut short or overwritten"
