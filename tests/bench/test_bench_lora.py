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
    assert ours["step_s_median"] > 0 and len(ours["slowest_steps"]) == 2  # two timed steps
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


def test_repeats_take_turns_and_report_the_median_round(monkeypatch):
    """--repeats: engines alternate, each engine's figures come from its median round, and each ratio is
    the median of the per-round ratios (not a ratio of medians from different moments)."""
    from spark_trainer.bench import baselines, lora

    calls: list[str] = []
    speeds = {"ours": iter([100.0, 300.0, 200.0]), "packed": iter([50.0, 400.0, 100.0]),
              "padded": iter([10.0, 20.0, 40.0])}

    def figures(engine):
        calls.append(engine)
        return {"tokens_per_s": next(speeds[engine]), "tokens": 1, "seconds": 1.0, "peak_bytes": None,
                "examples_apart": engine == "ours", "packing_efficiency": 1.0, "compiled": False,
                "compile_setting": "auto", "compile_fallback": [], "evals_in_window": [], "checkpoints_in_window": []}

    monkeypatch.setattr(lora, "run_ours", lambda *a, **k: figures("ours"))
    monkeypatch.setattr(baselines, "run_trainer", lambda *a, packed, **k: figures("packed" if packed else "padded"))
    report = lora.bench_lora("tiny", steps=1, repeats=3)
    assert calls == ["ours", "packed", "padded"] * 3
    assert [report["engines"][e]["tokens_per_s"] for e in ("ours", "packed", "padded")] == [200.0, 100.0, 20.0]
    assert report["engines"]["ours"]["rounds_tokens_per_s"] == [100.0, 300.0, 200.0]
    # Rounds' ratios vs packed: 2.0, 0.75, 2.0 -> median 2.0; vs padded: 10, 15, 5 -> 10.
    assert report["ratios_by_round"]["ours_vs_packed"] == [2.0, 0.75, 2.0]
    assert report["ratios"] == {"ours_vs_packed": 2.0, "ours_vs_padded": 10.0}
    text = lora.format_report(report)
    assert "3 rounds, engines taking turns" in text and "median of 3 rounds: 2.00, 0.75, 2.00" in text



def test_the_window_s_spread_names_the_side_work_beyond_steady_steps():
    from spark_trainer.bench.lora import format_report, window_spread

    # Steps 3..8 after a warm-up that ended at step 2: 0.2 s each, but step 6 follows an evaluation (1.5 s).
    wall = {2: 10.0, 3: 10.2, 4: 10.4, 5: 10.6, 6: 12.1, 7: 12.3, 8: 12.5}
    spread = window_spread(wall, 3, 8)
    assert abs(spread["step_s_median"] - 0.2) < 1e-9
    assert abs(spread["beyond_steady_s"] - 1.3) < 1e-9  # 2.5 s for six steps of 0.2
    assert spread["slowest_steps"][0][0] == 6 and abs(spread["slowest_steps"][0][1] - 1.5) < 1e-9
    assert spread["step_s"] == [0.2, 0.2, 0.2, 1.5, 0.2, 0.2]  # steps 3..8, for a stall's pattern
    ours = {"tokens_per_s": 1.0, "peak_bytes": None, "examples_apart": True, "compiled": False,
            "compile_fallback": [], "compile_setting": "auto", "evals_in_window": [5], "checkpoints_in_window": [],
            **spread}
    report = {"preset": "tiny", "device": "cpu", "precision": "fp32", "seq_len": 8, "batch_size": 1,
              "median_len": 4, "steps": 6, "compile": "auto", "torch": "x", "repeats": 1,
              "engines": {"ours": ours}, "ratios": {}}
    assert "a steady step 0.200 s; the timed steps took 1.30 s beyond" in format_report(report)
    assert "slowest steps: 6 (1.50 s)" in format_report(report)
    assert "allocator retries" not in format_report(report)  # the CPU has no caching allocator
    ours["alloc_retries"] = 3  # the GPU's: times it freed its cache to allocate, each a wait for the device
    assert "checkpoints: 0, allocator retries: 3" in format_report(report)
