"""`spark-trainer settings`: list, show and set the settings the GUI's Settings view and the
schedulers read (stall detection, Playground idle unload...), with bad input as one line, exit 2."""

from __future__ import annotations

from spark_trainer.store import settings
from spark_trainer.store.store import Store


def test_settings_list_show_and_set(cli, home) -> None:
    listed = cli("--json", "settings")
    assert listed.code == 0 and listed.json()["heartbeat_timeout_seconds"] == 120
    assert listed.json()["playground_idle_seconds"] == 600

    changed = cli("settings", "playground_idle_seconds", "90")
    assert changed.code == 0 and "playground_idle_seconds = 90" in changed.out
    assert cli("settings", "playground_idle_seconds").out.strip() == "90"
    with Store.open(home) as store:
        assert settings.get(store, "playground_idle_seconds") == 90


def test_bad_settings_are_one_line_and_change_nothing(cli, home) -> None:
    unknown = cli("settings", "idle", "5")
    assert unknown.code == 2 and "unknown setting 'idle'" in unknown.err and len(unknown.err.strip().splitlines()) == 1
    bad = cli("settings", "playground_idle_seconds", "0")
    assert bad.code == 2 and "must be at least 1" in bad.err
    assert cli("--json", "settings").json()["playground_idle_seconds"] == 600
