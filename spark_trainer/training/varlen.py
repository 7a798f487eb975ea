"""Attention over packed rows without a row-wide mask: each example attends to itself alone.

The block-diagonal mask (`packing.block_causal_mask`) makes sdpa compute a full row x row score
matrix of which only the diagonal blocks count: for rows of 512 tokens holding examples of about 90,
five sixths of the work is masked away, and the mask itself is built and read in every layer. Here
the examples are cut out of the rows instead (a "varlen" layout, as flash-attention's varlen kernels
take it, for sdpa on any device): examples of similar length are gathered into one padded batch and
given plain causal sdpa, so the work is about sum(length^2) rather than rows x row^2, and the
number of sdpa calls per layer is the number of distinct padded lengths, not of examples.

An example's window starts at its first token and runs on past its end into whatever follows:
causal attention never lets the example's own tokens see those, and their outputs are dropped.
The result equals the masked path (same loss and gradients to float tolerance,
tests/training/test_varlen.py). It applies no sliding window: a model whose window an example can
outgrow trains with the model's own masks instead (`models/attention.py`), as do models with their
own attention code, which would ignore the plan.

`ATTENTION` is registered with transformers' attention interface under that name (and a mask
function that builds no mask); the batch's `VarlenPlan` reaches every attention layer as the model
call's `varlen_plan` keyword. Not for torch.compile: the groups' shapes change from batch to batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ATTENTION = "spark_varlen"


def group_length(length: int) -> int:
    """The padded length of an example's group: rounded up to a multiple of 16, or of an eighth of
    the power of two below it for longer examples (65 -> 80, 130 -> 144, 400 -> 416): under an eighth
    more than the example, since long examples dominate the attention work. (Rounding by half steps,
    16, 24, 32, 48, ..., measured about a tenth slower per step on the CPU benchmark's length mix.)"""
    step = max(16, 1 << max(0, length.bit_length() - 4))
    return -(-length // step) * step


@dataclass(frozen=True)
class VarlenPlan:
    """Where each example of a [batch, row] layout sits, grouped by padded length.

    `gather` [W]: the flat token index behind each position of the groups' windows, group after
    group; `groups`: (offset in `gather`, examples, padded length P) per group, each example a
    window of P tokens from its first (past its end the window runs on into whatever follows,
    which causal attention never lets the example's own tokens see); `scatter` [tokens]: where each
    token's output sits among the windows'.
    """

    gather: Any
    groups: tuple[tuple[int, int, int], ...]
    scatter: Any


def plan(segment_ids: Any) -> VarlenPlan:
    """The plan for a collated batch: an example is a run of equal segment ids within a row (the
    padding at a row's end, -1, is one more run that attends to itself, as in the mask)."""
    import torch

    width = segment_ids.shape[1]
    flat = segment_ids.reshape(-1)
    tokens, device = flat.numel(), flat.device
    first = torch.ones_like(flat, dtype=torch.bool)
    first[1:] = flat[1:] != flat[:-1]
    first[::width] = True  # a row never continues the previous row's example
    starts = torch.nonzero(first).flatten()
    lengths = torch.diff(starts, append=torch.tensor([tokens], device=device))
    by_size: dict[int, list[int]] = {}
    for i, n in enumerate(lengths.tolist()):
        by_size.setdefault(group_length(n), []).append(i)
    windows, groups = [], []
    scatter = torch.empty_like(flat)
    offset = 0
    for size in sorted(by_size):
        members = torch.tensor(by_size[size], device=device)
        steps = torch.arange(size, device=device)[None, :]
        window = starts[members][:, None] + steps  # [n, size]
        keep = steps < lengths[members][:, None]
        places = offset + torch.arange(window.numel(), device=device).view_as(window)
        scatter[window[keep]] = places[keep]
        windows.append(window.clamp(max=tokens - 1).flatten())  # the last example's window stays in range
        groups.append((offset, len(members), size))
        offset += window.numel()
    return VarlenPlan(torch.cat(windows), tuple(groups), scatter)


def attention_forward(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0,
                      scaling: float | None = None, varlen_plan: VarlenPlan | None = None,
                      **kwargs: Any) -> tuple[Any, None]:
    """transformers' attention-function signature: query [B, H, L, D], key and value [B, Hkv, L, D];
    returns [B, L, H, D]. Without a plan (a model called outside `packed_loss`) it is plain sdpa.

    One gather per input and one scatter for the output, whatever the number of groups: their
    backward passes are single index_add calls (indexing with a [n, P] index, and a boolean mask
    for the output, cost more than the attention they save on the CPU)."""
    import torch
    import torch.nn.functional as F

    if kwargs.get("softcap") is not None:  # Gemma 2: sdpa has no logit softcapping (nor has the masked path)
        raise ValueError("attention logit softcapping is not available with recipe_config.attention varlen or sdpa")
    if varlen_plan is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,  # type: ignore[no-any-return]
                                      scaling=scaling, **kwargs)
    batch, heads, width, dim = query.shape
    kv_heads = key.shape[1]
    tokens = batch * width
    windows = [t.transpose(1, 2).reshape(tokens, t.shape[1], t.shape[3]).index_select(0, varlen_plan.gather)
               for t in (query, key, value)]  # [W, heads, dim] each
    pieces = []
    for offset, n, size in varlen_plan.groups:
        qg, kg, vg = (w[offset:offset + n * size].view(n, size, w.shape[1], w.shape[2]).transpose(1, 2)
                      for w in windows)  # [n, heads, P, dim]
        if kv_heads != heads:
            kg = kg.repeat_interleave(heads // kv_heads, dim=1)
            vg = vg.repeat_interleave(heads // kv_heads, dim=1)
        out = F.scaled_dot_product_attention(qg, kg, vg, dropout_p=dropout, scale=scaling, is_causal=True)
        pieces.append(out.transpose(1, 2).reshape(n * size, heads, -1))
    merged = torch.cat(pieces).index_select(0, varlen_plan.scatter)
    return merged.view(batch, width, heads, -1), None


def _no_mask(*_args: Any, **_kwargs: Any) -> None:
    return None


def register() -> str:
    """Make `ATTENTION` a name transformers models load with (idempotent); returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(ATTENTION, attention_forward)
    AttentionMaskInterface.register(ATTENTION, _no_mask)
    return ATTENTION
