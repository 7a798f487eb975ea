"""The app's theme names, in one place for the store's `theme` setting and the app.

Kept apart from `spark_trainer.store.settings` (SQLAlchemy, the ORM) because the app reads it before its
first paint (`--theme`, the theme cached in QSettings), when the store is not imported yet; this
module imports nothing.
"""

from __future__ import annotations

THEMES = ("dark", "light")  # their colours: app/theme.py
DEFAULT_THEME = "dark"
