"""Which GPUs a submitted run asks for (spark_trainer/jobs/gpu_request.py), and how a request this
machine can never satisfy is refused."""

from __future__ import annotations

import pytest
import yaml

from spark_trainer.store import runs
from spark_trainer.store.store import Store


def test_a_default_gpus_setting_this_machine_lacks_is_named_when_a_run_file_is_refused(store: Store, run_file) -> None:
    # `settings default_gpus 0` on a machine without GPUs, then `train run.yaml` of a file with no gpus:
    # said "gpus: GPU 0 requested but this machine has 0 GPUs": the file asks for nothing of the sort.
    from spark_trainer.config import load_config
    from spark_trainer.errors import BadInput
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.store import settings

    settings.set_value(store, "default_gpus", "0")
    path = run_file("defaulted", steps=1)
    spec = yaml.safe_load(path.read_text())
    del spec["gpus"]
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(BadInput) as refused:
        submit_config(store, load_config(path), machine=[])
    assert str(refused.value) == ("gpus: GPU 0 requested but this machine has 0 GPUs; it is the default_gpus setting "
                                  "(Settings' Default GPUs), as the run names no gpus: set gpus: in the run file, "
                                  "give --gpus, or change it with `spark-trainer settings default_gpus auto`")
    spec["gpus"] = "0"  # asked for in the file: the file is named as before
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(BadInput, match="^gpus: GPU 0 requested but this machine has 0 GPUs$"):
        submit_config(store, load_config(path), machine=[])
    assert runs.list_all(store) == []


@pytest.mark.parametrize(("gpus", "machine"), [("cpu", [0]), ("auto", [])])
def test_flex_attention_on_a_run_that_trains_on_the_cpu_is_refused_before_it_is_queued(
        store: Store, run_file, gpus: str, machine: list[int]) -> None:
    # `attention: flex` was queued and then failed in the worker at the first step: "NotImplementedError:
    # FlexAttention does not support backward on CPU" (with train.compile: true too).
    from spark_trainer.config import load_config
    from spark_trainer.errors import BadInput
    from spark_trainer.jobs.submit import submit_config, submit_experiment

    path = run_file("flexed", steps=1)
    spec = yaml.safe_load(path.read_text())
    spec["gpus"] = gpus
    spec["recipe_config"]["attention"] = "flex"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(BadInput) as refused:
        submit_config(store, load_config(path), machine=machine)
    assert str(refused.value) == (
        "recipe_config.attention: flex cannot train on the CPU (PyTorch has no backward pass for it there); use "
        "auto (varlen on the CPU), varlen or sdpa; this run trains on the CPU (gpus: cpu, or no GPU on this machine)")
    assert runs.list_all(store) == []
    # On a machine with a GPU, auto gives the run one: it is queued, and `run start --gpus cpu` is refused.
    queued = submit_config(store, load_config(path), gpus="0" if gpus == "cpu" else "auto", machine=[0])
    assert queued.run.requested_gpus in ("0", "auto")
    with pytest.raises(BadInput, match="^recipe_config.attention: flex cannot train on the CPU"):
        submit_experiment(store, queued.experiment.id, gpus="cpu", machine=[0])
    assert len(runs.list_all(store)) == 1
