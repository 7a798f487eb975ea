"""`gpus` and `doctor`: what this machine offers for training."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from spark_trainer import __version__, home_record
from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, human_bytes, table
from spark_trainer.cli.verbs import strip_verb
from spark_trainer.gpu import list_gpus, nvml_status
from spark_trainer.paths import disk_free_bytes
from spark_trainer.store import migrate
from spark_trainer.store.entities import to_jsonable

if TYPE_CHECKING:
    from spark_trainer.store.unrecorded import Unrecorded


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    gpus = sub.add_parser("gpus", help="list NVIDIA GPUs with memory, utilisation, temperature and the runs on each",
                          parents=[common], usage="%(prog)s [-h] [--home DIR] [--json] [--debug] [list]")
    gpus.add_argument("words", nargs="*", metavar="list", help="optional, as in the other groups")
    gpus.set_defaults(handler=cmd_gpus)
    doctor = sub.add_parser("doctor", help="check Python, torch, CUDA, GPUs, disk space and the database",
                            parents=[common])
    doctor.set_defaults(handler=cmd_doctor)


def cmd_gpus(ctx: Context, args: argparse.Namespace) -> Result:
    strip_verb("gpus", args.words, {"list": 0}, 0, "gpus [list]")
    gpus = list_gpus()
    if not _home_exists(ctx):  # listing GPUs needs no home: never make one (nor refuse) for the runs column
        if not gpus:
            return Result([], f"no NVIDIA GPU found ({nvml_status()}); training will run on the CPU")
        rows = [_gpu_row(g) for g in gpus]
        return Result([to_jsonable(g) for g in gpus], table(_GPU_HEADERS, rows))
    from spark_trainer.jobs.gpus import holders
    from spark_trainer.jobs.reconcile import reconcile
    from spark_trainer.store import runs

    reconcile(ctx.store)  # a run whose worker died holds nothing
    active = [r for r in runs.list_all(ctx.store) if r.status.is_active]
    held = holders(active)  # which runs hold each GPU, as the GPUs view shows under each one
    cpu = [r for r in active if not r.gpus]
    cpu_line = "runs on the CPU now: " + ", ".join(_run_word(r) for r in cpu) if cpu else "no run is using the CPU"
    if not gpus:
        return Result([], f"no NVIDIA GPU found ({nvml_status()}); training will run on the CPU\n{cpu_line}")
    rows = [(*_gpu_row(g), ", ".join(_run_word(r) for r in held.get(g.index, [])) or "-") for g in gpus]
    data = [{**to_jsonable(g), "runs": [r.id for r in held.get(g.index, [])]} for g in gpus]  # a list, as before
    text = table([*_GPU_HEADERS, "runs"], rows)
    return Result(data, text + (f"\n{cpu_line}" if cpu else ""))


_GPU_HEADERS = ["gpu", "name", "free", "total", "util", "temp", "power"]


def _gpu_row(g) -> tuple:
    return (g.index, g.name, human_bytes(g.memory_free), human_bytes(g.memory_total),
            "-" if g.utilization is None else f"{g.utilization}%",
            "-" if g.temperature is None else f"{g.temperature} C",
            "-" if g.power_watts is None else f"{g.power_watts:.0f} W")


def _home_exists(ctx: Context) -> bool:
    """A home with a database that can be opened as it is (a new --home, or a chosen home whose drive
    is not mounted, has none)."""
    chosen = ctx.chosen
    return chosen.home.db_path.exists() and home_record.missing_home(chosen) is None


def _run_word(run) -> str:
    return f"run {run.id} ({run.experiment}, step {run.step})"


# Modules whose distribution name differs; a frozen app may carry the module without its metadata.
_MODULE_OF = {"PySide6-Essentials": "PySide6", "opencv-python-headless": "cv2"}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:  # the frozen build (PyInstaller) keeps only some packages' metadata: ask the module itself
        module = importlib.import_module(_MODULE_OF.get(dist, dist.replace("-", "_")))
    except ImportError:
        return None
    return getattr(module, "__version__", None)


def _torch_report() -> dict:
    try:
        import torch
    except ImportError as exc:
        return {"installed": False, "error": str(exc)}
    report = {"installed": True, "version": torch.__version__, "cuda_available": torch.cuda.is_available(),
              "cuda_version": torch.version.cuda, "device_count": 0, "bf16": False}
    if report["cuda_available"]:
        report["device_count"] = torch.cuda.device_count()
        report["bf16"] = bool(torch.cuda.is_bf16_supported())
    return report


def _filesystem(root: Path) -> dict | None:
    """The data home's filesystem (type, mount point, source) and, on a network one, the warning."""
    from spark_trainer.disk import mount_of, network_home_warning

    mount = mount_of(root)
    if mount is None:
        return None
    return {"mount_point": mount[0], "type": mount[1], "source": mount[2], "warning": network_home_warning(root)}


