"""Resolving a base model name to a local folder, offline."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.errors import BadInput


def resolve_base_model(name: str, *, search_dirs: tuple[Path, ...] = ()) -> Path:
    """A local folder holding config.json, or a Hugging Face id found in the local HF cache.

    Raises:
        BadInput: nothing was found; the message names every place that was looked at.
    """
    looked: list[str] = []
    candidates = [Path(name).expanduser()] + [Path(d) / name for d in search_dirs]
    for candidate in candidates:
        looked.append(str(candidate))
        if (candidate / "config.json").is_file():
            return candidate
    if "/" in name and not Path(name).is_absolute() and not name.startswith("."):
        from huggingface_hub import constants, snapshot_download

        looked.append(f"the Hugging Face cache {constants.HF_HUB_CACHE}")
        try:
            folder = Path(snapshot_download(name, local_files_only=True))
        except Exception as exc:  # the hub raises several types for "not cached"; all mean "not here"
            hint = type(exc).__name__
            raise BadInput(f"base model {name!r} not found; looked in: {'; '.join(looked)} ({hint})") from None
        if (folder / "config.json").is_file():
            return folder
    raise BadInput(f"base model {name!r} not found; looked in: {'; '.join(looked)}")


def resolve_for_run(name: str, extra_dirs: tuple[Path, ...] = ()) -> Path:
    """`resolve_base_model` with the data home's folders searched too (how the engine resolves a
    frozen config's `base_model`; submit freezes it to an absolute path when it can)."""
    from spark_trainer.paths import resolve_home

    home = resolve_home(None)
    return resolve_base_model(name, search_dirs=(*extra_dirs, home.root, home.models_dir))
