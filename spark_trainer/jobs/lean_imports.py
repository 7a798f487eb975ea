"""Keep packages a run does not need out of its worker process.

bitsandbytes (QLoRA's 4-bit layers) wraps its kernels in torch.compile when it is imported, which
pulls in torch's dynamo and inductor: about 2.6 s of every worker's start on a 2-core machine
(`benchmarks/bench_worker_imports.py`). peft and transformers import it whenever it is installed,
whatever the run. A run that neither quantizes (`recipe_config.method: qlora`) nor starts from a
quantized base (a `quantization_config` in its config.json) marks it absent in `sys.modules` (None:
Python's own way to block an import), so both see it as not installed.

scipy: transformers imports `scipy.optimize` whenever scipy is installed (its object-detection
losses, loaded with every model): about 0.7 s of a worker's start, for runs that never call it. A
text run (causal-lm, text-classification) that quantizes nothing keeps it out unless its base
model's transformers code mentions scipy, or the model brings code of its own (`auto_map`), or its
code cannot be found. The image and diffusion recipes keep it (image processors and schedulers may
use it), and so do quantized runs (bitsandbytes builds some of its tables with it).
scikit-learn is hidden with scipy: it cannot import without it, and transformers imports it whenever
it is installed (5.17's generation utilities do, at import, on the GPU machine's image): with scipy hidden
and sklearn seen, every run there failed at its first `AutoTokenizer` ("'scipy' is not a package").

Only for processes that exist for one run (the worker, its ranks, an evaluation): a process that
goes on to other work (`bench lora` trains in process, then runs the Trainer baselines) keeps
everything.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

QUANTIZATION_PACKAGES = ("bitsandbytes",)
NEEDS_SCIPY = ("sklearn",)  # packages that import scipy as they are imported: hidden with it
TEXT_RECIPES = ("causal-lm", "text-classification")


def _base_settings(config: Any) -> dict[str, Any] | None:
    """The base model's config.json, or None when it cannot be found or read."""
    from spark_trainer.errors import SparkError
    from spark_trainer.models.loading import home_search_dirs, resolve_base_model

    try:
        base = resolve_base_model(config.base_model, search_dirs=home_search_dirs())
        settings = json.loads((Path(base) / "config.json").read_text())
    except (SparkError, OSError, ValueError):
        return None
    return settings if isinstance(settings, dict) else None


_UNREAD: Any = object()  # the base model's config.json not read yet (None: it cannot be)


def needs_quantization(config: Any, settings: dict[str, Any] | None = _UNREAD) -> bool:
    """Whether the run (an ExperimentConfig) may need a quantization package: QLoRA, or a base model
    whose config.json (`settings`, read here if not given) says it is quantized, or a base that
    cannot be found (then nothing is hidden)."""
    if (config.recipe_config or {}).get("method") == "qlora":
        return True
    if settings is _UNREAD:
        settings = _base_settings(config)
    if settings is None:
        return True
    text = settings.get("text_config") if isinstance(settings.get("text_config"), dict) else {}
    return "quantization_config" in settings or "quantization_config" in text


def _model_types(settings: dict[str, Any]) -> set[str]:
    """The model types a config.json names: its own and its parts' (text_config, vision_config...)."""
    found = {settings["model_type"]} if isinstance(settings.get("model_type"), str) else set()
    for value in settings.values():
        if isinstance(value, dict):
            found |= _model_types(value)
    return found


def needs_scipy(config: Any, settings: dict[str, Any] | None = _UNREAD) -> bool:
    """Whether the run (an ExperimentConfig) may use scipy: any recipe but the text ones; a text run
    that quantizes, or whose base model's transformers code mentions scipy, brings its own code
    (`auto_map`), or whose code or config cannot be found (then nothing is hidden). The code is
    read, not imported."""
    if config.recipe not in TEXT_RECIPES:
        return True
    if settings is _UNREAD:
        settings = _base_settings(config)
    if needs_quantization(config, settings):
        return True
    if settings is None or "auto_map" in settings:
        return True
    spec = importlib.util.find_spec("transformers")  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        return True
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    types = _model_types(settings)
    if not types:
        return True
    for model_type in types:
        folder = models / model_type.replace("-", "_")
        try:
            sources = [path.read_text(errors="replace") for path in folder.glob("*.py")]
        except OSError:
            return True
        if not sources or any("scipy" in text for text in sources):
            return True
    return False


def keep_out_unneeded(config: Any) -> list[str]:
    """Block the quantization packages, and scipy, for this process when the run cannot need them;
    returns the names blocked (none of those already imported or the run needs)."""
    settings = _base_settings(config)  # read once for both questions
    unneeded = [] if needs_quantization(config, settings) else list(QUANTIZATION_PACKAGES)
    if not needs_scipy(config, settings):
        unneeded += ["scipy", *NEEDS_SCIPY]
    blocked = []
    for name in unneeded:
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
