"""The accelerator a run gets: the GPU memory cap (SPARK_TRAINER_CUDA_MEMORY_FRACTION)."""

from __future__ import annotations

import pytest

from spark_trainer.errors import ConfigError
from spark_trainer.training.accel import cap_gpu_memory


@pytest.fixture
def capped(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, int]]:
    """torch's own device check, without a GPU: it refused the plain "cuda" device of a one-process run."""
    import torch
    from torch.cuda._utils import _get_device_index

    calls: list[tuple[float, int]] = []
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction",
                        lambda fraction, device=None: calls.append((fraction, _get_device_index(device))))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    return calls


def test_the_cap_applies_to_a_one_process_run_s_plain_cuda_device(capped, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("SPARK_TRAINER_CUDA_MEMORY_FRACTION", "0.25")
    cap_gpu_memory(torch.device("cuda"))
    cap_gpu_memory(torch.device("cuda", 1))
    assert capped == [(0.25, 0), (0.25, 1)]


def test_no_cap_unless_asked_and_a_bad_one_is_named(capped, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.delenv("SPARK_TRAINER_CUDA_MEMORY_FRACTION", raising=False)
    cap_gpu_memory(torch.device("cuda"))
    assert capped == []
    monkeypatch.setenv("SPARK_TRAINER_CUDA_MEMORY_FRACTION", "1.5")
    with pytest.raises(ConfigError, match="SPARK_TRAINER_CUDA_MEMORY_FRACTION must be in"):
        cap_gpu_memory(torch.device("cuda"))
