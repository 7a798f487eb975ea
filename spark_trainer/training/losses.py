"""Linear + cross-entropy without the full logits tensor.

A causal LM's loss normally materialises logits of shape [tokens, vocab] in fp32, plus their
gradient: for rows of 2048 tokens, batch 8 and a 32k vocabulary that is 2 x 2 GiB, often the
largest single allocation of a LoRA run. Here the output projection and the loss are computed
together, chunk by chunk over the tokens, so at most [chunk, vocab] logits exist at a time:

- on CUDA, liger-kernel's fused linear cross-entropy (Triton) when the package is installed;
- elsewhere (or without liger-kernel), `chunked_linear_cross_entropy`: a pure-torch autograd
  function that computes each chunk's loss and its gradients in the forward pass (the same idea),
  so the backward pass only scales the stored gradients.

To use it the model's output head is swapped for a `HiddenHead` holding the same weight: in
training it returns the final hidden states instead of logits, and the recipe's loss calls
`linear_cross_entropy` with the head's weight. `logits_out(model)` turns real logits back on (for
generation). The parameter names (and so checkpoints and saved models) do not change.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import Any

IGNORE = -100
# Logits per chunk: [1024, 32000] fp32 = 125 MiB (fewer tokens per chunk for a larger vocabulary).
CHUNK_LOGITS = 1024 * 32_000


def _torch() -> Any:
    import torch

    return torch


def liger_available() -> bool:
    return importlib.util.find_spec("liger_kernel") is not None


def pick_kernel(device_type: str) -> str:
    """"liger" on CUDA when liger-kernel is installed, else "chunked". `SPARK_TRAINER_LOSS_KERNEL`
    (liger | chunked | plain) overrides, for measurements."""
    import os

    forced = os.environ.get("SPARK_TRAINER_LOSS_KERNEL", "").strip().lower()
    if forced in ("liger", "chunked", "plain"):
        return forced
    return "liger" if device_type == "cuda" and liger_available() else "chunked"


class _ChunkedLinearCE:
    """Namespace for the autograd function, built lazily so that importing this module stays light."""

    fn: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls.fn is None:
            cls.fn = _build_function()
        return cls.fn


def _build_function() -> Any:
    torch = _torch()
    function: Any = torch.autograd.Function  # a base the type checker takes as Any (torch is imported late)

    class ChunkedLinearCrossEntropy(function):
        @staticmethod
        def forward(ctx: Any, hidden: Any, weight: Any, bias: Any, targets: Any, chunk: int) -> Any:
            # Matmuls run in the dtype autocast (or the inputs) give; softmax and sums in fp32.
            need_w = weight.requires_grad
            need_b = bias is not None and bias.requires_grad
            grad_h = torch.empty_like(hidden)
            grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
            grad_b = torch.zeros(bias.shape, dtype=torch.float32, device=bias.device) if need_b else None
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, hidden.shape[0], chunk):
                h = hidden[start:start + chunk]
                t = targets[start:start + chunk]
                logits = (h @ weight.t()).float()
                if bias is not None:
                    logits = logits + bias.float()
                valid = t != IGNORE
                safe = torch.where(valid, t, torch.zeros_like(t))
                lse = torch.logsumexp(logits, dim=-1)
                picked = logits.gather(1, safe[:, None]).squeeze(1)
                total += ((lse - picked) * valid).sum()
                # d(sum loss)/d(logits) = softmax - one_hot(target), zero on ignored tokens.
                grad = torch.exp(logits - lse[:, None])
                grad.scatter_add_(1, safe[:, None], -torch.ones_like(picked)[:, None])
                grad *= valid[:, None]
                grad_h[start:start + chunk] = grad.to(h.dtype) @ weight
                if grad_w is not None:
                    grad_w += grad.t() @ h.float()
                if grad_b is not None:
                    grad_b += grad.sum(0)
            ctx.save_for_backward(grad_h, *(g for g in (grad_w, grad_b) if g is not None))
            ctx.has = (grad_w is not None, grad_b is not None)
            ctx.dtypes = (weight.dtype, None if bias is None else bias.dtype)
            return total

        @staticmethod
        def backward(ctx: Any, grad_out: Any) -> Any:
            saved = list(ctx.saved_tensors)
            grad_h = saved.pop(0)
            grad_h = grad_h * grad_out.to(grad_h.dtype)
            grad_w = saved.pop(0).mul(grad_out).to(ctx.dtypes[0]) if ctx.has[0] else None
            grad_b = saved.pop(0).mul(grad_out).to(ctx.dtypes[1]) if ctx.has[1] else None
            return grad_h, grad_w, grad_b, None, None

    return ChunkedLinearCrossEntropy


def chunked_linear_cross_entropy(hidden: Any, weight: Any, targets: Any, bias: Any = None,
                                 chunk: int | None = None) -> Any:
    """Sum over tokens of cross_entropy(hidden @ weight.T + bias, targets), ignoring IGNORE targets.

    `hidden` is [N, h], `weight` [V, h] of the same dtype (`linear_cross_entropy` casts), `targets` [N].
    Never holds more than [chunk, V] logits; `chunk` defaults to the tokens of `CHUNK_LOGITS`. When
    one chunk holds them all (a small vocabulary, a short batch) this is the plain loss: the same
    memory, and its fused log-softmax is faster.
    """
    torch = _torch()
    chunk = chunk or max(1, CHUNK_LOGITS // weight.shape[0])
    if hidden.shape[0] <= chunk:
        return plain_linear_cross_entropy(hidden, weight, targets, bias)
    if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return _ChunkedLinearCE.get().apply(hidden, weight, bias, targets, chunk)
    total = torch.zeros((), dtype=torch.float32, device=hidden.device)  # evaluation: no gradients to keep
    for start in range(0, hidden.shape[0], chunk):
        total += plain_linear_cross_entropy(hidden[start:start + chunk], weight, targets[start:start + chunk], bias)
    return total


def plain_linear_cross_entropy(hidden: Any, weight: Any, targets: Any, bias: Any = None) -> Any:
    """The reference: full logits, then cross-entropy (sum)."""
    import torch.nn.functional as F

    logits = F.linear(hidden, weight, bias)
    return F.cross_entropy(logits.float(), targets, ignore_index=IGNORE, reduction="sum")


def liger_linear_cross_entropy(hidden: Any, weight: Any, targets: Any, bias: Any = None) -> Any:
    from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

    loss = LigerFusedLinearCrossEntropyLoss(ignore_index=IGNORE, reduction="sum")
    return loss(weight, hidden, targets, bias)


def linear_cross_entropy(hidden: Any, weight: Any, targets: Any, bias: Any = None, *, kernel: str = "chunked") -> Any:
    """Summed token loss of the output projection `weight` (and `bias`) on `hidden` [..., h].

    A mixed-precision model hands back its outputs in fp32 (accelerate), while a frozen base head is
    stored in bf16/fp16 and the loss runs outside autocast: the hidden states are cast to the head's
    dtype, which is the matmul autocast would have done (no fp32 copy of a [vocab, h] weight, and
    liger-kernel's matmul needs the two dtypes equal). Softmax and sums stay in fp32.
    """
    hidden = hidden.reshape(-1, hidden.shape[-1])
    if hidden.dtype != weight.dtype:
        hidden = hidden.to(weight.dtype)
    targets = targets.reshape(-1)
    # liger's kernel computes the gradients in its forward pass, wanted or not: an evaluation (no gradients)
    # takes the chunked loss's forward-only path instead.
    if kernel == "liger" and _torch().is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return liger_linear_cross_entropy(hidden, weight, targets, bias)
    if kernel == "plain":
        return plain_linear_cross_entropy(hidden, weight, targets, bias)
    return chunked_linear_cross_entropy(hidden, weight, targets, bias)


def _hidden_head_class() -> Any:
    torch = _torch()
    module: Any = torch.nn.Module  # a base the type checker takes as Any (torch is imported late)

    class HiddenHead(module):
        """The output head with its weight (same parameter): emits hidden states while `emit_hidden`."""

        def __init__(self, linear: Any, kernel: str) -> None:
            super().__init__()
            self.weight = linear.weight
            self.bias = linear.bias
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.kernel = kernel
            self.emit_hidden = True

        def forward(self, x: Any) -> Any:
            if self.emit_hidden:
                return x
            return torch.nn.functional.linear(x, self.weight, self.bias)

    return HiddenHead


def install_hidden_head(model: Any, device_type: str) -> Any | None:
    """Swap the model's output head for a HiddenHead; None (nothing changed) when the head is not a
    plain Linear (e.g. it carries LoRA adapters or is quantized) or the plain kernel is forced."""
    torch = _torch()
    kernel = pick_kernel(device_type)
    if kernel == "plain":
        return None
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = inner.get_output_embeddings() if hasattr(inner, "get_output_embeddings") else None
    if type(head) is not torch.nn.Linear:
        return None
    hidden_head = _hidden_head_class()(head, kernel)
    inner.set_output_embeddings(hidden_head)
    return hidden_head


def find_hidden_head(model: Any) -> Any | None:
    """The installed HiddenHead of `model` (through PEFT, compile, DDP and FSDP wrappers), or None."""
    for module in model.modules():  # FSDP2's fully_shard makes each sharded module an "FSDP<Class>"
        if type(module).__name__ in ("HiddenHead", "FSDPHiddenHead"):
            return module
    return None


@contextlib.contextmanager
def logits_out(model: Any) -> Iterator[None]:
    """Within this block the model returns real logits (for generation and for plain evaluation)."""
    head = find_hidden_head(model)
    if head is None:
        yield
        return
    head.emit_hidden = False
    try:
        yield
    finally:
        head.emit_hidden = True
