"""`eval RUN --task ...`: evaluate a run's checkpoint (or its base model) in a managed worker."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import table
from spark_trainer.errors import BadInput
from spark_trainer.evaluation.classification import skipped_line
from spark_trainer.numbers import metric_text


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("eval", help="evaluate a run (perplexity, classification, multiple choice) in a process of its own, waiting for it (Ctrl-C cancels)",
                       parents=[common])
    p.add_argument("run", help="run id")
    p.add_argument("--task", choices=["perplexity", "classification", "mcq"],
                   help="perplexity (text/JSONL), classification (labelled CSV/JSONL: "
                   "texts, or image paths relative to the file; for images also a folder of class "
                   "sub-folders) or mcq (CSV/JSONL with subject, question, A, B, C, D, answer)")
    p.add_argument("--data", metavar="FILE|DIR|DATASET",
                   help="the evaluation file (or class-folder folder), or an ingested dataset's name or id")
    p.add_argument("--base", action="store_true", help="evaluate the run's base model instead (a baseline)")
    p.add_argument("--checkpoint", metavar="last|best|STEP", help="which checkpoint (default last)")
    p.add_argument("--gpus", default="auto", help="auto (first GPU, else CPU), cpu, or a GPU id")
    p.add_argument("--list", action="store_true", help="list the run's evaluations (newest first, as the run "
                   "page's Exports tab) instead of evaluating")
    p.set_defaults(handler=cmd_eval)


def cmd_eval(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.evaluation import jobs

    store = ctx.store
    if args.list:
        given = [f"--{name}" for name in ("task", "data", "base", "checkpoint") if getattr(args, name)]
        if given:
            raise BadInput(f"--list lists the run's evaluations; leave out {', '.join(given)}")
        return _list(ctx, args.run)
    if args.base and args.checkpoint is not None:
        raise BadInput("--checkpoint names the run's weights to evaluate; --base evaluates the base model instead: "
                       "give one of them")
    missing = [name for name, value in (("--task", args.task), ("--data", args.data)) if not value]
    if missing:
        raise BadInput(f"eval: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required "
                       "(or --list to list the run's evaluations)")
    ev = jobs.submit(store, args.run, task=args.task, data_path=args.data, base=args.base,
                     checkpoint=args.checkpoint or "last", gpus=args.gpus)
    ctx.info(f"evaluation {ev.id} of run {ev.run_id} ({weights_asked(ev)}) started on "
             f"{'GPU ' + ','.join(map(str, ev.gpus)) if ev.gpus else 'CPU'}; Ctrl-C cancels")

    from spark_trainer.cli.hangup import like_ctrl_c

    with like_ctrl_c():  # a closed terminal or a SIGTERM cancels it too, as Ctrl-C does
        ev = jobs.wait(store, ev.id, on_progress=EvalProgress(tty=sys.stderr.isatty(), say=ctx.info))
    if ev.status != "completed":
        reason = [line for line in (ev.error or "").strip().splitlines()[:1] if line != ev.status]  # not "cancelled: cancelled"
        return Result({"evaluation": ev.id, "status": ev.status, "error": ev.error},
                      f"evaluation {ev.id} {ev.status}" + (f": {reason[0]}" if reason else ""), exit_code=1)
    report = dict(ev.result or {})
    report.pop("predictions", None)
    data = {"evaluation": ev.id, "run": ev.run_id, **report}
    return Result(data, lambda: _text(report))


def weights_asked(ev: Any) -> str:
    """What an evaluation was asked to evaluate, in words: "base model", "checkpoint at step 2", "last
    checkpoint" (`--checkpoint 2` was said as "(2)")."""
    if ev.base:
        return "base model"
    asked = str(ev.checkpoint)
    return f"checkpoint at step {int(asked)}" if asked.isdigit() else f"{asked} checkpoint"


def _list(ctx: Context, run: str) -> Result:
    from spark_trainer.evaluation import jobs
    from spark_trainer.store import evaluations

    found = jobs.list_for_run(ctx.store, run)
    names = evaluations.data_names(ctx.store, found)
    rows = [(e.id, e.task, e.weights, e.status, _result(e), names[e.data_path])
            for e in found]
    data = [replace(e, result={k: v for k, v in e.result.items() if k != "predictions"}) if e.result else e
            for e in found]  # one item's prediction each: the report file keeps them
    return Result(data, table(["id", "task", "weights", "status", "result", "data"], rows,
                               empty="no evaluations yet; start one with `spark-trainer eval RUN --task T --data FILE`"))


def _result(ev: Any) -> str:
    """The evaluation's metrics in one cell (its progress while it runs, its error's first line if it failed)."""
    if ev.status == "completed":
        found = (ev.result or {}).get("metrics", {})
        return "  ".join(f"{k} {metric_text(v)}" for k, v in found.items()) or "-"
    if ev.is_active:
        return f"{ev.done}/{ev.total}" if ev.total else "starting"
    return next(iter((ev.error or "").strip().splitlines()), "-")  # a blank error has no first line


class EvalProgress:
    """`done/total` lines on stderr: every update on a terminal, where they are watched as they come;
    into a pipe or a file (a log, CI) only a line a further tenth of the items, or after `every_s`
    seconds without one (a slow evaluation still says it is alive), and the last one."""

    def __init__(self, *, tty: bool, every_s: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 say: Callable[[str], None] | None = None) -> None:
        self.tty = tty
        self.say = say or (lambda line: print(line, file=sys.stderr, flush=True))  # the command passes ctx.info
        self.every_s = every_s
        self.clock = clock
        self._said_at = clock()
        self._said_tenth = 0
        self._said_done = -1

    def __call__(self, current: Any) -> None:
        done, total = current.done, current.total
        if not total or done == self._said_done:
            return
        tenth = done * 10 // total
        now = self.clock()
        if self.tty or done >= total or tenth > self._said_tenth or now - self._said_at >= self.every_s:
            self._said_at, self._said_tenth, self._said_done = now, tenth, done
            self.say(f"  {done}/{total}")


def _text(report: dict[str, Any]) -> str:
    lines = [f"{report['task']} ({'base model' if report.get('base') else 'step ' + str(report.get('step'))})"]
    lines += [f"  {k}: {metric_text(v)}" for k, v in report.get("metrics", {}).items()]
    if skipped := skipped_line(report):
        lines.append(skipped)
    if report.get("by_subject"):
        rows = [(s, f"{a:.4f}", report["counts"][s]) for s, a in report["by_subject"].items()]
        lines += ["", table(["subject", "accuracy", "questions"], rows)]
    if report.get("per_class"):
        rows = [(c, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", m["support"])
                for c, m in report["per_class"].items()]
        lines += ["", table(["class", "precision", "recall", "f1", "support"], rows)]
        labels = report["labels"]
        lines += ["", "confusion matrix (rows: true, columns: predicted)",
                  table(["", *labels], [(t, *row) for t, row in zip(labels, report["confusion_matrix"], strict=True)],
                        upper=False)]
    return "\n".join(lines)
