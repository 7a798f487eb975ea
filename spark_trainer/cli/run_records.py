"""`run checkpoints RUN`, `run report RUN` and `run config RUN`: what the run page's Checkpoints and
Evaluation tabs show, and the run's settings as a run file (the run page's "Clone into new experiment",
the setup form's "Save as YAML")."""

from __future__ import annotations

import argparse
from pathlib import Path

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import human_bytes, table
from spark_trainer.numbers import metric_text


def register(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    points = actions.add_parser("checkpoints", help="list a run's checkpoints: step, watched metric, size, folder",
                                description="A run's complete checkpoints, newest first, as the run page's "
                                "Checkpoints tab lists them. A step shown here is what --checkpoint STEP takes "
                                "in export, eval and generate.", parents=[common])
    points.add_argument("run", help="run id")
    points.set_defaults(handler=cmd_checkpoints)

    report = actions.add_parser("report", help="a run's newest evaluation report: metrics, per-class precision and "
                                "recall, confusion matrix (the app's Evaluation tab)", parents=[common])
    report.add_argument("run", help="run id")
    report.set_defaults(handler=cmd_report)

    config = actions.add_parser(
        "config", help="a run's settings as a run file, to train again with changes (the app's Clone)",
        description="Print (or write with --out) the settings a run trained with as a run file that "
        "`spark-trainer train FILE` takes: what the run page's 'Clone into new experiment' puts in the setup "
        "form. The name becomes NAME-copy, as the app's clone names it, unless --name says otherwise.",
        parents=[common])
    config.add_argument("run", help="run id")
    config.add_argument("--name", metavar="N", help="the experiment name in the file (default: the run's + '-copy')")
    config.add_argument("--out", metavar="FILE.yaml", help="write the run file here instead of printing it")
    config.set_defaults(handler=cmd_config)


def cmd_checkpoints(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.run_checkpoints import checkpoint_rows, metric_title
    from spark_trainer.store import runs

    run = runs.get(ctx.store, args.run)
    rows = checkpoint_rows(run.run_dir)
    shown = [(r.step, r.metric_text(), human_bytes(r.size_bytes), r.path)
             for r in rows]
    return Result({"run": run.id, "checkpoints": rows},
                  table(["step", metric_title(rows), "size", "folder"], shown,
                        empty=f"run {run.id} has no complete checkpoint yet"))


def cmd_report(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.errors import OperationFailed
    from spark_trainer.jobs.run_eval_report import latest_eval_report, report_metrics
    from spark_trainer.store import runs

    run = runs.get(ctx.store, args.run)
    found = latest_eval_report(ctx.store, run.id)
    if found is None:
        return Result(None, f"run {run.id} has no evaluation report yet: classification and diffusion runs write one "
                      f"at every evaluation (`run metrics {run.id}` has every run's evaluation metrics)")
    if found.data is None:
        raise OperationFailed(found.error)
    data = found.data
    shown = ", ".join(f"{k.removeprefix('eval_')} {metric_text(v)}" for k, v in report_metrics(data).items())
    count = next((f" on {data[k]} validation {k}" for k in ("examples", "images") if k in data), "")
    lines = [f"step {data.get('step')}: {shown}{count}"]
    skipped = data.get("skipped_images") or []
    if skipped:
        lines.append(f"{len(skipped)} image{'s' * (len(skipped) != 1)} skipped, not trained or evaluated: "
                     + "; ".join(f"{s['path']} ({s['reason']})" for s in skipped))
    per_class = data.get("per_class") or {}
    if per_class:
        rows = [(c, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", m["support"])
                for c, m in per_class.items()]
        lines += ["", table(["class", "precision", "recall", "f1", "support"], rows)]
    labels, confusion = data.get("labels"), data.get("confusion")
    if labels and confusion:
        lines += ["", "confusion matrix (rows: true, columns: predicted)",
                  table(["", *labels], [(t, *row) for t, row in zip(labels, confusion, strict=True)],
                        upper=False)]
    if found.image_path:
        lines += ["", f"picture: {found.image_path}"]
    return Result({"run": run.id, "path": found.path, "image": found.image_path, "report": data}, "\n".join(lines))


def cmd_config(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.config import config_to_yaml, save_config, validate_config
    from spark_trainer.jobs.clone import clone_config
    from spark_trainer.store import runs

    store = ctx.store
    run = runs.get(store, args.run)
    data = clone_config(store, run, args.name)  # as the app's Clone fills the setup form
    config = validate_config(data, f"run {run.id}'s config")
    if args.out:
        target = Path(args.out).expanduser()
        if target.exists():
            from spark_trainer.errors import BadInput

            raise BadInput(f"--out {target} already exists; choose a new file (it is never written over)")
        path = save_config(config, target)
        ctx.info(f"wrote run {run.id}'s settings to {path}; `spark-trainer train {path}` trains them "
                 f"(--set KEY=VALUE changes one)")
        return Result({"run": run.id, "path": str(path), "config": config.model_dump(mode="json")}, str(path))
    return Result(config.model_dump(mode="json"), config_to_yaml(config).rstrip("\n"))
