"""Keep packages a run does not need out of its worker process.

bitsandbytes (QLoRA's 4-bit layers) wraps its kernels in torch.compile when it is imported, which
pulls in torch's dynamo and inductor: about 2.6 s of every worker's start on a 2-core machine
(`benchmarks/bench_worker_imports.py`). peft and transformers import it whenever it is installed,
whatever the run. A run that neither quantizes (`recipe_config.method: qlora`) nor starts from a
quantized base (a `quantization_config` in its config.json) marks it absent in `sys.modules` (None:
Python's own way to block an import), so both see it as not installed. Only for processes that
exist for one run (the worker, its ranks, an evaluation): a process that goes on to other work
(`bench lora` trains in process, then runs the Trainer baselines) keeps everything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

QUANTIZATION_PACKAGES = ("bitsandbytes",)


def needs_quantization(config: Any) -> bool:
    """Whether the run (an ExperimentConfig) may need a quantization package: QLoRA, or a base model
    whose config.json says it is quantized, or a base that cannot be found (then nothing is hidden)."""
    from spark_trainer.errors import SparkError
    from spark_trainer.models.loading import home_search_dirs, resolve_base_model

    if (config.recipe_config or {}).get("method") == "qlora":
        return True
    try:
        base = resolve_base_model(config.base_model, search_dirs=home_search_dirs())
        settings = json.loads((Path(base) / "config.json").read_text())
    except (SparkError, OSError, ValueError):
        return True
    text = settings.get("text_config") if isinstance(settings.get("text_config"), dict) else {}
    return "quantization_config" in settings or "quantization_config" in text


def keep_out_unneeded(config: Any) -> list[str]:
    """Block the quantization packages for this process when the run cannot need them; returns the
    names blocked (none when one is already imported or the run needs them)."""
    if needs_quantization(config):
        return []
    blocked = []
    for name in QUANTIZATION_PACKAGES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # import raises, find_spec says absent
            blocked.append(name)
    return blocked


def keep_out_for_run(run_dir: Path) -> list[str]:
    """`keep_out_unneeded` for the run whose frozen config is in `run_dir`; nothing is kept out
    when that config cannot be read here (the run's own start reports why)."""
    from spark_trainer.errors import SparkError
    from spark_trainer.jobs.submit import frozen_config

    try:
        config = frozen_config(run_dir)
    except (SparkError, OSError, ValueError):
        return []
    return keep_out_unneeded(config)
