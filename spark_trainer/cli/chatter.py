"""Keep the libraries' chatter out of a command's output.

transformers, peft and diffusers print progress bars for every load and save ("Loading weights",
"Writing model shards") and warn each other about deprecations (peft calls transformers'
`is_gradient_checkpointing`). On a terminal a bar is harmless, and for a large model it shows that
something is happening; written to a pipe, a file or a worker's log it is a line of carriage returns.
A deprecation between two libraries is nothing a user can act on. `--debug` keeps all of it.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TextIO

from spark_trainer.training.kernels import quiet_optional_kernel_probe

# Packages whose FutureWarning/DeprecationWarning are about their own or each other's APIs.
LIBRARIES = ("transformers", "peft", "diffusers", "accelerate", "huggingface_hub", "torch", "bitsandbytes")
_LIBRARY_MODULES = rf"({'|'.join(LIBRARIES)})(\.|$)"


# The values huggingface_hub reads as "on" in HF_HUB_DISABLE_PROGRESS_BARS.
_ON = {"1", "ON", "YES", "TRUE"}


def quiet_libraries(*, debug: bool, stream: TextIO | None = None) -> None:
    """Silence library deprecation notices and optional-kernel probes (unless `debug`) and progress bars when `stream` (default
    stderr) is not a terminal. HF_HUB_DISABLE_PROGRESS_BARS, where set, decides the bars instead."""
    if debug:
        return
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=_LIBRARY_MODULES)
    quiet_optional_kernel_probe()  # as the worker and the playground do
    stream = stream if stream is not None else sys.stderr
    chosen = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    if chosen is not None:
        if chosen.strip().upper() not in _ON:
            return  # bars wanted
    elif _is_terminal(stream):
        return
    # Read by huggingface_hub at import, and by transformers from it; both may be imported already
    # (and with their bars turned on again since: the variable alone does not turn them off then).
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False
