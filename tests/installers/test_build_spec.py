"""What build.spec bundles as data, read without a build: the spec runs with stand-ins for PyInstaller's
build steps (Analysis, PYZ, EXE, COLLECT), so only its lists of files are computed (a few seconds; the
build itself is `make dist`, tested by tests/test_dist.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("PyInstaller")

SPEC = Path(__file__).resolve().parents[2] / "build.spec"


@pytest.fixture(scope="module")
def bundled_datas() -> set[tuple[str, str]]:
    """(source file, folder in the app) of every data file the spec bundles."""
    def analysis(*_args: object, **_kwargs: object) -> SimpleNamespace:
        return SimpleNamespace(binaries=[], datas=[], pure=[], scripts=[])

    def step(*_args: object, **_kwargs: object) -> None:
        return None

    namespace = {"SPECPATH": str(SPEC.parent), "__file__": str(SPEC), "Analysis": analysis,
                 "PYZ": step, "EXE": step, "COLLECT": step}
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)  # noqa: S102 - our own spec
    return {(str(Path(src).resolve()), str(Path(dest))) for src, dest in namespace["datas"]}


def _package_files(package: str, pattern: str) -> list[tuple[Path, Path]]:
    """(file, its folder relative to site-packages) for each file of an installed package matching `pattern`."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed in this environment")
    root = Path(next(iter(spec.submodule_search_locations))).resolve()
    return [(path, path.parent.relative_to(root.parent)) for path in sorted(root.rglob(pattern))]


def test_the_json_files_kernels_reads_at_import_are_bundled(bundled_datas: set[tuple[str, str]]) -> None:
    # transformers imports `kernels` (one of its requirements from 5.25), which opens its
    # python_depends.json at import: a frozen app without it could not load any model ("Cannot load
    # dependency data, is `kernels` correctly installed?" from `SparkTrainer cli demo`).
    files = _package_files("kernels", "*.json")
    assert files, "kernels ships no JSON file any more: drop its line from build.spec"
    missing = [str(path) for path, folder in files if (str(path), str(folder)) not in bundled_datas]
    assert not missing, f"not bundled: {missing}"


def test_the_model_card_templates_are_bundled(bundled_datas: set[tuple[str, str]]) -> None:
    files = _package_files("huggingface_hub", "templates/*")
    missing = [str(path) for path, folder in files if (str(path), str(folder)) not in bundled_datas]
    assert not missing, f"not bundled: {missing}"


def test_the_menu_entry_template_and_icons_travel_to_where_menu_entry_finds_them(bundled_datas) -> None:
    # `SparkTrainer cli desktop-entry install` reads the .deb's template and the icons under sys._MEIPASS
    # (spark_trainer/menu_entry.py `shipped`): without them the frozen app could not write its entry.
    from spark_trainer import menu_entry

    root = SPEC.parent.resolve()
    assert (str(root / menu_entry.TEMPLATE), str(menu_entry.TEMPLATE.parent)) in bundled_datas
    assert (str(root / "resources"), "resources") in bundled_datas  # the icons' folder, whole
