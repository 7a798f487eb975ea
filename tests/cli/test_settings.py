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
    # Seen in a CLI walk: 99999999999999999999 was taken and listed as 1e+20; a grace of 0 kills a
    # stopping run before its checkpoint. The limits are the Settings view's boxes' too.
    huge = cli("settings", "max_concurrent_runs", "99999999999999999999")
    assert huge.code == 2 and huge.err.strip() == "error: setting max_concurrent_runs: 99999999999999999999 must be at most 64"
    no_grace = cli("settings", "stop_grace_seconds", "0")
    assert no_grace.code == 2 and "stop_grace_seconds: 0 must be at least 1" in no_grace.err
    assert cli("settings", "stall_grace_seconds", "0").code == 0  # a stalled run killed at once: allowed
    assert cli("--json", "settings").json()["max_concurrent_runs"] == 1
    assert cli("--json", "settings").json()["playground_idle_seconds"] == 600


def test_the_list_show_and_set_verbs_of_the_other_groups_work_too(cli) -> None:
    # `settings list` said "unknown setting 'list'", while project, dataset, exp and run all take `list`.
    assert not {"list", "show", "set"} & set(settings.DEFAULTS)  # a setting so named could not be shown
    listed = cli("--json", "settings", "list")
    assert listed.code == 0 and listed.json()["playground_idle_seconds"] == 600
    assert cli("settings", "set", "playground_idle_seconds", "45").out.strip() == "playground_idle_seconds = 45"
    assert cli("settings", "show", "playground_idle_seconds").out.strip() == "45"
    for words in (("list", "theme"), ("show",), ("set", "theme"), ("theme", "light", "now")):
        refused = cli("settings", *words)
        assert refused.code == 2 and len(refused.err.strip().splitlines()) == 1
        assert f"settings {' '.join(words)}: expected `settings [list | [show] KEY | [set] KEY VALUE]`" in refused.err
    assert cli("settings", "theme").out.strip() == "dark"  # the default: the refused "light" was not set


def test_default_gpus_this_machine_lacks_are_refused_as_the_apps_settings_field_refuses_them(
        cli, home, monkeypatch) -> None:
    # `settings default_gpus 1` on a machine without a GPU said "default_gpus = 1", exit 0; the Settings
    # field refused it, and the mistake came out at the next `train`.
    from spark_trainer.jobs import scheduler

    monkeypatch.setattr(scheduler, "machine_gpus", lambda: [])
    refused = cli("settings", "default_gpus", "1")
    assert refused.code == 2
    assert refused.err == "error: setting default_gpus: GPU 1 requested but this machine has 0 GPUs\n"
    with Store.open(home) as store:
        assert settings.get(store, "default_gpus") == "auto"  # unchanged
    assert cli("settings", "default_gpus", "cpu:2").code == 0
    monkeypatch.setattr(scheduler, "machine_gpus", lambda: [0, 1])
    assert cli("settings", "default_gpus", "1").out == "default_gpus = 1\n"


def test_a_setting_stored_in_the_wrong_type_is_listed_as_its_default_and_named(cli, home) -> None:
    # Seen: max_concurrent_runs '"abc"' put in the database by hand: `settings` listed "abc", and `run
    # list` (whose waiting reasons read it) and `run start` ended in a ValueError traceback.
    from spark_trainer.store import experiments, projects, runs
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    with Store.open(home) as store:
        with store.write() as session:
            session.add(SettingRow(key="max_concurrent_runs", value="abc", updated_at=utcnow()))
        projects.create(store, "p")
        experiment = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m",
                                        dataset=None, config={})
        runs.create(store, experiment.id, requested_gpus="cpu")
    listed = cli("settings")
    assert listed.code == 0 and listed.err.strip().splitlines() == [
        "setting max_concurrent_runs: the stored value 'abc' is not usable, so the default 1 is used; set it again"]
    assert "abc" not in listed.out
    shown = cli("settings", "max_concurrent_runs")
    assert shown.out.strip() == "1" and "max_concurrent_runs" in shown.err
    assert cli("settings", "theme").err == ""  # another setting: not said again
    assert cli("--json", "settings").json()["max_concurrent_runs"] == 1
    run_list = cli("run", "list")
    assert run_list.code == 0 and "Traceback" not in run_list.err, run_list.err
    assert cli("settings", "max_concurrent_runs", "2").code == 0 and cli("settings").err == ""