def _filesystem_line(found: dict | None) -> str:
    if found is None:
        return "unknown"
    line = f"{found['type']} at {found['mount_point']}"
    return line + (f" from {found['source']} (network filesystem: not safe for the database)" if found["warning"] else "")


def cmd_doctor(ctx: Context, args: argparse.Namespace) -> Result:
    chosen = ctx.chosen
    home = chosen.home
    revision, db_problem = _database_state(ctx)
    unrecorded = _unrecorded(ctx) if db_problem is None else None
    left = _leftovers(ctx) if db_problem is None else []  # no home to look through (or a path none can be)
    set_aside = home_record.set_aside_leftovers()
    torch_info = _torch_report()
    gpus = list_gpus()
    libraries = {name: _version(name) for name in
                 ("transformers", "peft", "accelerate", "diffusers", "PySide6-Essentials", "pyqtgraph",
                  "opencv-python-headless", "SQLAlchemy", "alembic", "bitsandbytes")}
    data = {
        "spark_trainer": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch_info,
        "nvml": nvml_status(),
        "gpus": gpus,
        "home": str(home.root),
        "home_source": chosen.source,
        "disk_free_bytes": disk_free_bytes(home.root),
        "filesystem": _filesystem(home.root),
        "database": str(home.db_path),
        "schema_revision": revision,
        "database_problem": db_problem,
        "schema_head": migrate.HEAD_REVISION,
        "libraries": libraries,
        **{f"unrecorded_{kind}_folders": [str(p) for p in getattr(unrecorded, f"{kind}s", [])]
           for kind in ("dataset", "run", "export")},
        "leftover_folders": [{"path": str(p), "bytes": size} for p, size in left],
        "old_homes_left": [{"folder": str(folder), "moved_to": new} for folder, new in set_aside],
        "database_backups": _backups(home.db_path),  # named with a damaged database too: what to restore
    }

    def text() -> str:
        if torch_info.get("installed"):
            cuda = (f"CUDA {torch_info['cuda_version']}, {torch_info['device_count']} device(s), "
                    f"bf16 {'yes' if torch_info['bf16'] else 'no'}") if torch_info["cuda_available"] else "no CUDA (CPU only)"
            torch_line = f"{torch_info['version']} ({cuda})"
        else:
            torch_line = f"not installed ({torch_info['error']})"
        gpu_line = ", ".join(f"{g.index}: {g.name} {human_bytes(g.memory_total)}" for g in gpus) or "none found"
        lib_line = ", ".join(f"{k} {v}" for k, v in libraries.items() if v) or "-"
        missing = [k for k, v in libraries.items() if not v]
        return fields([
            ("SparkTrainer", __version__), ("Python", f"{data['python']} on {data['platform']}"),
            ("torch", torch_line), ("NVML", data["nvml"]), ("GPUs", gpu_line), ("data home", f"{home.root} ({chosen.why})"),
            ("disk free", human_bytes(data["disk_free_bytes"])),
            ("filesystem", _filesystem_line(data["filesystem"])),
            ("database", f"{home.db_path} (schema {data['schema_revision']}, code knows {migrate.HEAD_REVISION})"
             if db_problem is None else f"PROBLEM: {db_problem}"),
            ("libraries", lib_line), ("not installed", ", ".join(missing) or "-"),
            ("unrecorded", _unrecorded_lines(unrecorded)),
            ("left behind", _leftover_line(home.root, left)),
            ("backups", _backups_line(data["database_backups"])),
            *(("old home left", home_record.set_aside_line(folder, new)) for folder, new in set_aside),
        ])

    return Result(data, text, exit_code=0 if db_problem is None else 1)


