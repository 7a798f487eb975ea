"""Varlen attention (examples cut out of packed rows) computes what the block-diagonal mask computes."""

from __future__ import annotations

import pytest

from spark_trainer.training import varlen
from spark_trainer.training.packing import block_causal_mask, collate, pack
from tests.training.test_packing import _examples

# Lengths across several groups: a one-token example, short ones sharing a group, long ones alone.
LENGTHS = [1, 5, 16, 17, 23, 40, 90, 130]


def _segments(width: int = 256):
    rows = pack(_examples(LENGTHS), width)
    return collate(rows, 0, pad_to=width)["segment_ids"]


def test_group_lengths_cover_each_example_with_less_than_an_eighth_more():
    for n in range(1, 5000):
        size = varlen.group_length(n)
        assert size >= n and size % 16 == 0 and size - n < max(16, n / 8), n
    assert [varlen.group_length(n) for n in (1, 16, 17, 65, 130, 257, 400, 512)] == [16, 16, 32, 80, 144, 288, 416, 512]


def test_plan_places_every_token_once_and_never_joins_two_rows():
    import torch

    # Two rows whose boundary falls inside equal segment ids: row 0 ends and row 1 starts with segment 0.
    segments = torch.stack([torch.zeros(128, dtype=torch.long), torch.zeros(128, dtype=torch.long)])
    assert varlen.plan(segments).groups == ((0, 2, 128),)

    segments = _segments(256)
    plan = varlen.plan(segments)
    tokens = segments.numel()
    assert sorted(set(plan.scatter.tolist())) == sorted(plan.scatter.tolist())  # one place per token
    assert (plan.gather[plan.scatter] == torch.arange(tokens)).all()  # and that place reads the token
    real = torch.zeros(plan.gather.numel(), dtype=torch.bool)
    real[plan.scatter] = True
    flat = segments.reshape(-1)
    examples = 0
    for offset, n, size in plan.groups:
        assert size == varlen.group_length(size)
        for r in range(n):
            window = plan.gather[offset + r * size:offset + (r + 1) * size]
            kept = real[offset + r * size:offset + (r + 1) * size]
            count = int(kept.sum())
            assert count > 0 and kept[:count].all() and not kept[count:].any()  # the example, then padding
            ids = window[:count]
            assert (ids == torch.arange(int(ids[0]), int(ids[0]) + count)).all()  # contiguous, in order
            assert len(set(flat[ids].tolist())) == 1 and len(set((ids // 256).tolist())) == 1  # one example, one row
            examples += 1
    assert examples == len(LENGTHS) + int((segments[:, -1] == -1).sum())  # and each row's padding is one more


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_attention_equals_the_masked_sdpa_with_gradients(kv_heads):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    segments = _segments(256)
    batch, width = segments.shape
    heads, dim = 4, 16
    query = torch.randn(batch, heads, width, dim, dtype=torch.float64, requires_grad=True)
    key = torch.randn(batch, kv_heads, width, dim, dtype=torch.float64, requires_grad=True)
    value = torch.randn(batch, kv_heads, width, dim, dtype=torch.float64, requires_grad=True)
    module = torch.nn.Module()
    module.num_key_value_groups = heads // kv_heads

    out, _ = varlen.attention_forward(module, query, key, value, None, scaling=0.25, varlen_plan=varlen.plan(segments))
    repeat = heads // kv_heads
    expected = F.scaled_dot_product_attention(query, key.repeat_interleave(repeat, 1), value.repeat_interleave(repeat, 1),
                                              attn_mask=block_causal_mask(segments), scale=0.25).transpose(1, 2)
    assert out.shape == (batch, width, heads, dim)
    torch.testing.assert_close(out, expected)
    weights = torch.randn_like(expected)
    grads = torch.autograd.grad((out * weights).sum(), (query, key, value))
    expected_grads = torch.autograd.grad((expected * weights).sum(), (query, key, value))
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want)


def test_packed_loss_and_lora_gradients_match_the_masked_path(tiny_model):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from spark_trainer.recipes.causal_lm_model import packed_loss

    varlen.register()
    batch = collate(pack(_examples(LENGTHS, vocab=200), 256), 0, pad_to=256)
    results = {}
    for attn in ("sdpa", varlen.ATTENTION):
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=attn, dtype=torch.float64)
        model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
        loss, count = packed_loss(model, batch, attn)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        results[attn] = (loss.detach(), int(count), grads)
    (masked_loss, masked_count, masked_grads), (loss, count, grads) = results["sdpa"], results[varlen.ATTENTION]
    assert count == masked_count == sum(LENGTHS) - len(LENGTHS)
    torch.testing.assert_close(loss, masked_loss)
    assert grads.keys() == masked_grads.keys() and len(grads) > 0
    for name, grad in grads.items():
        torch.testing.assert_close(grad, masked_grads[name], msg=name)


def test_a_saved_model_does_not_name_the_training_attention(tiny_model, tmp_path):
    """Exports load anywhere: the attention is a training-time choice, not part of the saved config."""
    import json

    from transformers import AutoModelForCausalLM

    varlen.register()
    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation=varlen.ATTENTION)
    assert model.config._attn_implementation == varlen.ATTENTION
    model.save_pretrained(tmp_path / "saved")
    assert varlen.ATTENTION not in (tmp_path / "saved" / "config.json").read_text()
    assert "attn_implementation" not in json.loads((tmp_path / "saved" / "config.json").read_text())


def test_logit_softcapping_is_refused_not_ignored():
    import torch

    query = torch.zeros(1, 2, 4, 8)
    with pytest.raises(ValueError, match="softcapping"):
        varlen.attention_forward(torch.nn.Module(), query, query, query, None, softcap=30.0,
                                 varlen_plan=varlen.plan(torch.zeros(1, 4, dtype=torch.long)))
