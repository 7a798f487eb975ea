"""Library chatter (deprecation notices between libraries, progress bars) stays out of a command's output."""

from __future__ import annotations

import io
import warnings

import pytest

from spark_trainer.cli.chatter import quiet_libraries


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _shown(debug: bool) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_libraries(debug=debug, stream=_Terminal())
        for module in ("transformers.modeling_utils", "peft.peft_model", "spark_trainer.recipes.base"):
            warnings.warn_explicit(f"old API in {module}", FutureWarning, "x.py", 1, module=module)
    return [str(w.message) for w in seen]


def test_deprecations_between_libraries_are_dropped_unless_debug() -> None:
    assert _shown(debug=False) == ["old API in spark_trainer.recipes.base"]  # ours still show
    assert len(_shown(debug=True)) == 3


@pytest.fixture(autouse=True)
def bars_as_they_were():
    """The libraries' bar switches are process-wide: left on, they put "Loading weights" bars into the
    output of the in-process commands of later tests in this worker (a fresh-clone run saw an export
    test fail on them)."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as transformers_logging

    hub_off, transformers_on = are_progress_bars_disabled(), transformers_logging.is_progress_bar_enabled()
    yield
    if hub_off:
        disable_progress_bars()
    else:
        enable_progress_bars()
    if transformers_on:
        transformers_logging.enable_progress_bar()
    else:
        transformers_logging.disable_progress_bar()


def test_progress_bars_go_off_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as transformers_logging

    hub_tqdm = importlib.import_module("huggingface_hub.utils.tqdm")  # the module (the package re-exports a class by that name)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "")  # so that the undo removes what the call sets
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS")
    # huggingface_hub reads the variable once, at import: if an in-process command of an earlier test
    # (which sets it for a pipe) ran before the first import, the hub would refuse to enable its bars.
    monkeypatch.setattr(hub_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", None)
    enable_progress_bars()
    transformers_logging.enable_progress_bar()
    quiet_libraries(debug=False, stream=_Terminal())
    assert not are_progress_bars_disabled() and transformers_logging.is_progress_bar_enabled()

    quiet_libraries(debug=False, stream=io.StringIO())  # a pipe, a file, a worker's log
    assert are_progress_bars_disabled() and not transformers_logging.is_progress_bar_enabled()


def test_a_users_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.utils import logging as transformers_logging

    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")
    transformers_logging.enable_progress_bar()
    quiet_libraries(debug=False, stream=io.StringIO())
    assert transformers_logging.is_progress_bar_enabled()


def test_a_users_setting_turns_bars_off_even_once_they_were_turned_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # The variable is read at import. Set earlier by this process (an earlier in-process command), it
    # made quiet_libraries return at once while something had turned the bars on again since.
    import importlib

    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as transformers_logging

    monkeypatch.setattr(importlib.import_module("huggingface_hub.utils.tqdm"), "HF_HUB_DISABLE_PROGRESS_BARS", None)
    enable_progress_bars()
    transformers_logging.enable_progress_bar()
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    quiet_libraries(debug=False, stream=_Terminal())
    assert are_progress_bars_disabled() and not transformers_logging.is_progress_bar_enabled()
