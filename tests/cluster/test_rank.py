"""The cluster-worker role refuses to train outside the process group the job was exported for."""

from __future__ import annotations

import pytest


def test_a_rank_outside_the_planned_group_refuses_before_writing(job, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = job("torchrun", 2, 1)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")  # started by hand, not by launch.sh: it would train alone as "rank 0"
    result = cli("cluster-worker", folder)
    assert result.code == 2 and "WORLD_SIZE is 1 but the job was exported for 2 processes" in result.err
    assert not (folder / "run" / "status.json").exists() and not (folder / "run" / "metrics.jsonl").exists()


def test_a_gpu_job_refuses_a_node_whose_torch_sees_no_gpu(job, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    folder = job("torchrun", 1, 2, gpus="auto")  # exported for GPUs
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = cli("cluster-worker", folder)
    assert result.code == 2 and "rank 0 on " in result.err and "exported for GPUs" in result.err
    assert "gpus: cpu" in result.err and not (folder / "run" / "status.json").exists()
    assert not (folder / "run" / "metrics.jsonl").exists()
