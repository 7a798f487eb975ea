"""train.sharding decisions, resuming on another process count, and optimizer state in either form."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.training import sharding
from tests.training.helpers import make_config

GIB = 1024**3


def _config(sharding_mode: str, method: str = "full"):
    return make_config(Path("m"), train={"sharding": sharding_mode},
                       recipe_config={"method": method})


@pytest.mark.parametrize(("mode", "method", "world", "device", "estimate", "free", "fsdp"), [
    ("none", "full", 8, "cuda", 100 * GIB, 10 * GIB, False),
    ("fsdp", "full", 2, "cpu", None, None, True),
    ("fsdp", "full", 1, "cuda", None, None, False),  # one process: nothing to shard over
    ("auto", "full", 2, "cuda", 70 * GIB, 75 * GIB, True),  # over 90% of one GPU's free memory
    ("auto", "full", 2, "cuda", 60 * GIB, 75 * GIB, False),
    ("auto", "full", 1, "cuda", 200 * GIB, 75 * GIB, False),
    ("auto", "lora", 4, "cuda", 200 * GIB, 75 * GIB, False),
    ("auto", "full", 2, "cpu", None, None, False),
])
def test_decide(mode, method, world, device, estimate, free, fsdp) -> None:
    plan = sharding.decide(_config(mode, method), world=world, device_type=device, estimate_bytes=estimate,
                           free_bytes=free)
    assert plan.fsdp is fsdp
    assert plan.reason.startswith(f"sharding {mode}")


def test_fsdp_with_adapters_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="train.sharding fsdp is for full fine-tuning.*'lora'"):
        sharding.decide(_config("fsdp", "lora"), world=2, device_type="cuda", estimate_bytes=None, free_bytes=None)


def test_sharding_value_is_checked_by_the_schema() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="sharding"):
        _config("zero3")


def test_resume_keeps_rows_per_step() -> None:
    state = {"world_size": 2, "global_batch": 4}
    assert sharding.resume_grad_accum(state, batch_size=2, grad_accum=1, world=1) == 2
    assert sharding.resume_grad_accum(state, batch_size=2, grad_accum=1, world=2) == 1
    assert sharding.resume_grad_accum({"world_size": 1, "global_batch": 8}, 2, 4, world=4) == 1
    # A checkpoint from before global_batch was recorded: its world size and this config tell.
    assert sharding.resume_grad_accum({"world_size": 4}, batch_size=2, grad_accum=1, world=2) == 2
    with pytest.raises(ConfigError, match="4 rows per step.*resume on 1, 2 processes"):
        sharding.resume_grad_accum(state, batch_size=2, grad_accum=1, world=3)
    # `run resume 3 --gpus cpu:3` of a one-process run said "(1 processes)" and "resume on 1 processes".
    with pytest.raises(ConfigError) as one:
        sharding.resume_grad_accum({"world_size": 1, "global_batch": 4}, batch_size=4, grad_accum=1, world=3)
    assert str(one.value) == ("the checkpoint trained on 4 rows per step (1 process); 3 processes of "
                              "train.batch_size 4 cannot keep that exactly: resume on 1 process")


def test_optimizer_state_converts_between_ids_and_names() -> None:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    names = [n for n, _ in model.named_parameters()]
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    by_id = optimizer.state_dict()
    by_name = sharding.optimizer_by_name(by_id, names)
    assert sharding.is_by_name(by_name) and set(by_name["state"]) == set(names)
    assert sharding.optimizer_by_name(by_name, names) is by_name

    fresh = torch.optim.AdamW(model.parameters(), lr=0.1)
    fresh.load_state_dict(sharding.optimizer_by_index(by_name, names))
    for i in range(len(names)):
        assert torch.equal(fresh.state_dict()["state"][i]["exp_avg"], by_id["state"][i]["exp_avg"])
    with pytest.raises(BadInput, match="does not train"):
        sharding.optimizer_by_index(by_name, names[:-1])
    with pytest.raises(BadInput, match="holds 4 parameters, the model trains 3"):
        sharding.optimizer_by_name(by_id, names[:-1])
