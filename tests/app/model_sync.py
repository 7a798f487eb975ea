"""Test helpers for the app model: wait for the store poller to read what a test just wrote."""

from __future__ import annotations


def sync_model(qtbot, ctx, timeout_ms: int = 15_000) -> None:
    """Ask the poller to read now and wait until a read asked for after this call has been applied
    (so every view shows what the store held when this was called)."""
    poller = ctx.model.poller
    asked = poller.ticks
    ctx.model.refresh()
    qtbot.waitUntil(lambda: poller.applied > asked, timeout=timeout_ms)


def shown(qtbot, ctx, view, size: tuple[int, int] = (1100, 750)):  # noqa: ANN001, ANN201 - Qt objects
    """`view` shown at `size`, closed with the test, once it shows what the store holds now."""
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    sync_model(qtbot, ctx)
    return view
