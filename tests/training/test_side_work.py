"""The engine's side work: its writes (samples, evaluation reports) on a full disk (a real tmpfs, needs
root): one DiskFull naming the file, nothing half-written left behind, the checkpoints as they were; and
the stop every process of a run agrees on."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from spark_trainer.errors import DiskFull
from spark_trainer.training.checkpoints import list_checkpoints, read_state
from spark_trainer.training.engine import run_training
from spark_trainer.training.reporting import Commands
from tests.synced import record_syncs, unsynced_before_publishing
from tests.tmpfs import BALLAST, fill, tmpfs  # noqa: F401 - the fixture
from tests.training.helpers import RecordingReporter, make_config


def test_a_sample_on_a_full_disk_is_disk_full_naming_the_file_and_leaves_no_empty_file(
        tiny_model, counting_data, tmp_path: Path, tmpfs) -> None:  # noqa: F811
    run_dir = tmp_path / "run"
    samples = tmpfs(run_dir / "samples", 64 * 1024)
    fill(samples)
    config = make_config(tiny_model, train={"max_steps": 6}, checkpoint={"every_steps": 2},
                         eval={"samples_every_steps": 3}, recipe_config={"sample_prompts": ["count 3"]})
    reporter = RecordingReporter(Commands())

    with pytest.raises(DiskFull) as raised:
        run_training(config, data_path=counting_data, run_dir=run_dir, reporter=reporter, commands=Commands())

    message = str(raised.value)
    assert message.startswith(f"disk full at {samples}: "), message
    assert "step-00000003.json" in message and "\n" not in message, message
    assert sorted(p.name for p in samples.iterdir()) == [BALLAST]  # no empty or cut-short sample file
    assert [read_state(p)["step"] for p in list_checkpoints(run_dir)] == [2]  # the checkpoint before is intact
    assert not [kind for kind, _, _ in reporter.artifacts if kind == "sample"]  # nothing recorded for it


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads fsync's file from /proc")
def test_the_final_model_reaches_the_disk_before_final_is_renamed_into_place(
        tiny_model, counting_data, tmp_path: Path, monkeypatch) -> None:
    """final/ was renamed into place with none of its files fsynced: a power loss soon after could leave a
    final/ of empty files, which the playground and export then read as the trained model."""
    events = record_syncs(monkeypatch)
    run_dir = tmp_path / "run"
    config = make_config(tiny_model, train={"max_steps": 2}, checkpoint={"every_steps": 2})
    run_training(config, data_path=counting_data, run_dir=run_dir, reporter=RecordingReporter(Commands()),
                 commands=Commands())
    assert (run_dir / "final" / "adapter_model.safetensors").is_file()
    assert unsynced_before_publishing(events, run_dir / "final") == []


def test_a_full_disk_while_saving_final_is_the_one_disk_full_line_and_leaves_no_staging(
        tiny_model, counting_data, tmp_path: Path, monkeypatch) -> None:
    """A disk that filled while final/ was written failed the run with safetensors' own "SafetensorError:
    Error while serializing: I/O error: No space left on device (os error 28)", a traceback, and a
    .staging-final left behind. Now it is the line a checkpoint's write gives, naming the last complete
    checkpoint, which stays as it was; the worker records that line as it is."""
    from safetensors import SafetensorError

    from spark_trainer.jobs.finish import disk_full_finish
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    def full_disk(self, model, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "adapter_model.safetensors").write_bytes(b"\0" * 1024)  # cut short
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(CausalLMRecipe, "save_final", full_disk)
    run_dir = tmp_path / "run"
    config = make_config(tiny_model, train={"max_steps": 4}, checkpoint={"every_steps": 2})
    reporter = RecordingReporter(Commands())

    with pytest.raises(DiskFull) as raised:
        run_training(config, data_path=counting_data, run_dir=run_dir, reporter=reporter, commands=Commands())

    message = str(raised.value)
    assert message.startswith(f"disk full at {run_dir}: "), message
    assert message.endswith("free; the final model was not saved; the last complete checkpoint is still "
                            "step-00000004. Free some space, then resume the run"), message
    assert "\n" not in message and "Safetensor" not in message, message
    assert not (run_dir / ".staging-final").exists() and not (run_dir / "final").exists()
    assert [read_state(p)["step"] for p in list_checkpoints(run_dir)] == [2, 4]
    assert not [kind for kind, _, _ in reporter.artifacts if kind == "final"]
    assert disk_full_finish(raised.value, run_dir).error == message


def test_a_read_only_disk_while_saving_final_is_one_io_error_line(tiny_model, counting_data, tmp_path: Path,
                                                                  monkeypatch) -> None:
    """safetensors words EROFS in its own type too; a bug of the recipe's own keeps its error."""
    from safetensors import SafetensorError

    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    def read_only(self, model, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        raise SafetensorError("Error while serializing: I/O error: Read-only file system (os error 30)")

    monkeypatch.setattr(CausalLMRecipe, "save_final", read_only)
    run_dir = tmp_path / "run"
    config = make_config(tiny_model, train={"max_steps": 2}, checkpoint={"every_steps": 2})
    with pytest.raises(DiskFull) as raised:
        run_training(config, data_path=counting_data, run_dir=run_dir, reporter=RecordingReporter(Commands()),
                     commands=Commands())
    message = str(raised.value)
    assert message.startswith(f"I/O error writing {run_dir / '.staging-final'}: Error while serializing: I/O error: "
                              "Read-only file system (os error 30) ("), message
    assert message.endswith(" free); the final model was not saved; the last complete checkpoint is still "
                            "step-00000002. Once the disk can be written again, resume the run"), message
    assert not (run_dir / ".staging-final").exists()

    def a_bug(self, model, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        raise KeyError("adapter")

    monkeypatch.setattr(CausalLMRecipe, "save_final", a_bug)
    with pytest.raises(KeyError):
        run_training(config, data_path=counting_data, run_dir=tmp_path / "run2", reporter=RecordingReporter(Commands()),
                     commands=Commands())
    assert not (tmp_path / "run2" / ".staging-final").exists()


def _agree(rank: int, world: int, init: str, heard: list[str | None], out: str) -> None:
    """One process of `_agree`'s group: what `agreed_stop` says when this one heard `heard[rank]`."""
    import torch.distributed as dist

    from spark_trainer.training.reporting import StopKind
    from spark_trainer.training.side_work import SideWork, cpu_group

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        work = SimpleNamespace(stop_group=cpu_group())
        said = []
        for kind in heard:  # one step each: process 0 hears nothing, the others what `heard` says
            commands = Commands()
            if rank and kind is not None:
                commands.request_stop(StopKind(kind))
            said.append(SideWork.agreed_stop(work, commands))
        Path(out, f"rank{rank}").write_text(repr(said))
    finally:
        dist.destroy_process_group()


def test_every_process_stops_at_the_step_any_of_them_heard_a_stop_on_a_cpu_group(tmp_path: Path) -> None:
    """The flag went over the GPUs' group as a GPU tensor, and reading it back each step made every
    process wait for its GPU to finish every queued step. It goes over a gloo group of host tensors now;
    the stop any process heard still ends the step on all of them (a pause over a cancel, as before)."""
    import torch.multiprocessing as mp

    heard = [None, "cancel", "pause"]
    mp.spawn(_agree, args=(2, f"file://{tmp_path / 'rendezvous'}", heard, str(tmp_path)), nprocs=2, join=True)
    assert [(tmp_path / f"rank{r}").read_text() for r in (0, 1)] == [repr(heard)] * 2
