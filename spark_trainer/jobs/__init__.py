"""Run lifecycle: submit, schedule GPUs, spawn/cancel/pause/resume workers, reconcile.

Import the modules you need (`spark_trainer.jobs.scheduler`, `.control`, `.submit`...); none of
them imports torch at module top, so the CLI and GUI can use them at start-up.
"""
