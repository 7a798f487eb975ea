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
