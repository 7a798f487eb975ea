"""`launch EXP|RUN_FILE ...` (a cluster job folder), `run import DIR`, and the hidden `cluster-worker` role."""

from __future__ import annotations

import argparse
from pathlib import Path

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, positive_int


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "launch", help="export an experiment or run file as a multi-node job folder (slurm, torchrun, accelerate)",
        parents=[common],
        description="Writes a self-contained job folder: the frozen config, the dataset and base model (or paths "
        "on shared storage), the scheduler's launch script and a README. Bring the results back with "
        "`spark-trainer run import DIR`.")
    parser.add_argument("source", metavar="EXP|RUN_FILE", help="experiment name or id, or a run file (.yaml)")
    parser.add_argument("--nodes", type=positive_int, required=True, metavar="N", help="number of machines")
    parser.add_argument("--procs-per-node", type=positive_int, required=True, metavar="M",
                        help="processes per machine (one per GPU; CPU runs: processes talking through gloo)")
    parser.add_argument("--scheduler", required=True, choices=["slurm", "torchrun", "accelerate"],
                        help="slurm: an sbatch script; torchrun / accelerate: launch.sh run on every node")
    parser.add_argument("--out", required=True, metavar="DIR", help="the job folder to write (new or empty)")
    parser.add_argument("--shared-data", metavar="PATH",
                        help="the dataset folder's path on storage every node sees (instead of a copy)")
    parser.add_argument("--shared-model", metavar="PATH",
                        help="the base model's path on storage every node sees (instead of a copy)")
    parser.add_argument("--partition", help="slurm: #SBATCH --partition")
    parser.add_argument("--time", dest="time_limit", metavar="LIMIT", help="slurm: #SBATCH --time, e.g. 04:00:00")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="with a run file: override one config value, e.g. train.max_steps=50 (repeatable)")
    parser.set_defaults(handler=cmd_launch)

    worker = sub.add_parser("cluster-worker", help=argparse.SUPPRESS, parents=[common])
    worker.add_argument("job_dir", help="job folder")
    worker.set_defaults(handler=cmd_cluster_worker)


def register_import(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`run import DIR`, added to the `run` group."""
    imp = actions.add_parser("import", help="bring a cluster job folder back as a run (again: update it, or --as-new)",
                             parents=[common])
    imp.add_argument("job_dir", metavar="DIR", help="the job folder `spark-trainer launch` wrote")
    imp.add_argument("--as-new", action="store_true",
                     help="import the job as a new run, leaving its earlier import (and any training done on it "
                          "here since) as it is; without it, importing a job again updates its run, and is "
                          "refused once that run has been trained here")
    imp.set_defaults(handler=cmd_import)


def _is_run_file(source: str) -> bool:
    path = Path(source)
    return path.suffix.lower() in (".yaml", ".yml") or path.is_file()


def cmd_launch(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.cluster.launch import LaunchOptions, launch_config, launch_experiment

    options = LaunchOptions(nodes=args.nodes, procs_per_node=args.procs_per_node, scheduler=args.scheduler,
                            out=Path(args.out), shared_data=args.shared_data, shared_model=args.shared_model,
                            partition=args.partition, time_limit=args.time_limit)
    if _is_run_file(args.source):
        from spark_trainer.config import apply_overrides, validate_config
        from spark_trainer.config.yaml_io import load_yaml

        data, node = load_yaml(args.source)
        config = validate_config(apply_overrides(data, args.set), args.source, node, args.set, typed=True)
        job = launch_config(ctx.store, config, options, base_dir=Path(args.source).resolve().parent)
    else:
        if args.set:
            from spark_trainer.errors import BadInput

            raise BadInput("--set applies to run files; change an experiment's settings with `exp create --set`")
        from spark_trainer.errors import NotFound
        from spark_trainer.store import experiments

        try:
            experiments.get(ctx.store, args.source)
        except NotFound as exc:  # launch takes a run file too: say the name is neither
            raise NotFound(f"no experiment named or numbered {args.source!r}, nor a run file "
                           f"{Path(args.source).resolve()}; see `spark-trainer exp list`") from exc
        job = launch_experiment(ctx.store, args.source, options)
    spec = job.spec
    data = {"job_dir": str(job.path), "uuid": spec.uuid, "scheduler": spec.scheduler, "nodes": spec.nodes,
            "procs_per_node": spec.procs_per_node, "world_size": spec.world_size, "files": job.files,
            "next": job.command}
    text = fields([("job folder", job.path), ("experiment", f"{spec.project}/{spec.experiment}"),
                   ("layout", f"{spec.nodes} node(s) x {spec.procs_per_node} = {spec.world_size} rank(s), "
                              f"{spec.scheduler}, {spec.device}"),
                   ("next", job.command), ("afterwards", f"spark-trainer run import {job.path}")])
    return Result(data, text)


def cmd_import(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.cluster.importing import import_job
    from spark_trainer.store.imported_runs import name_runs

    imported = import_job(ctx.store, Path(args.job_dir), as_new=args.as_new)
    run = imported.run
    verb = "updated" if imported.updated else "imported as"
    held = list(imported.earlier)
    earlier = (f"; {name_runs(held)} {'keeps' if len(held) == 1 else 'keep'} this job's earlier "
               f"import{'s' if len(held) > 1 else ''}") if held else ""
    return Result({"run": run, "updated": imported.updated, "metrics": imported.metric_points,
                   "artifacts": imported.artifacts, "earlier_run": held[-1] if held else None, "earlier_runs": held},
                  f"{verb} run {run.id} ({run.experiment}, {run.ran_on}): {run.status.value} at step "
                  f"{run.step}/{run.total_steps or '?'}, {imported.metric_points} metric points, "
                  f"{imported.artifacts} artifacts{earlier}")


def cmd_cluster_worker(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.cluster.rank import run_job_rank

    code = run_job_rank(Path(args.job_dir))
    return Result({"job_dir": args.job_dir, "exit_code": code}, "", exit_code=code)
