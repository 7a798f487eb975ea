"""A run that does not quantize keeps bitsandbytes (and the torch compiler it imports) out of its worker;
a text run whose model's code never uses scipy keeps scipy out too."""

from __future__ import annotations

import json
import subprocess
import sys

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.jobs.lean_imports import needs_quantization, needs_scipy
from tests.conftest import subprocess_env


def _config(base, method: str = "lora", recipe: str = "causal-lm") -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": "q", "recipe": recipe, "base_model": str(base),
                                            "dataset": "d", "recipe_config": {"method": method}})


def _base_like(tiny_model, folder, **changes):
    """A copy of the tiny model's config.json with `changes` (enough for the checks, which read only it)."""
    folder.mkdir()
    settings = {**json.loads((tiny_model / "config.json").read_text()), **changes}
    (folder / "config.json").write_text(json.dumps(settings))
    return folder


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
from transformers import AutoModelForCausalLM
from transformers.loss.loss_utils import LOSS_MAPPING  # the object-detection losses import scipy when they can
from transformers.utils import is_bitsandbytes_available, is_scipy_available
AutoModelForCausalLM.from_pretrained(config.base_model)
print(json.dumps({"blocked": blocked, "peft_sees": is_bnb_available(), "transformers_sees": is_bitsandbytes_available(),
                  "inductor": "torch._inductor.compile_fx" in sys.modules, "scipy_seen": is_scipy_available(),
                  "scipy_imported": sys.modules.get("scipy") is not None}))
"""


def _imports_in_a_fresh_process(config: ExperimentConfig) -> dict:
    proc = subprocess.run([sys.executable, "-c", KEPT_OUT, config.model_dump_json()], capture_output=True,
                          text=True, env=subprocess_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_lora_worker_never_imports_bitsandbytes_nor_the_compiler_a_qlora_one_keeps_it(tiny_model):
    from spark_trainer.jobs.lean_imports import keep_out_unneeded

    lean = _imports_in_a_fresh_process(_config(tiny_model))
    assert lean == {"blocked": ["bitsandbytes", "scipy", "sklearn"], "peft_sees": False, "transformers_sees": False,
                    "inductor": False, "scipy_seen": False, "scipy_imported": False}
    before = dict(sys.modules)
    assert keep_out_unneeded(_config(tiny_model, "qlora")) == []  # QLoRA needs it: this process is left as it is
    assert sys.modules.get("bitsandbytes", "absent") is before.get("bitsandbytes", "absent")


def test_scikit_learn_is_hidden_with_scipy_so_transformers_never_imports_it(tiny_model, tmp_path):
    """On the GPU machine's image (scikit-learn installed; transformers 5.17 imports it whenever it is) a run
    that hid scipy failed at its first AutoTokenizer: sklearn, seen as installed, could not import scipy."""
    site = tmp_path / "site"
    (site / "sklearn").mkdir(parents=True)
    (site / "sklearn" / "__init__.py").write_text("from scipy.sparse import issparse\n")  # as scikit-learn does
    probe = (KEPT_OUT.split("import peft")[0]
             + "import importlib.util\nprint(json.dumps({'blocked': blocked, "
               "'sklearn_found': importlib.util.find_spec('sklearn') is not None}))\n")
    env = subprocess_env()
    env["PYTHONPATH"] = f"{site}:{env.get('PYTHONPATH', '')}"
    proc = subprocess.run([sys.executable, "-c", probe, _config(tiny_model).model_dump_json()], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"blocked": ["bitsandbytes", "scipy", "sklearn"],
                                                                "sklearn_found": False}


def test_only_text_runs_on_models_whose_code_never_mentions_scipy_keep_it_out(tiny_model, tmp_path):
    assert not needs_scipy(_config(tiny_model))  # a llama: its transformers code has no scipy
    assert not needs_scipy(_config(tiny_model, recipe="text-classification"))
    assert needs_scipy(_config(tiny_model, recipe="image-classification"))  # processors may use it
    assert needs_scipy(_config(tiny_model, recipe="diffusion-lora"))  # schedulers may use it
    assert needs_scipy(_config(tiny_model, "qlora"))  # bitsandbytes builds some tables with it
    assert needs_scipy(_config(_base_like(tiny_model, tmp_path / "fnet", model_type="fnet")))  # its code imports it
    assert needs_scipy(_config(_base_like(tiny_model, tmp_path / "own", auto_map={"AutoModel": "m.M"})))
    assert needs_scipy(_config(_base_like(tiny_model, tmp_path / "unknown", model_type="no-such-model")))
    assert needs_scipy(_config(_base_like(tiny_model, tmp_path / "parts", model_type="llama",
                                          vision_config={"model_type": "fnet"})))  # a part's code counts too
    assert needs_scipy(_config(tmp_path / "missing"))


def test_a_text_classification_worker_never_imports_scipy(tmp_path):
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier

    base = create_tiny_text_classifier(tmp_path / "cls", num_labels=2)
    code = KEPT_OUT.replace("AutoModelForCausalLM", "AutoModelForSequenceClassification")
    proc = subprocess.run([sys.executable, "-c", code, _config(base, "full", "text-classification").model_dump_json()],
                          capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "scipy" in seen["blocked"] and not seen["scipy_seen"] and not seen["scipy_imported"]