def _backups(db_path: Path) -> list[dict]:
    try:
        return [{"path": str(p), "bytes": p.stat().st_size} for p in migrate.backups(db_path)]
    except OSError:  # a home path no folder can have (doctor names that problem)
        return []


def _backups_line(found: list[dict]) -> str:
    """The copies each upgrade made of the database before migrating it: nothing removes them."""
    if not found:
        return "-"
    newest = Path(found[-1]["path"]).name
    many = len(found) > 1
    return (f"{len(found)} cop{'ies' if many else 'y'} of the database made before upgrades "
            f"({human_bytes(sum(b['bytes'] for b in found))}), newest {newest}; "
            + ("delete the older ones once this version works for you" if many
               else "delete it once this version works for you"))


def _unrecorded(ctx: Context) -> Unrecorded:
    from dataclasses import replace

    from spark_trainer.export.pending import awaiting
    from spark_trainer.store import unrecorded

    return replace(unrecorded.find(ctx.store), awaiting=frozenset(awaiting(ctx.store)))


_WHAT = {"datasets": "dataset", "runs": "run", "exports": "export"}


def _unrecorded_lines(found: Unrecorded | None) -> str:
    """One line per home folder holding folders no record names (store/unrecorded.py): nothing removes
    them on its own (a delete told to keep its files leaves them too), so the user is told."""
    from spark_trainer.disk import folder_bytes

    lines = []
    for place, listed in found.by_place() if found is not None else ():
        folders = [p for p in listed if p.resolve() not in found.awaiting]
        kept = [p for p in listed if p.resolve() in found.awaiting]
        if kept:  # an export killed before its record: the next export of its run records it (export/pending.py)
            lines.append(f"{len(kept)} export folder{'s' * (len(kept) > 1)} in {place}/ not recorded yet "
                         f"({human_bytes(sum(folder_bytes(p) for p in kept))}): {', '.join(p.name for p in kept)}; "
                         "the next export of its run records it, whole")
        if not folders:
            continue
        size = sum(folder_bytes(p) for p in folders)
        one = len(folders) == 1
        lines.append(f"{len(folders)} folder{'' if one else 's'} in {place}/ hold{'s' if one else ''} no recorded "
                     f"{_WHAT[place]} ({human_bytes(size)}): {', '.join(p.name for p in folders)}; "
                     f"delete {'it' if one else 'them'} if you do not need {'it' if one else 'them'}")
    return "\n".join(lines) or "-"


def _leftovers(ctx: Context) -> list[tuple[Path, int]]:
    """Folders of commands killed outright (pins, stagings, the video wizard's work: jobs/leftovers.py),
    with their size."""
    from spark_trainer.disk import folder_bytes
    from spark_trainer.jobs import leftovers

    return [(p, folder_bytes(p)) for p in leftovers.dead_in_home(ctx.home)]


def _leftover_line(root: Path, left: list[tuple[Path, int]]) -> str:
    if not left:
        return "-"
    one = len(left) == 1
    names = ", ".join(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p, _ in left)
    return (f"{len(left)} folder{'' if one else 's'} of commands that were killed ({human_bytes(sum(s for _, s in left))}): "
            f"{names}; removed by the next command that lists runs (`spark-trainer run list`)")


def _database_state(ctx: Context) -> tuple[str | None, str | None]:
    """(schema revision, None) for a healthy database, else (None, what is wrong and what to do).
    A damaged database must not stop doctor: reporting it is doctor's job."""
    from sqlalchemy.exc import DatabaseError

    from spark_trainer.errors import SparkError

    try:
        store = ctx.store
        with store.engine.connect() as conn:
            check = conn.exec_driver_sql("PRAGMA quick_check").scalar()
        if check != "ok":
            return None, (f"{ctx.home.db_path} is damaged ({check}); it was left untouched. Restore a backup "
                          f"({ctx.home.db_path.name}.backup-*) or move it aside to start an empty database")
        return store.schema_revision(), None
    except SparkError as exc:
        return None, str(exc)
    except DatabaseError as exc:
        return None, (f"{ctx.home.db_path} is damaged ({exc.orig}); it was left untouched. Restore a backup "
                      f"({ctx.home.db_path.name}.backup-*) or move it aside to start an empty database")
