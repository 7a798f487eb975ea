"""Make a real training step's gradients non-finite, as a bad batch does: the causal-lm recipe's
training loss (a real forward on the tiny model) is multiplied by inf at chosen steps, so the real
backward gives inf/NaN gradients. Evaluation (no grad) is left alone."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pytest


class NonFiniteLoss:
    """Counts training forwards (one per step with grad_accum 1); `first_step` is the step the run
    starts at (a resumed run's checkpoint step + 1). `poison_weights` instead turns the first trainable
    weight to NaN at those steps (weights gone bad by a path the step's check does not see)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: Iterable[int], *, first_step: int = 1,
                 poison_weights: bool = False, value: float = math.inf) -> None:
        from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

        self.at, self.step, self.poison = set(at), first_step - 1, poison_weights
        real = getattr(CausalLMRecipe.loss, "real_loss", CausalLMRecipe.loss)  # a test may arm this twice

        def loss(recipe: Any, model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
            import torch

            if not torch.is_grad_enabled():
                return real(recipe, model, batch)
            self.step += 1
            if self.poison and self.step in self.at:
                with torch.no_grad():
                    next(p for p in model.parameters() if p.requires_grad).fill_(math.nan)
            loss_sum, count = real(recipe, model, batch)
            if not self.poison and self.step in self.at:
                loss_sum = loss_sum * value
            return loss_sum, count

        loss.real_loss = real  # type: ignore[attr-defined]
        monkeypatch.setattr(CausalLMRecipe, "loss", loss)
