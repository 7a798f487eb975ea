"""The causal-LM VRAM estimate's attention term: eager attention keeps an s^2 tensor per layer."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer import estimate


def _folder(tmp_path: Path, config) -> Path:
    config.save_pretrained(tmp_path / config.model_type)
    return tmp_path / config.model_type


def test_eager_attention_keeps_one_probability_tensor_per_layer_as_the_estimate_counts():
    """Counted on a real model: the s^2 tensors a tiny eager Bloom saves for its backward pass."""
    import torch
    from transformers import AutoModelForCausalLM, BloomConfig

    config = BloomConfig(n_layer=2, hidden_size=32, n_head=4, vocab_size=100)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").train()
    batch, seq = 2, 64
    saved: dict[tuple, int] = {}

    def keep(t):
        if t.dim() == 4 and tuple(t.shape[-2:]) == (seq, seq):
            saved[(t.data_ptr(), tuple(t.shape))] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        model(input_ids=torch.randint(0, 100, (batch, seq)), use_cache=False)
    shape = estimate.ModelShape.from_config(config.to_dict())
    working = batch * 4 * seq * seq * 8  # the working layer's fp32 scores and softmax, not saved
    assert estimate.attention_scores(shape, batch, seq, True, False) == sum(saved.values()) + working
    assert len(saved) == 2  # one per layer
    assert estimate.attention_scores(shape, batch, seq, True, True) == sum(saved.values()) // 2 + working


def test_a_model_without_sdpa_is_estimated_with_its_attention_scores(tmp_path):
    from transformers import BloomConfig, LlamaConfig

    run = {"recipe": "causal-lm", "train": {"batch_size": 4}, "recipe_config": {"seq_len": 1024}}
    bloom = estimate.estimate_for_config(run, _folder(tmp_path, BloomConfig(n_layer=4, hidden_size=256, n_head=8)))
    llama = estimate.estimate_for_config(run, _folder(tmp_path, LlamaConfig(num_hidden_layers=4, hidden_size=256,
                                                                            num_attention_heads=8)))
    assert "attention scores" not in llama.parts
    assert bloom.parts["attention scores"] == 4 * 8 * 1024 * 1024 * (4 * 2 + 8)  # bf16 probabilities, 4 layers
    assert "attention scores" in bloom.describe()
    # A config transformers cannot read still gets the rest of the estimate.
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"model_type": "not-a-model", "hidden_size": 64,
                                                 "num_hidden_layers": 2}))
    assert "attention scores" not in estimate.estimate_for_config(run, odd).parts


def test_an_mpt_model_is_estimated_from_its_own_names():
    """MPT's config.json says d_model / n_heads / n_layers / expansion_ratio (transformers maps them with
    attribute_map); the estimate refused it ('no hidden_size / num_hidden_layers')."""
    from transformers import MptConfig

    config = MptConfig(d_model=256, n_heads=8, n_layers=4, expansion_ratio=2, max_seq_len=2048, vocab_size=1000)
    shape = estimate.ModelShape.from_config(config.to_dict())
    assert (shape.hidden_size, shape.num_heads, shape.num_layers, shape.intermediate_size) == (256, 8, 4, 512)
    assert shape.vocab_size == 1000


def test_an_mpt_model_trains_eager_so_its_estimate_counts_each_heads_scores(tmp_path):
    from transformers import MptConfig

    run = {"recipe": "causal-lm", "train": {"batch_size": 4}, "recipe_config": {"seq_len": 1024}}
    mpt = estimate.estimate_for_config(run, _folder(tmp_path, MptConfig(d_model=256, n_heads=8, n_layers=4)))
    assert mpt.parts["attention scores"] == 4 * 8 * 1024 * 1024 * (4 * 2 + 8)  # bf16 probabilities, 4 layers


def _stream_dtype(model_dir: Path, method: str):
    """The dtype of the residual stream (a layer's output hidden states) in a 16-bit training forward pass."""
    import torch

    from spark_trainer.recipes.causal_lm import CausalLMConfig
    from spark_trainer.recipes.causal_lm_model import load_model

    rc = CausalLMConfig.model_validate({"method": method, "lora_r": 4, "target_modules": "all-linear"})
    model = load_model(model_dir, rc, torch.device("cpu"), "bf16", "sdpa")
    ids = torch.randint(0, model.config.vocab_size, (2, 32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
    return hidden[1].dtype  # after the first layer


def test_full_fine_tuning_and_qlora_train_on_an_fp32_residual_stream_which_the_estimate_counts(tmp_path):
    """Their embeddings are fp32 (full: the master weights; QLoRA: peft's prepare_model_for_kbit_training), so
    the residual stream, whose tensors the backward pass keeps, is fp32 where LoRA's is bf16: on an H200 their activations
    came to 1.42x and 1.59x what the 16-bit formula gives (benchmarks/results/estimate_peaks_20261204-1301.json)."""
    import torch

    from spark_trainer.models.tiny import create_tiny_causal_lm

    model_dir = create_tiny_causal_lm(tmp_path / "tiny", hidden_size=64, num_layers=1, num_heads=2)
    assert _stream_dtype(model_dir, "lora") == torch.bfloat16
    assert _stream_dtype(model_dir, "qlora") == _stream_dtype(model_dir, "full") == torch.float32

    shape = estimate.ModelShape.from_folder(model_dir)
    raw = estimate.Calibration(1.0, 0, 0, "raw")

    def activations(method: str, **kw) -> int:
        return estimate.estimate_peak_memory(shape, method=method, batch_size=4, seq_len=256, calibration=raw,
                                             **kw).parts["activations"]

    lora = activations("lora")
    assert activations("qlora") == activations("full") == int(lora * estimate.FP32_STREAM)
    assert activations("dora") == lora
    assert activations("full", precision="fp32") == activations("lora", precision="fp32")  # all fp32 alike
    # With checkpointing each layer's input is what is kept: 4 bytes an element instead of 2.
    kept_lora = activations("lora", gradient_checkpointing=True) - lora // shape.num_layers
    kept_qlora = activations("qlora", gradient_checkpointing=True) - int(lora * estimate.FP32_STREAM) // shape.num_layers
    assert abs(kept_qlora - 2 * kept_lora) <= 2


def test_the_shipped_estimate_is_within_15_percent_of_every_peak_measured_on_a_gpu():
    """The peaks benchmarks/gpu_check.sh measured (benchmarks/results/estimate_peaks.json) against the estimate
    with the constants this version ships (spark_trainer/estimate_calibration.py), by the current formula."""
    import importlib.util

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    spec = importlib.util.spec_from_file_location("measure_peaks", root / "measure_peaks.py")
    peaks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peaks)
    document = json.loads((root / "results" / "estimate_peaks.json").read_text())
    cal = estimate.current_calibration()
    assert cal.measured_points == len(document["points"]) == 4
    for point in document["points"]:
        parts = peaks.parts_now(point)
        predicted = sum(v for k, v in parts.items() if k not in ("activations", "overhead")) \
            + cal.activation_scale * parts["activations"] + cal.overhead_bytes
        assert abs(predicted / point["measured_bytes"] - 1) <= 0.15, (point["name"], predicted, point["measured_bytes"])


def test_a_run_that_is_not_compiled_is_estimated_with_more_activations(tmp_path, monkeypatch):
    """The calibration is fitted to compiled runs, whose blocks recompute part of their activations; a run with
    compile off (or under FSDP, or where kernels cannot be built) keeps at least the formula's own."""
    from transformers import LlamaConfig

    from spark_trainer.training import compiling

    monkeypatch.setattr(compiling, "cannot_build", lambda **_: None)  # a machine that can build kernels
    folder = _folder(tmp_path, LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                           num_attention_heads=4, vocab_size=256))
    cal = estimate.Calibration(0.764, 0, 4, "test")

    def activations(**train) -> int:
        config = {"recipe": "causal-lm", "train": {"batch_size": 4, **train}, "recipe_config": {"seq_len": 128}}
        return estimate.estimate_for_config(config, folder, calibration=cal).parts["activations"]

    compiled = activations()
    assert activations(compile=True) == compiled
    eager = activations(compile=False)
    assert activations(sharding="fsdp") == eager
    assert abs(eager - compiled / 0.764 * estimate.EAGER_ACTIVATION_SCALE) <= 2 and eager > compiled
    monkeypatch.setattr(compiling, "cannot_build", lambda **_: "the packaged app cannot build compiled kernels")
    assert activations() == activations(compile=False)
