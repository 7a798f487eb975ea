"""The export tests' trained tiny LoRA run, shared here."""

from tests.export.conftest import lora_run, tiny_model  # noqa: F401 - fixtures
