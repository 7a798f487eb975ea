"""GPU discovery through NVML (nvidia-ml-py). No NVIDIA driver means an empty list, never a crash."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    uuid: str
    memory_total: int
    memory_used: int
    memory_free: int
    utilization: int | None
    temperature: int | None
    power_watts: float | None


class NvmlUnavailable(Exception):
    """NVML could not be loaded or initialised (no driver, no NVIDIA GPU)."""


def _nvml():
    try:
        import pynvml
    except ImportError as exc:  # the package is a dependency; a broken install lands here
        raise NvmlUnavailable(f"nvidia-ml-py is not installed: {exc}") from exc
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise NvmlUnavailable(str(exc)) from exc
    return pynvml


def _optional(fn, *args):
    import pynvml

    try:
        return fn(*args)
    except pynvml.NVMLError:
        return None


def list_gpus() -> list[GpuInfo]:
    """All NVIDIA GPUs with memory, utilisation, temperature and power; [] without a driver."""
    try:
        nvml = _nvml()
    except NvmlUnavailable:
        return []
    try:
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            name = nvml.nvmlDeviceGetName(handle)
            uuid = nvml.nvmlDeviceGetUUID(handle)
            util = _optional(nvml.nvmlDeviceGetUtilizationRates, handle)
            temp = _optional(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
            power = _optional(nvml.nvmlDeviceGetPowerUsage, handle)
            gpus.append(
                GpuInfo(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else name,
                    uuid=uuid.decode() if isinstance(uuid, bytes) else uuid,
                    memory_total=int(memory.total),
                    memory_used=int(memory.used),
                    memory_free=int(memory.free),
                    utilization=None if util is None else int(util.gpu),
                    temperature=None if temp is None else int(temp),
                    power_watts=None if power is None else power / 1000.0,
                )
            )
        return gpus
    except nvml.NVMLError:
        return []
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass


def nvml_status() -> str:
    """A one-line description of why GPUs are (not) visible, for `doctor`."""
    try:
        nvml = _nvml()
    except NvmlUnavailable as exc:
        return f"NVML unavailable ({exc})"
    try:
        driver = nvml.nvmlSystemGetDriverVersion()
        return f"NVIDIA driver {driver.decode() if isinstance(driver, bytes) else driver}"
    finally:
        nvml.nvmlShutdown()
