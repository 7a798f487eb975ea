"""The settings model emits the store's settings when a read brings new ones, and only then."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.model.reads import PollRequest, poll_once  # noqa: E402
from app.model.settings_model import SettingsModel  # noqa: E402
from spark_trainer.store import settings  # noqa: E402


def test_a_read_brings_every_setting_and_the_model_emits_only_changes(qtbot, store):
    model = SettingsModel()
    seen = []
    model.changed.connect(lambda values, unusable: seen.append((values, unusable)))
    first = poll_once(store, PollRequest(runs_since=None, schedule=False, catalog=False))
    assert first.settings == settings.get_all(store) and first.unusable_settings == {}
    assert first.queue_settings == (("max_concurrent_runs", 1), ("allow_gpu_sharing", False))
    model.apply(first.settings, first.unusable_settings)
    model.apply(first.settings, first.unusable_settings)  # the same again: nothing
    settings.set_value(store, "stop_grace_seconds", 12)  # as `spark-trainer settings set` does
    second = poll_once(store, PollRequest(runs_since=None, schedule=False, catalog=False))
    model.apply(second.settings, second.unusable_settings)
    model.apply(None, None)  # a read that failed changes nothing
    assert [values["stop_grace_seconds"] for values, _ in seen] == [30, 12]
    assert model.values["stop_grace_seconds"] == 12
