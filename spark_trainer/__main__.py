"""`python -m spark_trainer ...` runs the CLI (the worker role is a CLI command too)."""

from __future__ import annotations

import sys

from spark_trainer.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
