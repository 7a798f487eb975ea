"""Before a run is created: does the base model exist, and does it look like a model?

A missing or empty model folder used to be accepted ("run 1 started") and fail only in the worker.
This check runs at submit (`train`, `run start`, the GUI) and raises ConfigError with one line
naming the path and what is missing, so nothing is recorded.
"""

from __future__ import annotations

from pathlib import Path

from spark_trainer.errors import ConfigError

MARKERS = ("config.json", "model_index.json")  # transformers / diffusers


def _looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "~", "/", "\\")) or Path(ref).is_absolute() or ref.count("/") > 1 or "\\" in ref


def _check_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise ConfigError(f"base_model: {folder} is a file, not a model folder")
    if not any((folder / marker).is_file() for marker in MARKERS):
        raise ConfigError(f"base_model: {folder} has no config.json (transformers) or model_index.json (diffusers); "
                          "it does not look like a model folder")
    return folder


def _in_hf_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    for marker in MARKERS:
        try:
            found = try_to_load_from_cache(repo_id, marker)
        except ValueError:  # not a valid repo id
            return False
        if isinstance(found, str):
            return True
    return False


def check_base_model(ref: str, search_dirs: tuple[Path, ...] = ()) -> None:
    """Raise ConfigError unless `ref` is a model folder (as given, or below one of `search_dirs`)
    or a Hugging Face id whose files are in the local cache."""
    given = Path(ref).expanduser()
    for candidate in (given, *(Path(d) / ref for d in search_dirs)):
        if candidate.exists():
            _check_folder(candidate)
            return
    if _looks_like_path(ref) or "/" not in ref:
        looked = ", ".join(str(d) for d in search_dirs)
        where = f" (also looked in {looked})" if looked and not given.is_absolute() else ""
        raise ConfigError(f"base_model: {given} does not exist{where}")
    if not _in_hf_cache(ref):
        from huggingface_hub import constants

        raise ConfigError(f"base_model: {ref!r} is not a local folder and not in the Hugging Face cache "
                          f"{constants.HF_HUB_CACHE}; download it first (huggingface-cli download {ref})")
