"""`spark-trainer bench lora --preset tiny` runs all three engines end to end on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _bench(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spark_trainer", "--json", "bench", "lora", "--preset", "tiny",
                           *extra], capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # a benchmark (three engines in a subprocess, ~20 s quiet): run with `make test-slow`
def test_bench_lora_tiny_prints_figures_and_ratios_for_both_engines():
    done = _bench("--steps", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)  # stdout holds only the JSON document
    assert set(report["engines"]) == {"ours", "packed", "padded"}
    assert report["engines"]["ours"]["examples_apart"] and not report["engines"]["packed"]["examples_apart"]
    for figures in report["engines"].values():
        assert figures["tokens_per_s"] > 0 and figures["tokens"] > 0
        assert 0 < figures["packing_efficiency"] <= 1 and "mfu" in figures and "compile_warmup_s" in figures
    assert set(report["ratios"]) == {"ours_vs_packed", "ours_vs_padded"}
    ours = report["engines"]["ours"]
    # Our side ran as a run with the run file's defaults: compile auto (eager on the CPU), best-fit rows.
    assert ours["compile_setting"] == "auto" and not ours["compiled"] and ours["compile_warmup_s"] is None
    assert ours["packing_efficiency"] > report["engines"]["padded"]["packing_efficiency"]
    assert report["engines"]["packed"]["packing_efficiency"] == 1.0
    assert report["flops_per_token"] > 0 and report["peak_flops"] is None  # no MFU on a CPU


@pytest.mark.slow
def test_bench_lora_tiny_full_text_report():
    done = subprocess.run([sys.executable, "-m", "spark_trainer", "bench", "lora", "--preset", "tiny"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "real tokens/s" in done.stdout and "ours vs packed:" in done.stdout and "ours vs padded:" in done.stdout


def test_bench_rejects_bad_arguments():
    done = _bench("--steps", "0")
    assert done.returncode == 2 and "--steps" in done.stderr and ">= 1" in done.stderr
