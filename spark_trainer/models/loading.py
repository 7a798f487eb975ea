"""The one base-model resolver: a local folder, or a Hugging Face id found in the local cache,
offline. The GUI's form, `submit` (which freezes the absolute folder into the run's config) and the
worker all use it, so a model found in one place is found the same way everywhere.

Search rule for a relative name: each of `search_dirs` in order (submit and the GUI pass the run
file's folder, then the data home and its `models/`), then the current folder, then, for an
`org/name` id, the Hugging Face
cache through huggingface_hub (`snapshot_download(local_files_only=True)`, which follows
`refs/main` rather than guessing among snapshot hashes).
"""

from __future__ import annotations

from pathlib import Path

from spark_trainer.errors import BadInput

MARKERS = ("config.json", "model_index.json")  # a transformers model, or a diffusers pipeline


def is_model_folder(folder: Path) -> bool:
    return any((Path(folder) / marker).is_file() for marker in MARKERS)


def _hub_cache(cache_dir: str | Path | None) -> Path:
    from huggingface_hub import constants

    return Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)


def resolve_base_model(name: str, *, search_dirs: tuple[Path, ...] = (), cache_dir: str | Path | None = None) -> Path:
    """The absolute folder holding the model's config.json (or a diffusers pipeline's model_index.json).

    Raises:
        BadInput: nothing was found (the message names every place looked at), or a folder was
            found that holds no config.json.
    """
    looked: list[str] = []
    path = Path(name).expanduser()
    candidates = [path] if path.is_absolute() else [*(Path(d) / path for d in search_dirs), path]
    for candidate in candidates:
        looked.append(str(candidate))
        if is_model_folder(candidate):
            return candidate.resolve()
        if candidate.is_dir() and path.is_absolute():
            raise BadInput(f"{candidate} has no config.json (nor model_index.json): choose a Hugging Face model "
                           "folder")
    if "/" in name and not path.is_absolute() and not name.startswith("."):
        from huggingface_hub import snapshot_download

        cache = _hub_cache(cache_dir)
        looked.append(f"the Hugging Face cache {cache}")
        try:
            folder = Path(snapshot_download(name, local_files_only=True, cache_dir=cache))
        except Exception as exc:  # the hub raises several types for "not cached"; all mean "not here"
            hint = type(exc).__name__
            raise BadInput(f"base model {name!r} not found; looked in: {'; '.join(looked)} ({hint})") from None
        if is_model_folder(folder):
            return folder.resolve()
    raise BadInput(f"base model {name!r} not found; looked in: {'; '.join(looked)}")


def home_search_dirs(base_dir: Path | None = None) -> tuple[Path, ...]:
    """Where relative names are looked for: the run file's folder (if any), the data home, its models/."""
    from spark_trainer.paths import resolve_home

    home = resolve_home(None)
    return (*([base_dir] if base_dir is not None else []), home.root, home.models_dir)


def resolve_for_run(name: str, extra_dirs: tuple[Path, ...] = ()) -> Path:
    """How the worker resolves a frozen config's `base_model` (absolute after submit, when found)."""
    return resolve_base_model(name, search_dirs=(*extra_dirs, *home_search_dirs()))


def check_base_model(name: str, search_dirs: tuple[Path, ...]) -> tuple[Path | None, str | None]:
    """(folder, None) for a usable model, or (None, why not): for forms that show the reason."""
    if not name.strip():
        return None, "choose a base model folder, or a model from the local Hugging Face cache"
    try:
        return resolve_base_model(name.strip(), search_dirs=search_dirs), None
    except BadInput as exc:
        return None, str(exc)


def cached_model_ids(cache_dir: str | Path | None = None) -> list[str]:
    """Model ids in the local Hugging Face cache whose `main` snapshot has a config.json."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    cache = _hub_cache(cache_dir)
    try:
        info = scan_cache_dir(cache)
    except CacheNotFound:
        return []
    found = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        main = [rev for rev in repo.revisions if "main" in rev.refs] or list(repo.revisions)
        if any(is_model_folder(Path(rev.snapshot_path)) for rev in main[:1]):
            found.append(repo.repo_id)
    return sorted(found)
