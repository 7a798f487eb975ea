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
