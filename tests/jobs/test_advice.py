"""Settings a run file gives that would take no effect are warned of before the run starts
(`jobs.advice.settings_advice`); the run is queued all the same."""

from __future__ import annotations

from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.jobs.advice import settings_advice


def _config(train: dict[str, Any] | None = None, eval: dict[str, Any] | None = None,  # noqa: A002
            **recipe_config: Any) -> ExperimentConfig:
    return ExperimentConfig.model_validate({
        "project": "p", "name": "n", "recipe": "causal-lm", "base_model": "m", "dataset": "d",
        "train": {"max_steps": 100, "learning_rate": 0.003, "warmup_steps": 0, **(train or {})},
        "eval": eval or {}, "recipe_config": recipe_config})


def test_settings_that_take_no_effect_are_each_said() -> None:
    assert settings_advice(_config(), 1000) == []
    assert settings_advice(_config({"max_steps": 3, "warmup_steps": 20})) == [
        "train.warmup_steps 20 is more than train.max_steps 3: the run ends still warming up, its last step at "
        "learning rate 0.00045, not 0.003"]
    assert settings_advice(_config({"max_steps": 20, "warmup_steps": 20})) == []  # its last step at the peak
    assert settings_advice(_config({"epochs": 2})) == [
        "train.epochs 2 is not used: train.max_steps 100 sets the run's length"]
    assert settings_advice(_config({"early_stopping_patience": 3}, {"every_steps": None})) == [
        "train.early_stopping_patience 3 waits for evaluations, and eval.every_steps is empty: the run evaluates only "
        "at its end, so it never stops early"]
    assert settings_advice(_config(sample_prompts=["hello"])) == [
        "recipe_config.sample_prompts are used every eval.samples_every_steps, which is empty: the run logs no "
        "samples"]
    assert settings_advice(_config(eval={"samples_every_steps": 10}, sample_prompts=["hello"])) == []


def test_a_step_larger_than_the_data_is_said_where_the_data_is_known() -> None:
    # epochs 1 with grad_accum 100 on 184 rows trained one step over 4.3 epochs.
    one_epoch = _config({"max_steps": None, "epochs": 1, "batch_size": 8, "grad_accum": 100})
    assert settings_advice(one_epoch, 184) == [
        "train.batch_size 8 x grad_accum 100 = 800 items a step is more than train.epochs 1 of the dataset's 184 "
        "training items: the run takes one step, over 4.3 epochs"]
    assert settings_advice(one_epoch) == []  # the data unknown: nothing said
    assert settings_advice(_config({"max_steps": None, "epochs": 5, "grad_accum": 100}), 184) == []


def test_a_swept_setting_no_run_uses_is_said() -> None:
    # `--sweep recipe_config.lora_r=4,8` of a full fine-tune queued runs that trained alike, unsaid.
    from spark_trainer.jobs.advice import unused_axes

    def combos(method: str) -> list[tuple[dict[str, Any], ExperimentConfig]]:
        return [({"recipe_config.lora_r": r, "train.learning_rate": lr}, _config({"learning_rate": lr}, method=method,
                                                                               lora_r=r))
                for r in (4, 8) for lr in (1e-3, 3e-3)]

    assert unused_axes(combos("full")) == (
        "sweep varies recipe_config.lora_r, which recipe_config.method full does not use: runs that differ only in it "
        "train alike",)
    assert unused_axes(combos("lora")) == ()
