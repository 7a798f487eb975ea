"""The `spark-trainer` command: parse, call the library, print text or one JSON document.

Exit codes: 0 success, 1 the operation failed, 2 bad input, 3 the output (stdout) could not be written.
Errors are one line on stderr; `--debug` adds the traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from spark_trainer import __version__, home_record
from spark_trainer.cli.chatter import quiet_libraries
from spark_trainer.cli.context import OUTPUT_LOST, Context, OutputLost, Result, Streamed, write_stdout
from spark_trainer.errors import DiskFull, SparkError
from spark_trainer.store.entities import to_jsonable
from spark_trainer.visible import visible

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

# The module that registers each command. A command line naming one imports only that module: importing
# every group's module (ingestion, video, export, cluster...) cost each start about 0.5 s of CPU, paid by
# every `spark-trainer` command and by the worker the scheduler starts for every run. No command, an
# unknown one or --help before it builds them all. tests/cli/test_help.py checks the map against them.
COMMAND_HOMES = {
    "project": "projects", "dataset": "datasets", "exp": "experiments", "recipes": "recipes", "gpus": "system",
    "doctor": "system", "bench": "bench", "run": "runs", "train": "train", "sweep": "sweeps",
    "leaderboard": "ranking", "compare": "ranking", "queue": "queue", "worker": "queue", "demo": "demo",
    "estimate": "estimate", "export": "export", "eval": "evaluate", "generate": "generate",
    "playground-serve": "generate", "settings": "settings", "token": "token", "launch": "cluster",
    "cluster-worker": "cluster", "home": "home", "desktop-entry": "desktop_entry",
}
# Each module of spark_trainer.cli adds its command group, in this order (the order --help lists them).
COMMAND_MODULES = tuple(dict.fromkeys(COMMAND_HOMES.values()))


class UsageError(Exception):
    """A command line argparse rejected; main() prints it (and, with --json, a JSON document)."""


# Words users bring from other tools, and the command each means here ("experiment" is not close to
# "exp" by spelling: it suggested "export"). Used only to word an unknown command's hint.
SYNONYMS = {"experiment": "exp", "experiments": "exp", "projects": "project", "datasets": "dataset",
            "runs": "run", "sweeps": "sweep", "evaluate": "eval", "watch": "logs", "follow": "logs", "tail": "logs",
            "ls": "list", "rm": "delete", "remove": "delete", "status": "show", "info": "show"}


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A sub-parser's prog is the command line that reaches it ("spark-trainer run extend"): the one a
        # command line reaches last leaves its words in the namespace, for messages naming the command.
        self.set_defaults(command_words=self.prog.partition(" ")[2])
        self._words: list[str] = []

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        self._words = list(sys.argv[1:] if args is None else args)  # for error()'s hint
        return super().parse_known_args(args, namespace)

    def add_argument(self, *names: Any, **kwargs: Any) -> argparse.Action:
        """A positional's name in usage lines and errors reads as the README writes it (RUN, not run)."""
        if names and not str(names[0]).startswith("-") and "metavar" not in kwargs and "choices" not in kwargs:
            kwargs["metavar"] = str(names[0]).upper()
        return super().add_argument(*names, **kwargs)

    def error(self, message: str) -> NoReturn:  # one line, exit 2, as the contract says
        raise UsageError(f"{self.prog}: error: {message}{self._dash_hint(message)}")

    def _dash_hint(self, message: str) -> str:
        """A value starting with a dash (`project show -dash`) is read as an unknown option, and argparse
        then says only that the value is missing: name the word and the `--` that makes it a value."""
        if not message.startswith("the following arguments are required"):
            return ""
        words = self._words[:self._words.index("--")] if "--" in self._words else self._words
        unknown = [w for w in words if w.startswith("-") and w != "-" and w.split("=")[0] not in
                   self._option_string_actions and not self._negative_number_matcher.match(w)]
        if not unknown:
            return ""
        return (f" ({unknown[0]} was read as an option; a value that starts with a dash goes after --, as in "
                f"{self.prog} -- {unknown[0]})")

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        """--help and --version are output like any command's: argparse drops a failed write (exit 0)."""
        if message and file in (None, sys.stdout):
            write_stdout(message)
        elif message and file is not None:
            file.write(message)

    def _check_value(self, action: argparse.Action, value: object) -> None:
        """An unknown command names the closest one and lists only those --help shows (not the
        internal roles the app starts: worker, cluster-worker, playground-serve)."""
        if isinstance(action, argparse._SubParsersAction) and value not in (action.choices or {}):
            import difflib

            shown = [a.dest for a in action._choices_actions if a.help is not argparse.SUPPRESS]
            meant = SYNONYMS.get(str(value))
            close = [meant] if meant in shown else difflib.get_close_matches(str(value), shown, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise argparse.ArgumentError(action, f"unknown command {value!r}{hint}; the commands are {', '.join(shown)}")
        super()._check_value(action, value)


def _common_options() -> argparse.ArgumentParser:
    """Global options accepted before or after the command (`--json` at the end works too)."""
    common = _Parser(add_help=False)
    common.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, type=home_record.home_flag,
                        help="data home (default: $SPARK_TRAINER_HOME, else the chosen home "
                             "(`spark-trainer home set`, or the app's Settings), else the platform's user-data dir)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document instead of text")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks on errors")
    return common


