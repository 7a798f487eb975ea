"""SparkTrainer core: store, config, recipes, training engine and jobs. No Qt here."""

from __future__ import annotations

__version__ = "0.1.0"
