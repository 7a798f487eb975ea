"""GPUs view: honest empty state without NVIDIA GPUs, live panels and run holders with samples."""

from __future__ import annotations

import pytest

from spark_trainer.gpu import GpuInfo, list_gpus
from spark_trainer.store import runs
from tests.app.gui_assets import add_experiment_with_runs
from tests.app.model_sync import sync_model


def sample(index: int, used_gb: float, util: int) -> GpuInfo:
    return GpuInfo(index=index, name="NVIDIA H100 80GB HBM3", uuid=f"GPU-{index}", memory_total=80 * 1024**3,
                   memory_used=int(used_gb * 1024**3), memory_free=int((80 - used_gb) * 1024**3),
                   utilization=util, temperature=40 + util // 5, power_watts=100.0 + util * 4)


@pytest.fixture
def view(store, ctx, qtbot):
    from app.views.gpus_view import GpusView

    widget = GpusView(store, ctx)
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    widget.show()
    return widget


@pytest.mark.skipif(bool(list_gpus()), reason="this machine has an NVIDIA GPU")
def test_without_nvidia_gpus_the_view_says_so_and_why(qtbot, view, ctx):
    assert view.pages.currentWidget() is view.waiting
    ctx.gpu_monitor.poll()
    qtbot.waitUntil(lambda: ctx.gpu_monitor.has_sampled, timeout=10_000)
    assert view.pages.currentWidget() is view.empty
    assert view.empty.title.text() == "No NVIDIA GPU found"
    # Seen: "...could not reach an NVIDIA driver on this machine: NVML unavailable (NVML Shared Library Not
    # Found)." The sentence says what it means in a user's words; the library's reason is in the tooltip.
    first = view.empty.text.text().splitlines()[0]
    assert first.startswith("No NVIDIA driver was found on this machine, so training runs on the CPU"), first
    assert "NVML" not in view.empty.text.text()
    assert view.empty.text.toolTip() == f"What the NVIDIA library said: {ctx.gpu_monitor.nvml_note}"
    assert "NVML" in ctx.gpu_monitor.nvml_note
    assert view.cpu_runs.text() == "No run is using the CPU right now."


def test_a_panel_per_gpu_with_live_curves_and_the_run_holding_it(qtbot, view, ctx, store, project):
    run = add_experiment_with_runs(store, project.name, statuses=("running",))[0]
    runs.update(store, run.id, gpus=[1])
    sync_model(qtbot, ctx)  # the view names GPU holders from the app model
    for tick in range(5):
        ctx.gpu_monitor.record([sample(0, 1.0, 0), sample(1, 30.0 + tick, 80 + tick)])
    assert view.pages.currentWidget() is view.scroll
    assert sorted(view.panels) == [0, 1]
    busy, free = view.panels[1], view.panels[0]
    assert f"run {run.id} (tiny-lora, running" in busy.holder.text()
    assert free.holder.text().startswith("Free")
    assert "GPU 1" in busy.header.text() and "34.0 / 80 GiB" in busy.header.text() and "84% busy" in busy.header.text()
    xs, ys = busy.curves["utilization"].getData()
    assert len(xs) == 5 and list(ys) == [80, 81, 82, 83, 84] and xs[-1] == 0
    _, mem = busy.curves["memory_gb"].getData()
    assert mem[-1] == pytest.approx(34.0)
    assert "1 in use by runs" in view.summary.text()


@pytest.mark.gpu
@pytest.mark.skipif(not list_gpus(), reason="needs an NVIDIA GPU and driver")
def test_real_nvml_samples_fill_one_panel_per_gpu(qtbot, view, ctx):
    ctx.gpu_monitor.poll()
    qtbot.waitUntil(lambda: ctx.gpu_monitor.has_sampled, timeout=10_000)
    assert sorted(view.panels) == [g.index for g in list_gpus()]


def test_a_driver_that_sees_no_gpu_is_not_called_missing(view, ctx):
    ctx.gpu_monitor.record([], "NVIDIA driver 550.54.15")
    assert view.pages.currentWidget() is view.empty
    first = view.empty.text.text().splitlines()[0]
    assert first.startswith("The NVIDIA driver on this machine sees no GPU, so training runs on the CPU"), first
    assert "550.54.15" in view.empty.text.toolTip()
