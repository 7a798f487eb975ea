"""The VRAM estimate next to the peaks runs really reported (their peak-memory metrics), so a user can
judge it: the memory panel shows the newest few."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.estimate import GIB, estimate_for_config

# Metric keys a worker may use for the measured peak (bytes, or GiB/MiB by suffix).
MEASURED_KEYS = ("gpu_mem_gb", "gpu_mem_peak", "gpu_mem_peak_bytes", "gpu_mem_peak_gb", "gpu_mem_peak_gib", "gpu_mem_peak_mb")


def measured_bytes(key: str, value: float) -> int:
    """A measured-peak metric value in bytes, whatever unit its key names."""
    lowered = key.lower()
    if lowered.endswith(("_gb", "_gib")):
        return int(value * GIB)
    if lowered.endswith("_mb"):
        return int(value * 1024**2)
    return int(value)


@dataclass(frozen=True)
class MeasuredPeak:
    run_id: int
    measured_bytes: int
    estimated_bytes: int | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """measured / estimated (1.0 = exact)."""
        if not self.estimated_bytes:
            return None
        return self.measured_bytes / self.estimated_bytes


def compare_measured(store: Any, limit: int = 20) -> list[MeasuredPeak]:
    """Runs that reported a peak-memory metric, each with what the formula says for its config."""
    from sqlalchemy import select

    from spark_trainer.store import experiments, runs
    from spark_trainer.store.models import MetricSeriesRow as S

    with store.read() as session:
        query = (select(S.run_id, S.key, S.max_value).where(S.key.in_(MEASURED_KEYS), S.max_value.is_not(None))
                 .order_by(S.run_id.desc(), S.key).limit(limit))
        found = list(session.execute(query))
    result = []
    for run_id, key, value in found:
        measured = measured_bytes(key, float(value))
        run = runs.get(store, run_id)
        experiment = experiments.get(store, run.experiment_id)
        try:
            estimate = estimate_for_config(experiment.config, experiment.base_model).total_bytes
            note = ""
        except BadInput as exc:
            estimate, note = None, str(exc)
        result.append(MeasuredPeak(run_id, measured, estimate, note))
    return result