def _command_word(words: Sequence[str]) -> str | None:
    """The command a command line names (its first word that is neither an option nor --home's value);
    None where --help comes first, as the help it prints lists every command."""
    after_home = False
    for word in words:
        if after_home:
            after_home = False
        elif word == "--home":
            after_home = True
        elif word in ("-h", "--help"):
            return None
        elif not word.startswith("-"):
            return word
    return None


def _global_options_first(words: Sequence[str]) -> list[str]:
    """The words with --json, --debug and --home DIR moved to the front, where the top-level parser reads
    them. They may come anywhere; but argparse, once it has read an option, drops words that belong to
    a positional list already read (`compare 1 --json 2`: "unrecognized arguments: 2"; `settings show
    --json theme`). Nothing after `--` moves."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            rest.extend(words[i:])
            break
        if word in ("--json", "--debug") or word.startswith("--home="):
            front.append(word)
        elif word == "--home" and i + 1 < len(words) and not words[i + 1].startswith("-"):
            front.extend(words[i:i + 2])  # with its DIR; one without stays, for argparse to say so
            i += 1
        else:
            rest.append(word)
        i += 1
    return front + rest


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; for a known `command`, only the group that registers it."""
    common = _common_options()
    parser = _Parser(
        prog="spark-trainer",
        description="SparkTrainer: datasets, experiments, training runs and exports from the command line.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"spark-trainer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    home = COMMAND_HOMES.get(command or "")
    for name in (home,) if home else COMMAND_MODULES:
        importlib.import_module(f"spark_trainer.cli.{name}").register(sub, common)
    return parser


def _print_result(result: Result, as_json: bool) -> None:
    """Print the result, all of it on stdout before returning; a failed write raises OutputLost."""
    streamed = result.data if as_json else result.text
    if isinstance(streamed, Streamed):
        wrote = False
        for piece in streamed.pieces():
            if piece:
                write_stdout(piece)
                wrote = True
        if wrote:
            write_stdout("\n")
        return
    document = json.dumps(to_jsonable(result.data), indent=2) + "\n" if as_json else None
    text = document if document is not None else result.render_text()
    if text:
        write_stdout(text if as_json else text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    words = _global_options_first(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_word(words))
    try:
        args = parser.parse_args(words)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        if "--json" in words:
            _print_error_document(str(exc), 2)
        raise SystemExit(2) from None
    except OutputLost as exc:  # --help or --version on a full disk
        print(f"error: {exc}", file=sys.stderr)
        _silence_stdout()
        raise SystemExit(OUTPUT_LOST) from None
    except BrokenPipeError:
        _silence_stdout()
        raise SystemExit(0) from None
    ctx = Context(args=args, json=getattr(args, "json", False), debug=getattr(args, "debug", False))
    quiet_libraries(debug=ctx.debug)
    try:
        result = args.handler(ctx, args)
        ctx.warn_if_only_reading()
        _print_result(result, ctx.json)
        return result.exit_code
    except BrokenPipeError:
        # The reader went away (`... | head`): it has what it wanted. Nothing more can be written.
        _silence_stdout()
        return 0
    except OutputLost as exc:  # `> file` on a full disk: no file name to say, and a code of its own
        return _fail(ctx, str(exc), OUTPUT_LOST)
    except SparkError as exc:
        if not isinstance(exc, DiskFull):  # which says the disk is full itself
            ctx.warn_if_only_reading()
        problems = getattr(exc, "problems", None)
        return _fail(ctx, str(exc), exc.exit_code, problems if problems and len(problems) > 1 else None)
    except KeyboardInterrupt:
        return _fail(ctx, "interrupted", 130)
    except OSError as exc:
        if _working_dir_gone(exc):
            return _fail(ctx, "the working directory was deleted (after this shell entered it), so a "
                              "relative path cannot be found; cd to a folder that exists, or give absolute paths", 2)
        blocked = _file_in_the_way(exc, ctx._store.home.root if ctx._store is not None else None)
        if blocked:
            return _fail(ctx, *blocked)
        # A write that fails (a full disk) names no file: say what the command was doing instead.
        where = f"on {exc.filename}" if exc.filename else f"while running `spark-trainer {args.command_words}`"
        return _fail(ctx, f"I/O error {where}: {exc.strerror or exc}", 1)
    finally:
        ctx.close()


def _working_dir_gone(exc: OSError) -> bool:
    """A relative path (`--home rel`, `dataset ingest ./x`) met a deleted working directory: os.getcwd()
    fails with no file name, which said only "I/O error ...: No such file or directory"."""
    if exc.errno != errno.ENOENT or (exc.filename and os.path.isabs(os.fsdecode(exc.filename))):
        return False
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


def _file_in_the_way(exc: OSError, home: Path | None) -> tuple[str, int] | None:
    """A folder to make where a file is. Outside the data home the path given is wrong (`--out
    notes.jsonl/run.yaml`): bad input, exit 2. Inside it a file sits where the app keeps a folder (a run's
    `evals`): nothing the command was given is wrong, so exit 1, and the advice is to move the file."""
    if exc.errno not in (errno.EEXIST, errno.ENOTDIR) or not exc.filename:
        return None
    path = Path(os.fsdecode(exc.filename))
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is None:
        return None
    if home is not None and blocker.resolve().is_relative_to(home.resolve()):
        return f"cannot make a folder at {path}: {blocker} is a file in the data home; move it away and try again", 1
    return f"cannot make a folder at {path}: {blocker} is a file; choose another place", 2


def _fail(ctx: Context, message: str, code: int, problems: list[str] | None = None) -> int:
    if ctx.debug:
        traceback.print_exc()
    # A file's name may hold a line break or a bidi override: shown, not obeyed (a run's error may end
    # with its log's lines, kept as lines).
    print(f"error: {visible(message, lines=True)}" + ("; --json lists them all" if problems and not ctx.json else ""), file=sys.stderr)
    if ctx.json:
        _print_error_document(message, code, problems)
    return code


def _print_error_document(message: str, code: int, problems: list[str] | None = None) -> None:
    """With --json a failure is still one JSON document on stdout, besides the line on stderr; a run
    file with several problems lists each under "problems"."""
    if sys.stdout is None:  # stdout closed: the line on stderr has said it
        return
    try:
        json.dump({"error": message, "code": code, **({"problems": problems} if problems else {})}, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except OSError:  # a reader gone, or the output on a full disk: the line on stderr has said it
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at the null device so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured in tests, or closed)
        pass


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
