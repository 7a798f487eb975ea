"""Sequence packing in which packed examples never attend to each other.

An example is a token list plus a per-token "train on this" flag. Packing places examples into
rows of `seq_len` tokens (best fit); each row keeps segment ids, so that attention is
block-diagonal causal (a flex-attention BlockMask on the GPU; on the CPU each example attended
alone, `varlen.py`, or a 4D boolean mask for sdpa) and positions restart at 0 in every example. Targets are next tokens within the same example
only: the last token of one example never learns to predict the first of the next.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

IGNORE = -100


@dataclass(frozen=True)
class Example:
    """Token ids and per-token target flags: lists, or numpy arrays (int32 and bool) as the causal-LM
    recipe keeps them, a few bytes a token where a list of ints takes about 40."""

    input_ids: list[int] | np.ndarray
    train_mask: list[bool] | np.ndarray  # True where the token is a target (it is predicted from the previous one)


Row = list[Example]


def pack(examples: list[Example], seq_len: int) -> list[Row]:
    """Best-fit-decreasing packing into rows of at most `seq_len` tokens; order is deterministic."""
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i].input_ids), i))
    rows: list[Row] = []
    free: list[tuple[int, int]] = []  # (free space, row index), sorted
    for i in order:
        size = len(examples[i].input_ids)
        at = bisect.bisect_left(free, (size, -1))
        if at < len(free):
            space, row = free.pop(at)
        else:
            space, row = seq_len, len(rows)
            rows.append([])
        rows[row].append(examples[i])
        if space - size > 0:
            bisect.insort(free, (space - size, row))
    return rows


def efficiency(rows: list[Row], seq_len: int) -> float:
    """Real tokens / row capacity (rows x `seq_len`): 1.0 means no padding at all."""
    return sum(row_tokens(r) for r in rows) / (seq_len * len(rows)) if rows else 0.0


def unpacked(examples: list[Example]) -> list[Row]:
    return [[e] for e in examples]


def row_tokens(row: Row) -> int:
    return sum(len(e.input_ids) for e in row)


def collate(rows: list[Row], pad_id: int, *, pad_to: int | None = None) -> dict[str, Any]:
    """Tensors for a micro-batch: input_ids, targets, position_ids, segment_ids (-1 on padding)."""
    import torch

    width = max(pad_to or 0, max(row_tokens(r) for r in rows))
    n = len(rows)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    targets = torch.full((n, width), IGNORE, dtype=torch.long)
    positions = torch.zeros((n, width), dtype=torch.long)
    segments = torch.full((n, width), -1, dtype=torch.long)
    for b, row in enumerate(rows):
        at = 0
        for s, ex in enumerate(row):
            length = len(ex.input_ids)
            ids = torch.tensor(ex.input_ids, dtype=torch.long)
            input_ids[b, at:at + length] = ids
            positions[b, at:at + length] = torch.arange(length)
            segments[b, at:at + length] = s
            keep = torch.tensor(ex.train_mask[1:], dtype=torch.bool)
            tgt = torch.where(keep, ids[1:], torch.full_like(ids[1:], IGNORE))
            targets[b, at:at + length - 1] = tgt
            at += length
        if at < width:
            positions[b, at:] = torch.arange(width - at)
    return {"input_ids": input_ids, "targets": targets, "position_ids": positions, "segment_ids": segments}


def block_causal_mask(segment_ids: Any) -> Any:
    """[B, 1, L, L] boolean mask: True where query i may attend key j (same segment, j <= i).

    Padding (segment -1) attends to itself causally so no row of the mask is empty (sdpa would
    return NaN for an empty row).
    """
    import torch

    length = segment_ids.shape[1]
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    causal = torch.ones(length, length, dtype=torch.bool, device=segment_ids.device).tril()
    return (same & causal)[:, None, :, :]


def flex_block_mask(segment_ids: Any) -> Any:
    """A flex-attention BlockMask with the same meaning as `block_causal_mask` (GPU path)."""
    from torch.nn.attention.flex_attention import create_block_mask

    def document_causal(b, h, q, kv):  # noqa: ANN001 - flex calls this with index tensors
        return (segment_ids[b, q] == segment_ids[b, kv]) & (q >= kv)

    batch, length = segment_ids.shape
    return create_block_mask(document_causal, batch, None, length, length, device=segment_ids.device,
                             _compile=True)


def target_count(batch: dict[str, Any]) -> int:
    """Target tokens (the loss units) of a collated CPU batch."""
    return int((batch["targets"] != IGNORE).sum())
