"""What a run asks for and where it fits.

Forms: `auto`, `cpu`, `cpu:N` (N CPU processes), GPU ids like `0` or `0,1` (as in CUDA_VISIBLE_DEVICES
and the GUI's GPU picker), or a number of GPUs, any free ones, as `count:N`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spark_trainer.errors import BadInput

SPEC_HELP = "auto | cpu | cpu:N (N CPU processes) | GPU ids like 0 or 0,1 | count:N (any N free GPUs)"


@dataclass(frozen=True)
class GpuRequest:
    """A parsed request. `ids` set means exactly those GPUs; else `count` GPUs (0 = CPU)."""

    text: str
    count: int
    ids: tuple[int, ...] | None = None
    cpu_processes: int = 1
    auto: bool = False

    @property
    def is_cpu(self) -> bool:
        return self.count == 0 and not self.ids


def parse_request(text: str | None, *, typed: bool = False) -> GpuRequest:
    """Parse a `gpus:` value. Raises BadInput naming the value and the accepted forms.

    `typed`: the user wrote it just now (a run file or --gpus at submit, the default_gpus setting);
    then an empty id ("0,,1", most likely an id lost while typing) is refused. Stored values (a
    queued run's request, the setting, an experiment's config) were accepted so before: their empty
    ids are dropped, as they always were, so that an old row never stops a run or a submit."""
    raw = (text or "auto").strip().lower()
    if raw == "auto":
        return GpuRequest(raw, count=1, auto=True)
    if raw == "cpu":
        return GpuRequest(raw, count=0)
    if raw.startswith("cpu:"):
        n = raw[4:]
        if not n.isdigit() or not 1 <= int(n) <= 64:
            raise BadInput(f"gpus: {text!r} is not valid; cpu:N needs N from 1 to 64")
        return GpuRequest(raw, count=0, cpu_processes=int(n))
    if raw.startswith("count:"):
        n = raw[6:]
        if not n.isdigit() or not 1 <= int(n) <= 64:
            raise BadInput(f"gpus: {text!r} is not valid; count:N needs N from 1 to 64")
        return GpuRequest(raw, count=int(n))
    if raw.replace(",", "").replace(" ", "").isdigit():
        parts = [p.strip() for p in raw.split(",")]
        if len(parts) > 1 and not parts[-1]:
            parts.pop()  # one trailing comma ends the list ("3,", as YAML keeps `gpus: 3,`)
        if "" in parts and typed:  # "0,,1": an id lost while typing, not one to skip
            raise BadInput(f"gpus: {text!r} has an empty GPU id; separate ids with one comma, like 0,1")
        kept = [p for p in parts if p]
        if not kept or not all(p.isdigit() for p in kept):
            raise BadInput(f"gpus: {text!r} is not valid; expected {SPEC_HELP}")
        ids = tuple(sorted({int(p) for p in kept}))
        # A stored "0,,1" reads (and is passed on) as "0,1"; anything else keeps its text.
        return GpuRequest(raw if len(kept) == len(parts) else ",".join(map(str, ids)), count=len(ids), ids=ids)
    raise BadInput(f"gpus: {text!r} is not valid; expected {SPEC_HELP}")


def check_fits(request: GpuRequest, machine: Sequence[int]) -> None:
    """Refuse a request this machine can never satisfy (unknown ids, more GPUs than it has)."""
    have = sorted(machine)
    described = f"{len(have)} GPU{'s' if len(have) != 1 else ''}" + (f" (ids {','.join(map(str, have))})" if have else "")
    if request.ids is not None:
        missing = [i for i in request.ids if i not in have]
        if missing:
            raise BadInput(f"gpus: GPU {','.join(map(str, missing))} requested but this machine has {described}")
    elif not request.auto and request.count > len(have):
        raise BadInput(f"gpus: {request.count} GPUs requested but this machine has {described}")


def place(request: GpuRequest, machine: Sequence[int], busy: set[int]) -> list[int] | None:
    """The GPUs to give a run now, [] for a CPU run, or None if it must wait."""
    if request.is_cpu:
        return []
    if request.auto and not machine:
        return []
    free = [g for g in sorted(machine) if g not in busy]
    if request.ids is not None:
        return list(request.ids) if all(g in free for g in request.ids) else None
    return free[: request.count] if len(free) >= request.count else None


def world_size(request: GpuRequest, gpus: Sequence[int]) -> int:
    """Processes to launch: one per GPU, or `cpu:N` processes on CPU."""
    return len(gpus) if gpus else request.cpu_processes


def planned_gpus(text: str | None, gpus: Sequence[Any]) -> list[Any]:
    """The GPUs (objects with `index` and `memory_free`) a run with this `gpus:` value would be planned
    on: those ids, else the ones with the most free memory; [] for a CPU run or a GPU-less machine."""
    request = parse_request(text)
    if request.is_cpu or not gpus:
        return []
    if request.ids is not None:
        chosen = [g for g in gpus if g.index in request.ids]
        missing = sorted(set(request.ids) - {g.index for g in chosen})
        if missing:
            raise BadInput(f"gpus: GPU {','.join(map(str, missing))} requested but this machine has GPUs "
                           f"{','.join(str(g.index) for g in gpus)}")
        return chosen
    return sorted(gpus, key=lambda g: -g.memory_free)[:max(1, request.count)]


def holders(active: Sequence[Any]) -> dict[int, list[Any]]:
    """GPU index -> the active runs placed on it (the GPUs view's 'held by', `spark-trainer gpus`'s runs)."""
    held: dict[int, list[Any]] = {}
    for run in active:
        for index in run.gpus:
            held.setdefault(index, []).append(run)
    return held
