"""`run logs RUN [--tail N] [--follow]`: a run's worker log, or the log as it grows until the run ends."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spark_trainer.cli.context import Context, Result, write_stdout
from spark_trainer.jobs import process
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus


def cmd_logs(ctx: Context, args: argparse.Namespace) -> Result:
    store = ctx.store
    reconcile(store)
    run = runs.get(store, args.run)
    path = Path(run.run_dir) / process.LOG_NAME
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    if not path.exists() and not args.follow:  # an empty answer read as an empty log
        ctx.info(f"run {run.id} has not started yet, so it has no log" if run.status == RunStatus.QUEUED
                 else f"run {run.id} has no log: {path} is missing (deleted by hand?)")
    if args.tail is not None:
        kept = text.splitlines()[-args.tail:] if args.tail else []
        text = "\n".join(kept) + ("\n" if kept else "")
    if not args.follow:
        return Result({"run": run.id, "log": text}, text.rstrip("\n"))
    # Text streams the log as it grows; --json collects it into its one document instead.
    followed: list[str] = []  # kept only for --json: a long run's log is not held in text mode

    def show(chunk: str) -> None:
        if ctx.json:
            followed.append(chunk)
        else:
            write_stdout(chunk)

    show(text)
    offset = path.stat().st_size if path.exists() else 0

    def copy_new() -> None:
        nonlocal offset
        if path.exists():
            if path.stat().st_size < offset:
                offset = 0  # deleted and begun afresh (the worker reopens a deleted log): show the new one
            with open(path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
            offset += len(chunk)
            if chunk:
                show(chunk.decode("utf-8", errors="replace"))

    while True:
        reconcile(store)
        current = runs.get(store, run.id)
        if not current.status.is_active and current.status != RunStatus.QUEUED:
            # The worker writes its last lines after recording the outcome: let it exit first.
            if current.pid is not None:
                process.wait_gone(current.pid, current.pid_start_time, timeout_s=10)
            copy_new()
            break
        copy_new()
        time.sleep(0.5)
    # The log is already on stdout: no text after it (None would print the data as JSON).
    return Result({"run": run.id, "status": current.status, "log": "".join(followed)}, "")
