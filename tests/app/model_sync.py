"""Test helpers for the app model: wait for the store poller to read what a test just wrote."""

from __future__ import annotations


def sync_model(qtbot, ctx, timeout_ms: int = 15_000) -> None:
    """Ask the poller to read now and wait until a read asked for after this call has been applied
    (so every view shows what the store held when this was called)."""
    poller = ctx.model.poller
    asked = poller.ticks
    ctx.model.refresh()
    qtbot.waitUntil(lambda: poller.applied > asked, timeout=timeout_ms)


def shown_synced(qtbot, ctx, widget, size: tuple[int, int]):  # noqa: ANN001, ANN201 - Qt objects of any kind
    """`widget` shown at `size` once the app model has read the store (a view's first state)."""
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    sync_model(qtbot, ctx)
    return widget
