"""A run that does not quantize keeps bitsandbytes (and the torch compiler it imports) out of its worker."""

from __future__ import annotations

import json
import subprocess
import sys

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.jobs.lean_imports import needs_quantization
from tests.conftest import subprocess_env


def _config(base, method: str = "lora") -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": "q", "recipe": "causal-lm", "base_model": str(base),
                                            "dataset": "d", "recipe_config": {"method": method}})


def test_only_quantized_runs_or_bases_need_it(tiny_model, tmp_path):
    assert not needs_quantization(_config(tiny_model))
    assert needs_quantization(_config(tiny_model, "qlora"))
    quantized = tmp_path / "quantized"
    quantized.mkdir()
    settings = json.loads((tiny_model / "config.json").read_text())
    settings["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (quantized / "config.json").write_text(json.dumps(settings))
    (quantized / "model.safetensors").write_bytes((tiny_model / "model.safetensors").read_bytes())
    assert needs_quantization(_config(quantized))
    assert needs_quantization(_config(tmp_path / "missing"))  # nothing is hidden when the base is not found


KEPT_OUT = """
import json, sys
from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.jobs.lean_imports import keep_out_unneeded
config = ExperimentConfig.model_validate(json.loads(sys.argv[1]))
blocked = keep_out_unneeded(config)
import peft, transformers
from peft import LoraConfig, get_peft_model
from peft.import_utils import is_bnb_available
from transformers.utils import is_bitsandbytes_available
print(json.dumps({"blocked": blocked, "peft_sees": is_bnb_available(), "transformers_sees": is_bitsandbytes_available(),
                  "inductor": "torch._inductor.compile_fx" in sys.modules}))
"""


def _imports_in_a_fresh_process(config: ExperimentConfig) -> dict:
    proc = subprocess.run([sys.executable, "-c", KEPT_OUT, config.model_dump_json()], capture_output=True,
                          text=True, env=subprocess_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_lora_worker_never_imports_bitsandbytes_nor_the_compiler_a_qlora_one_keeps_it(tiny_model):
    from spark_trainer.jobs.lean_imports import keep_out_unneeded

    lean = _imports_in_a_fresh_process(_config(tiny_model))
    assert lean == {"blocked": ["bitsandbytes"], "peft_sees": False, "transformers_sees": False, "inductor": False}
    before = dict(sys.modules)
    assert keep_out_unneeded(_config(tiny_model, "qlora")) == []  # QLoRA needs it: this process is left as it is
    assert sys.modules.get("bitsandbytes", "absent") is before.get("bitsandbytes", "absent")
