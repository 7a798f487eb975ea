"""PySide6's after-import check, as the app leaves it (app/pyside_imports.py): it never looks up an
attribute of the module it inspects, so a module's __getattr__ (pydantic's imports a module) does not
run inside another thread's import; and it still tells a module that uses PySide6 from one that does not.

Each check runs in a fresh interpreter: the hook looks at a module once, when first imported, and this
test process has imported PySide6 and pydantic long before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _fresh(tmp_path: Path, code: str) -> dict:
    """Run `code` after `import app` in a new interpreter with `tmp_path` on sys.path; it prints JSON."""
    script = f"import sys\nsys.path[:0] = [{str(REPO)!r}, {str(tmp_path)!r}]\nimport app\n{code}"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_imported_module_is_not_asked_for_attributes_it_lacks(tmp_path) -> None:
    (tmp_path / "asked.py").write_text("names = []\n")
    (tmp_path / "lazy_module.py").write_text(
        "import asked\n\n"
        "def __getattr__(name):\n"
        "    asked.names.append(name)\n"
        "    raise AttributeError(name)\n")
    seen = _fresh(tmp_path, "import json, lazy_module, asked\nprint(json.dumps(asked.names))")
    assert "__wrapped__" not in seen, seen  # PySide6's own check asked (inspect.unwrap), from any thread


def test_importing_pydantic_imports_only_what_it_imports_itself(tmp_path) -> None:
    """pydantic's __getattr__ imports its validators when asked for a missing name; with Qt loaded that
    import ran inside whichever thread imported pydantic, and two threads met in it half-built."""
    loaded = _fresh(tmp_path, "import json, pydantic\n"
                              "print(json.dumps('pydantic._internal._validators' in sys.modules))")
    assert loaded is False


def test_modules_that_use_pyside_are_still_told_apart(tmp_path) -> None:
    (tmp_path / "with_qt.py").write_text("from PySide6.QtCore import QObject  # uses PySide6\n")
    (tmp_path / "without_qt.py").write_text("VALUE = 1\n")
    flags = _fresh(tmp_path, "import json, with_qt, without_qt\n"
                             "from shibokensupport import feature\n"
                             "print(json.dumps([feature.pyside_feature_dict.get(n) for n in "
                             "('with_qt', 'without_qt')]))")
    assert flags == [0, -1]  # 0: uses PySide6, with no feature chosen; -1: ignored in feature switching
