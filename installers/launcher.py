"""Entry point of the frozen app: one executable, many roles.

    SparkTrainer                 the desktop app
    SparkTrainer worker RUN_ID   a training worker (started by the job runner)
    SparkTrainer keeper RUN_ID PID START   the worker's keeper (starts queued runs if it is killed)
    SparkTrainer cli ARGS...     the headless command line
    SparkTrainer --version       the version (same as `SparkTrainer cli --version`)
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()
    args = sys.argv[1:]
    if args[:1] == ["worker"]:
        from spark_trainer.cli.main import main as cli_main

        return cli_main(args)
    if args[:1] == ["keeper"]:  # a worker's keeper (spark_trainer/jobs/chain_keeper.py)
        from spark_trainer.jobs.chain_keeper import main as keeper_main

        return keeper_main(args[1:])
    if args[:1] in (["cli"], ["--version"]):
        from spark_trainer.cli.main import main as cli_main

        return cli_main(args[1:] if args[0] == "cli" else args)
    from app.main import main as gui_main

    return gui_main(args)


if __name__ == "__main__":
    sys.exit(main())
