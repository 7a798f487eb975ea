"""What the Playground says when the model cannot be loaded: the load's own reason, not the server's
answer to the prompt sent behind it."""

from __future__ import annotations

import pytest

from tests.app.views.test_playground_labels import _opened

pytestmark = pytest.mark.timeout(600)


def test_a_failed_load_keeps_its_reason_on_screen(store, ctx, qtbot) -> None:
    """A run whose model cannot be loaded (found rendering `--view playground --prompt` for a run whose
    base model folder had been moved) showed "no model is loaded; send a load request first": the
    prompt's error, queued behind the load, replaced the load's. The user sends no load requests."""
    view = _opened(store, ctx, qtbot, "text-classification")  # an empty final/ and no frozen config: loading fails
    view.panel.prompt.setPlainText("great stuff")
    view.generate()
    qtbot.waitUntil(lambda: not view.pending, timeout=300_000)
    said = view.banner.text()
    assert said and "load request" not in said, said
    assert view.status.text() == "Not loaded"
    view.unload()
