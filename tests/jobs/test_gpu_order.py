"""Workers number GPUs as NVML does (issue 14, item 6): CUDA_DEVICE_ORDER=PCI_BUS_ID."""

from __future__ import annotations

import sys
from pathlib import Path

from spark_trainer.jobs import process


def test_worker_environment_orders_gpus_by_pci_bus(tmp_path: Path, monkeypatch) -> None:
    shown = "import os; print(os.environ['CUDA_DEVICE_ORDER'], os.environ['CUDA_VISIBLE_DEVICES'])"
    monkeypatch.setattr(process, "worker_command", lambda run_id, *extra: [sys.executable, "-c", shown])
    found = process.spawn_worker(1, tmp_path / "run", tmp_path / "home", [1, 0])
    process.wait_gone(found.pid, found.start_time, 30)
    assert process.log_tail(tmp_path / "run").strip() == "PCI_BUS_ID 1,0"
