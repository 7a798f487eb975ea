"""The chunked linear + cross-entropy equals the plain logits path, in loss and in gradients."""

from __future__ import annotations

import pytest

from spark_trainer.training.losses import (
    IGNORE,
    chunked_linear_cross_entropy,
    find_hidden_head,
    install_hidden_head,
    linear_cross_entropy,
    logits_out,
    plain_linear_cross_entropy,
)


def _inputs(n: int = 300, h: int = 48, vocab: int = 257, bias: bool = False, seed: int = 0):
    import torch

    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=gen, dtype=torch.float64).requires_grad_()
    weight = (0.3 * torch.randn(vocab, h, generator=gen, dtype=torch.float64)).requires_grad_()
    b = (0.1 * torch.randn(vocab, generator=gen, dtype=torch.float64)).requires_grad_() if bias else None
    targets = torch.randint(0, vocab, (n,), generator=gen)
    targets[::7] = IGNORE  # prompts, padding and example ends are ignored
    return hidden, weight, b, targets


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("chunk", [64, 299])  # several chunks with a ragged last one, and a last chunk of one token
def test_chunked_loss_and_gradients_equal_the_plain_path(bias: bool, chunk: int) -> None:
    import torch

    hidden, weight, b, targets = _inputs(bias=bias)
    expected = plain_linear_cross_entropy(hidden, weight, targets, b)
    want = torch.autograd.grad(expected * 0.37, [hidden, weight] + ([b] if bias else []))
    got_loss = chunked_linear_cross_entropy(hidden, weight, targets, b, chunk=chunk)
    got = torch.autograd.grad(got_loss * 0.37, [hidden, weight] + ([b] if bias else []))
    assert float(got_loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    for g, w in zip(got, want, strict=True):
        # fp32 softmax inside: agreement to about 1e-6 of the gradient's scale
        assert torch.allclose(g, w, rtol=1e-5, atol=1e-6 * float(w.abs().max())), float((g - w).abs().max())


def test_logits_one_chunk_holds_take_the_plain_loss(monkeypatch) -> None:
    """A chunk holds CHUNK_LOGITS logits (fewer tokens for a larger vocabulary); when one holds them
    all (a CPU model's small vocabulary) the plain loss's fused log-softmax runs instead."""
    from spark_trainer.training import losses

    hidden, weight, _, targets = _inputs()  # 300 tokens x 257 classes
    loss = chunked_linear_cross_entropy(hidden, weight, targets)
    assert "ChunkedLinearCrossEntropy" not in type(loss.grad_fn).__name__
    monkeypatch.setattr(losses, "CHUNK_LOGITS", 64 * 257)  # chunks of 64 tokens
    chunked = chunked_linear_cross_entropy(hidden, weight, targets)
    assert "ChunkedLinearCrossEntropy" in type(chunked.grad_fn).__name__
    assert float(chunked.detach()) == pytest.approx(float(loss.detach()), rel=1e-6)


def test_frozen_head_gets_no_weight_gradient_and_all_ignored_gives_zero() -> None:
    import torch

    hidden, weight, _, targets = _inputs(n=50)
    weight = weight.detach()
    loss = chunked_linear_cross_entropy(hidden, weight, torch.full_like(targets, IGNORE), chunk=16)
    (grad,) = torch.autograd.grad(loss, [hidden])
    assert float(loss.detach()) == 0.0 and float(grad.abs().max()) == 0.0
    with torch.no_grad():  # evaluation takes the gradient-free path: same value
        hidden, weight, _, targets = _inputs(n=50)
        assert float(chunked_linear_cross_entropy(hidden, weight, targets, chunk=16)) == pytest.approx(
            float(plain_linear_cross_entropy(hidden, weight, targets)), rel=1e-9)


def test_an_evaluation_never_runs_liger_s_kernel_which_computes_gradients_anyway(monkeypatch) -> None:
    """liger's fused loss computes the gradients in its forward pass: under no_grad (an evaluation) that was
    a second [tokens, vocab] x [vocab, h] matmul per chunk, for nothing. Training still takes it."""
    import torch

    from spark_trainer.training import losses

    called: list[bool] = []
    monkeypatch.setattr(losses, "liger_linear_cross_entropy",
                        lambda h, w, t, b=None: called.append(True) or plain_linear_cross_entropy(h, w, t, b))
    monkeypatch.setattr(losses, "CHUNK_LOGITS", 64 * 257)  # several chunks
    hidden, weight, b, targets = _inputs(bias=True)
    want = float(plain_linear_cross_entropy(hidden.detach(), weight.detach(), targets, b.detach()))
    with torch.no_grad():
        got = linear_cross_entropy(hidden, weight, targets, b, kernel="liger")
    assert not called and float(got) == pytest.approx(want, rel=1e-6)
    linear_cross_entropy(hidden, weight, targets, b, kernel="liger")
    assert called == [True]


@pytest.mark.parametrize("kernel", ["chunked", "plain"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_fp32_hidden_states_and_a_half_precision_head(dtype: str, kernel: str, monkeypatch) -> None:
    # A mixed-precision run's model returns fp32 outputs (accelerate) while the frozen base head is
    # stored in bf16/fp16; evaluation used to fail with "expected m1 and m2 to have the same dtype".
    # The matmul runs in the head's dtype, as under autocast; the loss and the gradient reaching the
    # fp32 hidden states are fp32.
    import torch

    from spark_trainer.training import losses

    monkeypatch.setattr(losses, "CHUNK_LOGITS", 64 * 257)  # several chunks, not the plain shortcut
    hidden, weight, b, targets = _inputs(bias=True)
    hidden = hidden.detach().float().requires_grad_()
    low, low_b = weight.detach().to(getattr(torch, dtype)), b.detach().to(getattr(torch, dtype))
    want = plain_linear_cross_entropy(hidden.detach().to(low.dtype), low, targets, low_b)
    with torch.no_grad():  # evaluation
        got = linear_cross_entropy(hidden, low, targets, low_b, kernel=kernel)
    assert got.dtype == torch.float32 and float(got) == pytest.approx(float(want), rel=1e-3)
    loss = linear_cross_entropy(hidden, low, targets, low_b, kernel=kernel)  # training
    (grad,) = torch.autograd.grad(loss, [hidden])
    assert float(loss.detach()) == pytest.approx(float(want), rel=1e-3)
    assert grad.dtype == torch.float32 and bool(torch.isfinite(grad).all()) and float(grad.abs().max()) > 0


def test_model_with_hidden_head_gives_the_plain_loss_and_lora_gradients(tiny_model) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from spark_trainer.recipes.causal_lm import CausalLMConfig
    from spark_trainer.recipes.causal_lm_model import adapt, packed_loss
    from spark_trainer.training.packing import Example, collate, pack

    def build():
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa")
        return adapt(model, CausalLMConfig(lora_r=4))  # all-linear: the head itself stays plain

    plain, fused = build(), build()
    head = install_hidden_head(fused, "cpu")
    assert head is not None and find_hidden_head(fused) is head
    for a, b in zip(plain.parameters(), fused.parameters(), strict=True):
        b.data.copy_(a.data)
        if a.requires_grad:  # LoRA B starts at zero: give it values so every gradient path is live
            torch.manual_seed(a.numel())
            a.data.normal_(0, 0.02)
            b.data.copy_(a.data)
    rows = pack([Example(list(range(3, 3 + n)), [True] * n) for n in (40, 23, 61, 9)], 128)
    batch = collate(rows, 0, pad_to=128)
    loss_plain, n_plain = packed_loss(plain, batch, "sdpa")
    loss_fused, n_fused = packed_loss(fused, batch, "sdpa")
    assert int(n_plain) == int(n_fused)
    assert float(loss_fused) == pytest.approx(float(loss_plain), rel=1e-5)
    loss_plain.backward()
    loss_fused.backward()
    grads = [(a.grad, b.grad) for a, b in zip(plain.parameters(), fused.parameters(), strict=True) if a.requires_grad]
    assert grads and all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in grads)
    # Generation sees real logits again, and the state dict keeps the head's name.
    with logits_out(fused), torch.no_grad():
        logits = fused(input_ids=batch["input_ids"][:, :5]).logits
    assert logits.shape[-1] == fused.get_base_model().config.vocab_size
    assert any(k.endswith("lm_head.weight") for k in fused.state_dict())


def test_fused_layer_kernels_are_opt_in_and_need_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    from spark_trainer.errors import ConfigError
    from spark_trainer.training.kernels import apply_fused_kernels

    assert apply_fused_kernels(object(), "cuda") is None  # nothing requested: nothing touched
    monkeypatch.setenv("SPARK_TRAINER_LIGER_KERNELS", "rms_norm,swiglu")
    assert "need CUDA" in apply_fused_kernels(object(), "cpu")
    monkeypatch.setenv("SPARK_TRAINER_LIGER_KERNELS", "rms_norm,flash")
    with pytest.raises(ConfigError, match="unknown kernel 'flash'"):
        apply_fused_kernels(object(), "cuda")
