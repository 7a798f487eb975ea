"""Keeps PySide6's import hook from touching the modules it inspects.

Importing shiboken6 replaces `builtins.__import__`. After every import statement, on every thread,
the hook looks once at each module it has not seen to decide whether the module uses PySide6 (for
`from __feature__ import snake_case`, which this app does not use). It decides with
`inspect.getsource(module)`, which asks the module for `__wrapped__`. A module with a `__getattr__`
runs it then, and pydantic's imports `pydantic._internal._validators` when asked for a name it lacks.

So finishing the import of a pydantic module on one thread started another import from inside the
import machinery. With the warm-up thread importing pydantic and a pool task importing the config
models at the same time, each thread could wait for a module the other was importing. Python breaks
such a cycle by handing one thread a half-built module, and the home move in Settings failed with
"cannot import name 'import_string' from partially initialized module 'pydantic._internal._validators'".

`quiet_feature_check()` gives the hook a check with the same answer (does the module's source file
say "PySide6"?) that reads the file named by the module's spec and never looks up an attribute of
the module. `app/__init__.py` calls it, so it is in place before any app module starts a thread.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

_FEATURE = "shibokensupport.feature"


def uses_pyside(module: ModuleType) -> bool:
    """Whether the source file of `module` mentions PySide6 (PySide6's own test), read from the file its
    spec names; False for a built-in module, one without a .py file, or one whose file cannot be read."""
    spec = vars(module).get("__spec__")  # vars(): the module's own dict, so no __getattr__ of its runs
    origin = getattr(spec, "origin", None)
    if not isinstance(origin, str) or not origin.endswith(".py"):
        return False
    try:
        return "PySide6" in Path(origin).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def quiet_feature_check() -> bool:
    """Make PySide6's after-import check `uses_pyside` (importing shiboken6 if needed). Returns whether
    the check was replaced: False with a PySide6 whose hook is not where this one's is."""
    import shiboken6  # noqa: F401 - installs the hook and loads the module that holds its check

    feature = sys.modules.get(_FEATURE)
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False
    feature._mod_uses_pyside = uses_pyside  # type: ignore[attr-defined]  # looked up at each call
    return True
