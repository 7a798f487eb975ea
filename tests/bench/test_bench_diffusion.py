"""`spark-trainer bench diffusion --preset tiny`: our recipe against the diffusers example loop on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _bench(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spark_trainer", "--json", "bench", "diffusion", "--preset", "tiny",
                           *extra], capture_output=True, text=True, timeout=900)


@pytest.mark.slow  # about 30 s on a quiet 2-core machine, minutes on a busy one
def test_bench_diffusion_tiny_reports_images_per_second_of_both_engines_and_their_ratio():
    done = _bench("--steps", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)  # stdout holds only the JSON document
    assert set(report["engines"]) == {"ours", "example"}
    for figures in report["engines"].values():
        assert figures["images_per_s"] > 0 and figures["images"] == 2 * report["batch_size"]
    ratio = report["ratios"]["ours_vs_example"]
    assert ratio == pytest.approx(report["engines"]["ours"]["images_per_s"] / report["engines"]["example"]["images_per_s"])


@pytest.mark.slow  # building 860M parameters, even on the meta device, takes a while
def test_sd15_preset_is_an_sd15_shaped_unet():
    from diffusers import UNet2DConditionModel

    from spark_trainer.bench.diffusion import PRESETS

    preset = PRESETS["sd15"]
    with __import__("torch").device("meta"):
        unet = UNet2DConditionModel(**preset.unet_config())
    n = sum(p.numel() for p in unet.parameters())
    assert 855e6 < n < 865e6, n  # SD 1.5's UNet has 859.5M parameters
    assert (preset.resolution, preset.batch_size, preset.lora_r) == (512, 8, 16)


def test_bench_diffusion_rejects_bad_arguments():
    done = _bench("--engines", "ours,nope")
    assert done.returncode == 2 and "unknown engine 'nope'" in done.stderr


def test_repeats_alternate_the_engines_and_quote_the_median_round(monkeypatch):
    from spark_trainer.bench import diffusion

    speeds = {"ours": iter([4.0, 1.0, 3.0]), "example": iter([2.0, 2.0, 2.0])}
    calls: list[str] = []

    def fake(engine):
        def run(*a, **k):
            calls.append(engine)
            return {"images_per_s": next(speeds[engine]), "images": 1, "seconds": 1.0, "peak_bytes": None}
        return run

    monkeypatch.setattr(diffusion, "run_ours", fake("ours"))
    monkeypatch.setattr(diffusion, "run_example_loop", fake("example"))
    report = diffusion.bench_diffusion("tiny", steps=1, repeats=3)
    assert calls == ["ours", "example"] * 3
    assert report["engines"]["ours"]["images_per_s"] == 3.0
    assert report["ratios"] == {"ours_vs_example": 1.5} and report["ratios_by_round"]["ours_vs_example"] == [2.0, 0.5, 1.5]
    assert "median of 3 rounds: 2.00, 0.50, 1.50" in diffusion.format_report(report)


@pytest.mark.slow  # dynamo traces the tiny UNet's declared blocks (the eager backend: no kernels built)
def test_our_side_compiles_as_a_run_does_and_with_declared_blocks_reports_them():
    import os

    env = {**os.environ, "SPARK_TRAINER_COMPILE_BACKEND": "eager", "SPARK_TRAINER_COMPILE_REGIONS": "declared"}
    done = subprocess.run([sys.executable, "-m", "spark_trainer", "--json", "bench", "diffusion", "--preset", "tiny",
                           "--steps", "1", "--engines", "ours", "--compile"], capture_output=True, text=True,
                          timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    ours = json.loads(done.stdout)["engines"]["ours"]
    assert ours["compiled"] and ours["compiled_blocks"] == 4 and ours["warmup_steps_s"] > 0  # its transformer blocks


def test_the_report_says_what_was_compiled_and_what_the_warm_up_steps_took():
    from spark_trainer.bench.diffusion import format_report

    ours = {"images_per_s": 60.0, "images": 160, "seconds": 2.7, "peak_bytes": 8 * 2**30, "compiled": True,
            "compiled_blocks": 0, "warmup_steps_s": 231.5}
    report = {"preset": "sd15", "device": "gpu", "precision": "bf16", "resolution": 512, "batch_size": 8, "lora_r": 16,
              "steps": 20, "warmup_steps": 6, "compile": True, "torch": "x", "repeats": 1, "engines": {"ours": ours},
              "ratios": {}}
    assert "ours: compiled the whole UNet; the 6 warm-up steps (compile included) took 231.5 s" in format_report(report)
    ours["compiled_blocks"] = 16
    assert "compiled 16 declared blocks" in format_report(report)
