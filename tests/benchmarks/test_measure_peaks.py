"""benchmarks/measure_peaks.py and calibrate_estimate.py, the VRAM-estimate half of gpu_check.sh, run
here on the CPU with the tiny preset: a configuration trains through the engine, its figures go
through the parent's estimate parts into estimate_peaks.json, and the calibration fits them and
writes a constants file the estimate reads. Only the CUDA memory counters are stood in for (there
is no GPU here), so an API drift in the engine or the estimate surfaces here, not during a lease."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from spark_trainer import estimate
from spark_trainer.bench.workload import PRESETS

REPO = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measured_peaks_become_a_calibration_the_estimate_reads(tmp_path, monkeypatch) -> None:
    import torch

    peaks = _load("measure_peaks")
    tiny = replace(PRESETS["tiny"], num_layers=1)
    monkeypatch.setattr(peaks, "CONFIGS", {"lora-b4": (tiny, {"method": "lora"}, 4),
                                           "full-b2": (tiny, {"method": "full"}, 2)})
    write = peaks.write_model_folder
    monkeypatch.setattr(peaks, "write_model_folder", lambda p, dest, _device, _dtype: write(
        p, dest, torch.device("cpu"), torch.float32))
    reserved = {"lora-b4": 300 * 2**20, "full-b2": 200 * 2**20}
    name = {}
    for counter in ("empty_cache", "reset_peak_memory_stats"):
        monkeypatch.setattr(torch.cuda, counter, lambda: None)
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda: reserved[name["now"]])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: reserved[name["now"]] // 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _i=0: "no GPU (test)")

    def child(cmd, **_kw):  # the child process's role, run in this one
        name["now"] = cmd[cmd.index("--one") + 1]
        result = peaks.run_config(name["now"], int(cmd[cmd.index("--steps") + 1]))
        assert result["status"] == "completed"
        return subprocess.CompletedProcess(cmd, 0, stdout="RESULT " + json.dumps(result), stderr="")

    monkeypatch.setattr(peaks.subprocess, "run", child)
    monkeypatch.setattr(peaks, "RESULTS", tmp_path)
    monkeypatch.delenv("OUT", raising=False)
    monkeypatch.setattr(sys, "argv", ["measure_peaks.py", "--steps", "1", "--context-bytes", str(2**29)])
    assert peaks.main() == 0
    document = json.loads((tmp_path / "estimate_peaks.json").read_text())
    points = {p["name"]: p for p in document["points"]}
    assert set(points) == {"lora-b4", "full-b2"}
    assert points["lora-b4"]["measured_bytes"] == 300 * 2**20 + 2**29
    assert points["full-b2"]["method"] == "full" and points["full-b2"]["batch_size"] == 2
    assert points["lora-b4"]["parts"]["activations"] > 0 and points["full-b2"]["parts"]["trainable+optimizer"] > points["lora-b4"]["parts"]["trainable+optimizer"]

    calibrate = _load("calibrate_estimate")
    monkeypatch.setattr(calibrate, "ROOT", tmp_path)
    (tmp_path / "spark_trainer").mkdir()
    monkeypatch.setattr(sys, "argv", ["calibrate_estimate.py", "--peaks", str(tmp_path / "estimate_peaks.json"),
                                      "--write"])
    calibrate.main()  # two points fit exactly: its verdict is not what is tested here
    namespace: dict = {}
    exec((tmp_path / "spark_trainer" / "estimate_calibration.py").read_text(), namespace)
    fitted = estimate.Calibration(**namespace["CALIBRATION"])
    assert fitted.measured_points == 2 and "no GPU (test)" in fitted.source
    for point in points.values():  # two points, two constants: the fit goes through both
        assert abs(calibrate.predict(point["parts"], fitted) / point["measured_bytes"] - 1) < 1e-6


def test_each_measured_peak_is_on_disk_before_the_next_configuration_ends(tmp_path, monkeypatch) -> None:
    # gpu_check.sh gives the measurements a deadline (`timeout` kills this process and its children): the
    # configurations that finished before it must be in estimate_peaks.json (they were all lost before).
    import torch

    peaks = _load("measure_peaks")
    monkeypatch.setattr(peaks, "CONFIGS", {"first": None, "killed": None})
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _i=0: "no GPU (test)")
    tiny = PRESETS["tiny"]
    finished = {"name": "first", "status": "completed", "seconds": 1.0, "peak_reserved_bytes": 2**28,
                "peak_allocated_bytes": 2**27, "model_config": tiny.model_config().to_dict(),
                "config": {"train": {"batch_size": 4, "gradient_checkpointing": False, "compile": "auto"},
                           "recipe_config": {"method": "lora", "seq_len": 128, "lora_r": 8}}}
    on_disk: list = []

    def child(cmd, **_kw):
        if cmd[cmd.index("--one") + 1] == "first":
            return subprocess.CompletedProcess(cmd, 0, stdout="RESULT " + json.dumps(finished), stderr="")
        saved = tmp_path / "estimate_peaks.json"
        on_disk.extend(json.loads(saved.read_text())["points"] if saved.exists() else [])
        raise KeyboardInterrupt  # the deadline's kill, while the second configuration runs

    monkeypatch.setattr(peaks.subprocess, "run", child)
    monkeypatch.setattr(peaks, "RESULTS", tmp_path)
    monkeypatch.delenv("OUT", raising=False)
    monkeypatch.setattr(sys, "argv", ["measure_peaks.py", "--steps", "1", "--context-bytes", "0", "--jobs", "1"])
    try:
        peaks.main()
    except KeyboardInterrupt:
        pass
    assert [p["name"] for p in on_disk] == ["first"]
    assert on_disk[0]["measured_bytes"] == 2**28 and on_disk[0]["parts"]["activations"] > 0
