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


def lm_examples(tokenizer: Any, rows: list[dict[str, Any]], bos: list[int], completion_only: bool) -> list[Any]:
    """Each row's tokens and target flags, as the causal-LM recipe encodes them for training and its
    validation (`CausalLMRecipe._encode_trainable`): text is all targets; with `completion_only` (the
    run's `completion_only_loss`) a prompt/completion row's targets are the completion and its EOS, a
    chat row's its assistant turns. Rows are not cut at seq_len here: `perplexity` windows them."""
    from spark_trainer.recipes import causal_lm_chat as chat
    from spark_trainer.training.data import Record
    from spark_trainer.training.packing import Example

    def ids(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    out = []
    for i, row in enumerate(rows):
        if isinstance(row.get("text"), str):
            tokens = bos + ids(row["text"]) + eos
            out.append(Example(tokens, [True] * len(tokens)))
        elif isinstance(row.get("prompt"), str):
            prompt, completion = bos + ids(row["prompt"]), ids(row["completion"]) + eos
            out.append(Example(prompt + completion, [not completion_only] * len(prompt) + [True] * len(completion)))
        else:
            out += chat.examples(tokenizer, [chat.render(tokenizer, Record(row, f"row {i + 1}", "val"))],
                                 completion_only)
    return out


def perplexity(model: Any, tokenizer: Any, rows: list[dict[str, Any]], max_len: int, tick: Tick,
               bos: list[int], completion_only: bool = True) -> dict[str, Any]:
    """Token-level perplexity over the rows' target tokens (`lm_examples`: those training's validation
    loss counts), each row cut into windows of `max_len` tokens; each row starts with `bos`, as the
    run's rows did (`recipe_config.bos_token`). A row within `max_len` is scored as training's
    validation scores it; a longer one is scored whole, window by window, where training keeps its
    first seq_len tokens only."""
    import torch
    import torch.nn.functional as F

    windows = []
    for example in lm_examples(tokenizer, rows, bos, completion_only):
        ids, mask = list(example.input_ids), [bool(m) for m in example.train_mask]
        windows += [(ids[i:i + max_len], mask[i:i + max_len]) for i in range(0, len(ids), max_len)
                    if any(mask[i + 1:i + max_len])]
    total_nll, total_tokens = 0.0, 0
    device = _device(model)
    with torch.no_grad():
        for i, (window, mask) in enumerate(windows):
            ids = torch.tensor([window], device=device)
            keep = torch.tensor(mask[1:], device=device)
            logits = model(input_ids=ids).logits[0, :-1].float()
            total_nll += float(F.cross_entropy(logits[keep], ids[0, 1:][keep], reduction="sum"))
            total_tokens += int(keep.sum())
            tick(i + 1, len(windows))
    loss = total_nll / max(total_tokens, 1)
    return {"metrics": {"perplexity": math.exp(min(loss, 50.0)), "loss": loss},
            "tokens": total_tokens, "documents": len(rows), "windows": len(windows),
            "scored": "completions" if completion_only and any("text" not in r for r in rows) else "all tokens"}


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
