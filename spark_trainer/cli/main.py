"""The `spark-trainer` command: parse, call the library, print text or one JSON document.

Exit codes: 0 success, 1 the operation failed, 2 bad input. Errors are one line on stderr;
`--debug` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence

from spark_trainer import __version__
from spark_trainer.cli import bench as bench_cli
from spark_trainer.cli import datasets, experiments, projects, recipes, system
from spark_trainer.cli import demo as demo_cli
from spark_trainer.cli import generate as generate_cli
from spark_trainer.cli import queue as queue_cli
from spark_trainer.cli import runs as runs_cli
from spark_trainer.cli import train as train_cli
from spark_trainer.cli.context import Context, Result
from spark_trainer.errors import SparkError
from spark_trainer.store.entities import to_jsonable

# Each module adds its command group. Later capabilities (runs, queue, train, export...) add theirs.
COMMAND_MODULES = [projects, datasets, experiments, recipes, system, bench_cli, runs_cli, train_cli, queue_cli, demo_cli,
                   generate_cli]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as the contract says
        self.exit(2, f"{self.prog}: error: {message}\n")


def _common_options() -> argparse.ArgumentParser:
    """Global options accepted before or after the command (`--json` at the end works too)."""
    common = _Parser(add_help=False)
    common.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                        help="data home (default: $SPARK_TRAINER_HOME or the platform's user-data dir)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document instead of text")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks on errors")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(
        prog="spark-trainer",
        description="SparkTrainer: datasets, experiments, training runs and exports from the command line.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"spark-trainer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def _print_result(result: Result, as_json: bool) -> None:
    if as_json:
        json.dump(to_jsonable(result.data), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        text = result.render_text()
        if text:
            print(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(args=args, json=getattr(args, "json", False), debug=getattr(args, "debug", False))
    try:
        result = args.handler(ctx, args)
        _print_result(result, ctx.json)
        return result.exit_code
    except SparkError as exc:
        return _fail(ctx, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail(ctx, "interrupted", 130)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        return _fail(ctx, f"I/O error on{where}: {exc.strerror or exc}", 1)
    finally:
        ctx.close()


def _fail(ctx: Context, message: str, code: int) -> int:
    if ctx.debug:
        traceback.print_exc()
    print(f"error: {message}", file=sys.stderr)
    return code


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
