"""Attention over packed rows without a row-wide mask: each example attends to itself alone.

The block-diagonal mask (`packing.block_causal_mask`) makes sdpa compute a full row x row score
matrix of which only the diagonal blocks count: for rows of 512 tokens holding examples of about 90,
five sixths of the work is masked away, and the mask itself is built and read in every layer. Here
the examples are cut out of the rows instead (a "varlen" layout, as flash-attention's varlen kernels
take it, for sdpa on any device): examples of similar length are gathered into one padded batch and
given plain causal sdpa, so the work is about sum(length^2) rather than rows x row^2, and the
number of sdpa calls stays a handful per layer whatever the number of examples.

Padding sits at the end of each example, so causal attention never lets a real token see it; the
padded queries' outputs are dropped. The result equals the masked path (same loss and gradients to
float tolerance, tests/training/test_varlen.py).

`ATTENTION` is registered with transformers' attention interface under that name (and a mask
function that builds no mask); the batch's `VarlenPlan` reaches every attention layer as the model
call's `varlen_plan` keyword. Not for torch.compile: the groups' shapes change from batch to batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ATTENTION = "spark_varlen"


def group_length(length: int) -> int:
    """The padded length of an example's group: the next of 16, 24, 32, 48, 64, 96, ... (at most 1.5x
    the example, so at most 2.25x its attention work) and never fewer than the example."""
    size = 16
    while size < length:
        half = size // 2
        size = size + half if (size & (size - 1)) == 0 else size + size // 3
    return size


@dataclass(frozen=True)
class VarlenPlan:
    """Where each example of a [batch, row] layout sits, grouped by padded length.

    `groups`: (gather [n, P] flat token indices, keep [n, P] real-token flags) per padded length P;
    `inverse`: the permutation that puts the groups' real tokens back in row order.
    """

    groups: tuple[tuple[Any, Any], ...]
    inverse: Any
    shape: tuple[int, int]


def plan(segment_ids: Any) -> VarlenPlan:
    """The plan for a collated batch: an example is a run of equal segment ids within a row (the
    padding at a row's end, -1, is one more run that attends to itself, as in the mask)."""
    import torch

    batch, width = segment_ids.shape
    flat = segment_ids.reshape(-1)
    device = flat.device
    first = torch.ones_like(flat, dtype=torch.bool)
    first[1:] = flat[1:] != flat[:-1]
    first[::width] = True  # a row never continues the previous row's example
    starts = torch.nonzero(first).flatten()
    lengths = torch.diff(starts, append=torch.tensor([flat.numel()], device=device))
    padded = [group_length(n) for n in lengths.tolist()]
    by_size: dict[int, list[int]] = {}
    for i, size in enumerate(padded):
        by_size.setdefault(size, []).append(i)
    groups, order = [], []
    for size in sorted(by_size):
        members = torch.tensor(by_size[size], device=device)
        offsets = torch.arange(size, device=device)[None, :]
        count = lengths[members][:, None]
        keep = offsets < count
        gather = starts[members][:, None] + torch.minimum(offsets, count - 1)  # padding repeats the last token
        groups.append((gather, keep))
        order.append(gather[keep])
    inverse = torch.empty_like(flat)
    inverse[torch.cat(order)] = torch.arange(flat.numel(), device=device)
    return VarlenPlan(tuple(groups), inverse, (batch, width))


def attention_forward(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0,
                      scaling: float | None = None, varlen_plan: VarlenPlan | None = None,
                      **kwargs: Any) -> tuple[Any, None]:
    """transformers' attention-function signature: query [B, H, L, D], key and value [B, Hkv, L, D];
    returns [B, L, H, D]. Without a plan (a model called outside `packed_loss`) it is plain sdpa."""
    import torch
    import torch.nn.functional as F

    if varlen_plan is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,  # type: ignore[no-any-return]
                                      scaling=scaling, **kwargs)
    batch, heads, width, dim = query.shape
    kv_heads = key.shape[1]
    tokens = batch * width
    q = query.transpose(1, 2).reshape(tokens, heads, dim)
    k = key.transpose(1, 2).reshape(tokens, kv_heads, dim)
    v = value.transpose(1, 2).reshape(tokens, kv_heads, value.shape[-1])
    pieces = []
    for gather, keep in varlen_plan.groups:
        qg, kg, vg = (t[gather].transpose(1, 2) for t in (q, k, v))  # [n, heads, P, dim]
        if kv_heads != heads:
            kg = kg.repeat_interleave(heads // kv_heads, dim=1)
            vg = vg.repeat_interleave(heads // kv_heads, dim=1)
        out = F.scaled_dot_product_attention(qg, kg, vg, dropout_p=dropout, scale=scaling, is_causal=True)
        pieces.append(out.transpose(1, 2)[keep])  # the real tokens, [m, heads, dim]
    merged = torch.cat(pieces)[varlen_plan.inverse]
    return merged.reshape(batch, width, heads, -1), None


def _no_mask(*_args: Any, **_kwargs: Any) -> None:
    return None


def register() -> str:
    """Make `ATTENTION` a name transformers models load with (idempotent); returns the name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(ATTENTION, attention_forward)
    AttentionMaskInterface.register(ATTENTION, _no_mask)
    return ATTENTION
