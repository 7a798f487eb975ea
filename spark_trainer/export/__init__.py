"""Hugging Face export: merge or keep adapters, save safetensors with the tokenizer/processor and
generation config, write the model card, push to the Hub. See exporting.py for the flow and
registry.py for the per-recipe exporters."""

from __future__ import annotations

from spark_trainer.export.exporting import ExportResult, export_run, find_reusable, push_export
from spark_trainer.export.options import ExportOptions

__all__ = ["ExportOptions", "ExportResult", "export_run", "find_reusable", "push_export"]
