"""`spark-trainer estimate RUN_FILE`: the setup form's number, and a micro-batch that fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spark_trainer import estimate

CONFIG = {"model_type": "llama", "hidden_size": 2048, "num_hidden_layers": 22, "intermediate_size": 5632,
          "vocab_size": 32000, "num_attention_heads": 32, "num_key_value_heads": 4, "tie_word_embeddings": False,
          "max_position_embeddings": 4096}


@pytest.fixture
def run_file(tmp_path: Path) -> Path:
    model = tmp_path / "models" / "llama-1b"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps(CONFIG))  # the estimate reads only the config
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({
        "name": "e", "recipe": "causal-lm", "base_model": "models/llama-1b", "dataset": "data.jsonl", "gpus": "auto",
        "train": {"batch_size": 8, "grad_accum": 2},
        "recipe_config": {"method": "lora", "lora_r": 16, "seq_len": 2048}}))
    return path


def test_estimate_shows_the_setup_forms_number_and_a_micro_batch_that_fits(cli, run_file: Path) -> None:
    done = cli("estimate", run_file, "--free-gib", "20", "--json")
    assert done.code == 0, done.err
    report = done.json()
    mapping = yaml.safe_load(run_file.read_text())
    form_number = estimate.estimate_for_config(mapping, run_file.parent / "models" / "llama-1b").total_bytes
    assert report["estimate_bytes"] == form_number
    s = report["suggestion"]
    budget = int(20 * estimate.GIB * 0.9)
    assert report["budget_bytes"] == budget
    # The largest micro-batch (up to the effective batch 16) whose estimate fits in 90% of 20 GiB.
    fits = [b for b in range(1, 17) if estimate.estimate_for_config(mapping, run_file.parent / "models" / "llama-1b",
                                                                   batch_size=b).total_bytes <= budget]
    assert 1 < s["micro_batch"] == max(fits) < 16
    assert s["micro_batch"] * s["grad_accum"] >= 16 and s["effective_batch"] == 16
    text = cli("estimate", run_file, "--free-gib", "20")
    assert text.code == 0 and f"train.batch_size {s['micro_batch']}" in text.out and "90% of" in text.out


def test_estimate_says_when_nothing_fits_and_without_a_gpu(cli, run_file: Path) -> None:
    tight = cli("estimate", run_file, "--free-gib", "1", "--json").json()
    assert tight["suggestion"] is None and "gradient_checkpointing" in tight["note"]
    cpu = cli("estimate", run_file, "--gpus", "cpu", "--json").json()
    assert cpu["suggestion"] is None and "CPU" in cpu["note"] and cpu["estimate_bytes"] > 0


def test_full_fine_tuning_names_where_its_weights_are_counted_not_weights_0_b(cli, run_file: Path) -> None:
    # docswalk: `estimate --set recipe_config.method=full` printed "weights 0 B" beside the optimizer.
    full = cli("estimate", run_file, "--gpus", "cpu", "--set", "recipe_config.method=full")
    assert full.code == 0, full.err
    peak = next(line for line in full.out.splitlines() if "estimated peak" in line)
    assert "weights 0 B" not in peak and "weights+gradients+optimizer " in peak, peak
    assert cli("estimate", run_file, "--gpus", "cpu", "--set", "recipe_config.method=full", "--json").json()[
        "parts"]["weights"] == 0  # the JSON keeps every part, as counted
    lora = next(line for line in cli("estimate", run_file, "--gpus", "cpu").out.splitlines() if "estimated peak" in line)
    assert "(weights " in lora and "trainable+optimizer " in lora, lora


def test_a_run_file_without_gpus_is_estimated_on_the_default_gpus_setting(cli, run_file: Path) -> None:
    """estimate planned a file without gpus: for `auto` while `train` gives it Settings' Default GPUs."""
    spec = yaml.safe_load(run_file.read_text())
    del spec["gpus"]
    run_file.write_text(yaml.safe_dump(spec))
    assert cli("settings", "default_gpus", "cpu:2").code == 0
    done = cli("estimate", run_file, "--json")
    assert done.code == 0, done.err
    assert done.json()["note"].startswith("gpus: cpu:2 trains on the CPU")


def test_estimate_bad_input_is_one_line_and_exit_2(cli, run_file: Path, tmp_path: Path) -> None:
    missing = cli("estimate", tmp_path / "nope.yaml")
    assert missing.code == 2 and "nope.yaml" in missing.err
    bad = cli("estimate", run_file, "--set", "train.batch_size=0")
    # The value came from --set: the file's line of `batch_size: 8` was named before.
    assert bad.code == 2 and bad.err.startswith("error: --set train.batch_size: got 0"), bad.err
    zero = cli("estimate", run_file, "--free-gib", "0")
    assert zero.code == 2 and "--free-gib" in zero.err


def test_calibration_is_fitted_from_measured_peaks() -> None:
    shape = estimate.ModelShape.from_config(CONFIG)
    raw = estimate.Calibration(1.0, 0)  # parts as the fit sees them: scale 1, no overhead
    true_k, true_c = 0.62, int(1.3 * estimate.GIB)
    points = []
    for batch, method in ((8, "lora"), (2, "lora"), (8, "qlora"), (4, "full")):
        parts = estimate.estimate_peak_memory(shape, method=method, batch_size=batch, seq_len=2048,
                                              calibration=raw).parts
        measured = sum(v for k, v in parts.items() if k != "activations") + true_k * parts["activations"] + true_c
        points.append({"measured_bytes": measured, "parts": parts})
    fitted = estimate.fit_calibration(points)
    assert fitted.activation_scale == pytest.approx(true_k, rel=1e-3)
    assert fitted.overhead_bytes == pytest.approx(true_c, rel=1e-3) and fitted.measured_points == 4
    again = estimate.estimate_peak_memory(shape, batch_size=2, seq_len=2048, calibration=fitted)
    assert again.total_bytes == pytest.approx(points[1]["measured_bytes"], rel=1e-3)
    with pytest.raises(estimate.BadInput, match="at least 2"):
        estimate.fit_calibration(points[:1])


def test_chunked_loss_shrinks_the_logits_term_unless_the_head_is_adapted() -> None:
    shape = estimate.ModelShape.from_config(CONFIG)
    chunked = estimate.estimate_peak_memory(shape, batch_size=8, seq_len=2048)
    full = estimate.estimate_peak_memory(shape, batch_size=8, seq_len=2048, head_adapted=True)
    assert full.parts["logits"] == 8 * 2048 * 32000 * 8
    assert chunked.parts["logits"] == 1024 * 32000 * 12
