"""The one base-model resolver and check: what a model is, where a name is looked for, and why
one is refused. The GUI's form, `submit` (which freezes the absolute folder into the run's config),
the worker, export, evaluation and the playground all call it, so a model found (or refused) in one
place is found (or refused) the same way everywhere.

A model is a folder holding `config.json` (transformers) or `model_index.json` (a diffusers
pipeline). A name is looked for:
- an absolute (or `~`) path: there only;
- a relative name: under each of `search_dirs` in order (submit and the GUI pass the run file's
  folder, then the data home and its `models/`), then the current folder;
- then, for an `org/name` id, the local Hugging Face cache through huggingface_hub
  (`snapshot_download(local_files_only=True)`, which follows `refs/main` rather than guessing among
  snapshot hashes). Nothing is ever downloaded.

Refusals are one line naming the path and what is missing; submit prefixes the field
(`base_model: ...`) and the CLI exits 2.
"""

from __future__ import annotations

import re
from pathlib import Path

from spark_trainer.errors import BadInput, ConfigError

MARKERS = ("config.json", "model_index.json")  # a transformers model, or a diffusers pipeline
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def is_model_folder(folder: Path) -> bool:
    return any((Path(folder) / marker).is_file() for marker in MARKERS)


def _hub_cache(cache_dir: str | Path | None) -> Path:
    from huggingface_hub import constants

    return Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)


def _not_a_model(candidate: Path) -> str:
    if not candidate.is_dir():
        return f"{candidate} is a file, not a model folder"
    return (f"{candidate} has no config.json (transformers) or model_index.json (diffusers); it does not look "
            "like a model folder")


def _from_hub_cache(name: str, cache_dir: str | Path | None) -> tuple[Path | None, str]:
    """(the `main` snapshot folder, "") when the id is cached, else (None, why not)."""
    from huggingface_hub import snapshot_download

    cache = _hub_cache(cache_dir)
    try:
        folder = Path(snapshot_download(name, local_files_only=True, cache_dir=cache))
    except Exception as exc:  # noqa: BLE001 - the hub raises several types for "not cached"; all mean "not here"
        return None, (f"not in the Hugging Face cache {cache} ({type(exc).__name__}); download it first "
                      f"(hf download {name})")
    if not is_model_folder(folder):
        return None, f"its cached snapshot {folder} has no config.json or model_index.json"
    return folder.resolve(), ""


def resolve_base_model(name: str, *, search_dirs: tuple[Path, ...] = (), cache_dir: str | Path | None = None) -> Path:
    """The absolute folder of the model called `name` (see the module docstring for the rules).

    Raises:
        BadInput: one line: the folder found is not a model (and what it lacks), or nothing was
            found (naming every place looked at).
    """
    name = name.strip()
    if not name:
        raise BadInput("choose a base model folder, or a model from the local Hugging Face cache")
    path = Path(name).expanduser()
    candidates = [path] if path.is_absolute() else [*(Path(d) / path for d in search_dirs), path]
    not_model: Path | None = None
    for candidate in candidates:
        if is_model_folder(candidate):
            return candidate.resolve()
        if not_model is None and candidate.exists():
            not_model = candidate
    if not_model is not None:
        raise BadInput(_not_a_model(not_model))
    demo = _demo_hint(path.name)
    if path.is_absolute():
        raise BadInput(f"{path} does not exist{demo}")
    looked = ", ".join(str(c) for c in candidates)
    if _HUB_ID.fullmatch(name) and not demo:
        folder, why = _from_hub_cache(name, cache_dir)
        if folder is not None:
            return folder
        raise BadInput(f"{name!r} is not a local folder (looked in: {looked}) and {why}")
    raise BadInput(f"{name} does not exist (looked in: {looked}){demo}")


# The folder each recipe's demo (spark_trainer.jobs.demo*) makes its tiny model in, in the data home's models/.
DEMO_MODELS = {"causal-lm": "demo-tiny-llama", "text-classification": "demo-tiny-bert",
               "image-classification": "demo-tiny-vit", "diffusion-lora": "demo-tiny-sd"}


def _demo_hint(name: str) -> str:
    """What makes a demo's model that is not there yet (the README's example run file names one): not
    `hf download models/demo-tiny-llama`, which the Hub has never heard of."""
    recipe = next((r for r, folder in DEMO_MODELS.items() if folder == name), None)
    if recipe is None:
        return ""
    flag = "" if recipe == "causal-lm" else f" --recipe {recipe}"  # the demo's default recipe
    return f"; `spark-trainer demo{flag}` makes it, in the data home's models/"


def check_base_model(name: str, search_dirs: tuple[Path, ...]) -> tuple[Path | None, str | None]:
    """(folder, None) for a usable model, or (None, why not): for forms that show the reason."""
    try:
        return resolve_base_model(name, search_dirs=search_dirs), None
    except BadInput as exc:
        return None, str(exc)


def freeze_base_model(name: str, search_dirs: tuple[Path, ...]) -> str:
    """Submit's check: the absolute folder to freeze into the run's config.

    Raises:
        ConfigError: `base_model: <why>`, before anything is recorded.
    """
    try:
        return str(resolve_base_model(name, search_dirs=search_dirs))
    except BadInput as exc:
        raise ConfigError(f"base_model: {exc}") from None


def home_search_dirs(base_dir: Path | None = None) -> tuple[Path, ...]:
    """Where relative names are looked for: the run file's folder (if any), the data home, its models/."""
    from spark_trainer.paths import resolve_home

    home = resolve_home(None)
    return (*([base_dir] if base_dir is not None else []), home.root, home.models_dir)


def resolve_for_run(name: str, extra_dirs: tuple[Path, ...] = ()) -> Path:
    """How the worker resolves a frozen config's `base_model` (absolute after submit). A model moved or
    deleted since is named as the base model: the run failed with a bare "/path does not exist"."""
    try:
        return resolve_base_model(name, search_dirs=(*extra_dirs, *home_search_dirs()))
    except BadInput as exc:
        raise BadInput(f"base_model: {exc}") from None


def cache_repo_id(folder: Path) -> str | None:
    """The Hub id of a snapshot folder of the Hugging Face cache (`.../models--org--name/snapshots/<rev>`,
    what a Hub id is frozen to at submit), else None."""
    parts = Path(folder).parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3].removeprefix("models--").replace("--", "/")
    return None


def cached_model_ids(cache_dir: str | Path | None = None) -> list[str]:
    """Model ids in the local Hugging Face cache whose `main` snapshot is a model (config.json or
    model_index.json)."""
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
        # Only what resolve_base_model can load by id: the snapshot refs/main points at.
        main = [rev for rev in repo.revisions if "main" in rev.refs]
        if any(is_model_folder(Path(rev.snapshot_path)) for rev in main):
            found.append(repo.repo_id)
    return sorted(found)
