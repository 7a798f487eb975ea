"""Perplexity and multiple-choice evaluation of a causal LM (imports torch; used by the eval worker).

MCQ follows the common MMLU set-up (as in lm-evaluation-harness): the question and its four lettered
choices, then "Answer:"; the prediction is the letter whose continuation (" A", " B", ...) has the
highest log-likelihood.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from spark_trainer.evaluation.data import LETTERS, McqItem

Tick = Callable[[int, int], None]  # (done, total); raises to stop (cancel)


def _device(model: Any) -> Any:
    return next(model.parameters()).device


def perplexity(model: Any, tokenizer: Any, documents: list[str], max_len: int, tick: Tick,
               bos: list[int]) -> dict[str, Any]:
    """Token-level perplexity over the documents, each cut into windows of `max_len` tokens; each
    document starts with `bos`, as the run's rows did (`recipe_config.bos_token`)."""
    import torch
    import torch.nn.functional as F

    windows = []
    for doc in documents:
        ids = bos + list(tokenizer(doc, add_special_tokens=False)["input_ids"])
        if tokenizer.eos_token_id is not None:
            ids.append(tokenizer.eos_token_id)
        windows += [ids[i:i + max_len] for i in range(0, len(ids), max_len) if len(ids[i:i + max_len]) > 1]
    total_nll, total_tokens = 0.0, 0
    device = _device(model)
    with torch.no_grad():
        for i, window in enumerate(windows):
            ids = torch.tensor([window], device=device)
            logits = model(input_ids=ids).logits[0, :-1].float()
            total_nll += float(F.cross_entropy(logits, ids[0, 1:], reduction="sum"))
            total_tokens += len(window) - 1
            tick(i + 1, len(windows))
    loss = total_nll / max(total_tokens, 1)
    return {"metrics": {"perplexity": math.exp(min(loss, 50.0)), "loss": loss},
            "tokens": total_tokens, "documents": len(documents), "windows": len(windows)}


def mcq_prompt(item: McqItem) -> str:
    lines = [f"The following is a multiple choice question about {item.subject.replace('_', ' ')}.", "",
             item.question.strip()]
    lines += [f"{letter}. {choice.strip()}" for letter, choice in zip(LETTERS, item.choices, strict=True)]
    return "\n".join(lines) + "\nAnswer:"


def continuation_logprob(model: Any, tokenizer: Any, context: str, continuations: list[str],
                         bos: list[int]) -> list[float]:
    """Sum of log-probabilities of each continuation's tokens after `context` (one batched forward)."""
    import torch

    ctx = bos + list(tokenizer(context, add_special_tokens=False)["input_ids"])
    conts = [list(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in continuations]
    longest = max(len(ctx) + len(c) for c in conts)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(conts), longest), pad, dtype=torch.long)
    mask = torch.zeros((len(conts), longest), dtype=torch.long)
    for row, cont in enumerate(conts):
        seq = ctx + cont
        ids[row, :len(seq)] = torch.tensor(seq)
        mask[row, :len(seq)] = 1
    device = _device(model)
    with torch.no_grad():
        logprobs = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float().log_softmax(-1)
    scores = []
    for row, cont in enumerate(conts):
        positions = range(len(ctx) - 1, len(ctx) - 1 + len(cont))
        scores.append(sum(float(logprobs[row, p, t]) for p, t in zip(positions, cont, strict=True)))
    return scores


def mcq(model: Any, tokenizer: Any, items: list[McqItem], tick: Tick, bos: list[int],
        wrap: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Accuracy overall and per subject; each item's prediction is kept in `predictions`. `wrap`: the
    question as the instruction in the run's prompt template (a run trained on instruction rows)."""
    right: dict[str, int] = defaultdict(int)
    seen: dict[str, int] = defaultdict(int)
    predictions = []
    for i, item in enumerate(items):
        context = wrap(mcq_prompt(item)) if wrap is not None else mcq_prompt(item)
        scores = continuation_logprob(model, tokenizer, context, [f" {letter}" for letter in LETTERS], bos)
        guess = max(range(len(LETTERS)), key=lambda k: scores[k])
        seen[item.subject] += 1
        right[item.subject] += int(guess == item.answer)
        predictions.append({"source": item.source, "predicted": LETTERS[guess], "answer": LETTERS[item.answer]})
        tick(i + 1, len(items))
    overall = sum(right.values()) / len(items)
    return {"metrics": {"accuracy": overall}, "overall": overall,
            "by_subject": {s: right[s] / seen[s] for s in sorted(seen)},
            "counts": {s: seen[s] for s in sorted(seen)}, "predictions": predictions}
