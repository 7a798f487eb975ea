"""The theme names: one module the store's setting and the app's start-up both read."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import subprocess_env


def test_the_theme_names_import_nothing_the_first_paint_waits_for() -> None:
    probe = ("import sys; before = set(sys.modules); import spark_trainer.themes; "
             "print(sorted(set(sys.modules) - before - {'spark_trainer', 'spark_trainer.themes'}))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_setting_and_the_app_offer_the_same_themes() -> None:
    from app.main import _parse
    from spark_trainer.store import settings
    from spark_trainer.themes import DEFAULT_THEME, THEMES

    assert settings.DEFAULTS["theme"] == DEFAULT_THEME in THEMES
    assert _parse(["--theme", "light"]).theme == "light"
    for name in THEMES:
        assert settings._coerce("theme", name) == name
