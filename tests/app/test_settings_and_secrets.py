"""Settings view and the Hugging Face token: OS keyring (a real keyring backend), env fallback, never in the DB."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from spark_trainer import secrets
from spark_trainer.errors import OperationFailed
from spark_trainer.store import settings
from tests.app.typed import typed
from tests.memory_keyring import MemoryKeyring

TOKEN = "hf_TestTokenValue1234567890abcd"


@pytest.fixture
def memory_keyring(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_token_round_trips_through_the_keyring_and_wins_over_the_environment(memory_keyring, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_fromEnvironment000")
    status = secrets.set_hf_token(f"  {TOKEN}\n")
    assert memory_keyring.items[(secrets.SERVICE, secrets.HF_TOKEN_KEY)] == TOKEN
    assert secrets.get_hf_token() == TOKEN
    assert status.source == "keyring" and TOKEN not in status.message and status.masked == "hf_…abcd"
    secrets.delete_hf_token()
    assert secrets.get_hf_token() == "hf_fromEnvironment000"
    assert secrets.token_status().source == "env"


def test_without_a_keyring_backend_saving_fails_clearly_and_the_environment_is_used(no_keyring, monkeypatch):
    assert not secrets.keyring_info().available
    with pytest.raises(OperationFailed, match="HF_TOKEN environment variable"):
        secrets.set_hf_token(TOKEN)
    assert secrets.get_hf_token() is None
    assert "no OS keyring" in secrets.token_status().message
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert secrets.get_hf_token() == TOKEN
    assert secrets.token_status().source == "env"


def test_blank_or_spaced_tokens_are_refused(memory_keyring):
    from spark_trainer.errors import BadInput

    with pytest.raises(BadInput, match="empty"):
        secrets.set_hf_token("   ")
    with pytest.raises(BadInput, match="spaces"):
        secrets.set_hf_token("hf_abc def")
    assert memory_keyring.items == {}


@pytest.fixture
def view(store, ctx, qtbot):
    from app.views.settings_view import SettingsView

    widget = SettingsView(store, ctx)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: widget.token_task is not None and widget.token_task.delivered, timeout=5000)
    qtbot.waitUntil(lambda: not widget.busy(), timeout=5000)  # the stored values are read on the pool
    return widget


def test_saving_the_token_from_settings_keeps_it_out_of_the_database(qtbot, memory_keyring, view, store, qsettings):
    view.token_edit.setText(TOKEN)
    view.save_token.click()
    qtbot.waitUntil(lambda: view.token_task.delivered, timeout=5000)
    qtbot.waitUntil(lambda: "saved in the OS keyring" in view.token_status.text(), timeout=5000)
    assert view.token_edit.text() == ""
    assert secrets.get_hf_token() == TOKEN
    qsettings.sync()
    for path in store.home.root.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), f"token leaked into {path}"
    ini = Path(qsettings.fileName())
    assert not ini.exists() or TOKEN.encode() not in ini.read_bytes()
    assert view.remove_token.isVisible()
    view.remove_token.click()
    qtbot.waitUntil(lambda: view.token_task.delivered and "no token" in view.token_status.text().lower(),
                    timeout=5000)
    assert secrets.get_hf_token() is None


def test_without_a_keyring_the_settings_page_says_what_to_do(qtbot, no_keyring, store, ctx):
    from app.views.settings_view import SettingsView

    view = SettingsView(store, ctx)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.token_task is not None and view.token_task.delivered, timeout=5000)
    assert "HF_TOKEN" in view.token_status.text()
    assert not view.save_token.isEnabled() and not view.token_edit.isEnabled()
    assert "HF_TOKEN" in view.save_token.toolTip()


def test_run_settings_and_theme_are_saved_to_the_store(qtbot, view, store, ctx):
    with qtbot.waitSignal(ctx.theme_changed, timeout=2000):
        view.theme.setCurrentText("light" if view.theme.currentText() == "dark" else "dark")
    qtbot.waitUntil(lambda: not view.saving)  # saved on the pool, in order
    assert settings.get(store, "theme") == view.theme.currentText()
    view.max_runs.setValue(3)
    view.grace.setValue(45)
    view.sharing.setChecked(True)
    qtbot.waitUntil(lambda: not view.saving)
    assert settings.get(store, "max_concurrent_runs") == 3
    assert settings.get(store, "stop_grace_seconds") == 45
    assert settings.get(store, "allow_gpu_sharing") is True


def test_default_gpus_are_checked_before_saving(qtbot, view, store):
    typed(view.default_gpus, "0,x")
    assert view.banner.role == "error" and "not valid" in view.banner.text()
    assert not view.saving and settings.get(store, "default_gpus") == "auto"
    typed(view.default_gpus, "cpu")
    qtbot.waitUntil(lambda: not view.saving)
    assert settings.get(store, "default_gpus") == "cpu"
    # Every form a run file's `gpus:` takes is a default too; the field refused cpu:N and count:N.
    for form in ("count:2", "cpu:2"):
        typed(view.default_gpus, form)
        qtbot.waitUntil(lambda: not view.saving)
        assert settings.get(store, "default_gpus") == form, view.banner.text()


def test_default_gpus_are_refused_in_the_words_the_command_line_uses(qtbot, view, store, cli):
    # One check (store/settings.py), one wording, whichever way the setting is typed; the view names
    # the field by its own label, the command line by its key.
    for text in ("0,x", "0,,1"):
        typed(view.default_gpus, text)
        refused = cli("settings", "default_gpus", text)
        assert refused.code == 2 and view.banner.role == "error"
        said = refused.err.strip().removeprefix("error: ")
        assert said.startswith("setting default_gpus: "), refused.err
        assert view.banner.text() == "Default GPUs: " + said.removeprefix("setting default_gpus: "), refused.err
    assert not view.saving and settings.get(store, "default_gpus") == "auto"


def test_default_gpus_stored_by_an_older_version_show_what_runs_use(qtbot, view, store, cli):
    """Versions that accepted an empty id stored '0,,1'; runs read it as '0,1' (settings.default_gpus),
    but the field (and `settings`) showed '0,,1', which the field then refuses when left as shown."""
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    with store.write() as session:
        session.add(SettingRow(key="default_gpus", value="0,,1", updated_at=utcnow()))
    view.refresh()
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    assert view.default_gpus.text() == "0,1"
    view.default_gpus.editingFinished.emit()  # left as shown: accepted
    assert view.banner.role != "error", view.banner.text()
    assert settings.default_gpus(store) == "0,1"
    listed = cli("settings")
    assert listed.code == 0 and "0,,1" not in listed.out and cli("settings", "default_gpus").out.strip() == "0,1"


def test_choosing_a_data_home_is_remembered_for_the_next_start_and_by_the_command_line(view, ctx, tmp_path,
                                                                                     monkeypatch, capsys):
    monkeypatch.delenv("SPARK_TRAINER_HOME", raising=False)
    target = tmp_path / "elsewhere"
    view.choose_data_home(str(target))
    assert (target / "datasets").is_dir()
    from spark_trainer import home_record

    assert home_record.read_record().chosen == str(target.resolve())  # not QSettings: the record both read
    assert ctx.qsettings.value("data_home") is None
    assert view.home_note.text() == f"Next start will use {target.resolve()}. Restart SparkTrainer to switch."
    assert view.restart_home.isHidden()  # a view without a window that can restart (a screenshot) only says so
    from app.main import _home, _parse

    assert _home(_parse([])) == str(target.resolve())
    assert _home(_parse(["--home", "/x"])) == "/x"
    # The command line agrees: no --home, no $SPARK_TRAINER_HOME, and it uses (and says) the app's choice.
    import json

    from spark_trainer.cli.main import main

    capsys.readouterr()
    assert main(["--json", "home", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["home"], shown["source"]) == (str(target.resolve()), "chosen")


@pytest.mark.parametrize("env_set", [False, True])
def test_choosing_a_data_home_offers_a_restart_there(window, qtbot, tmp_path, monkeypatch, env_set):
    from app.relaunch import Relaunch

    if not env_set:
        monkeypatch.delenv("SPARK_TRAINER_HOME", raising=False)
    window.enable_restart(Relaunch(program=("/nonexistent/SparkTrainer",)))  # a start that really fails
    view = window.show_view("settings")
    assert view.restart_home.isHidden()  # nothing else chosen yet
    target = (tmp_path / "elsewhere").resolve()
    view.choose_data_home(str(target))
    assert view.restart_home.isVisible() and view.next_home == target
    if env_set:  # it wins over the chosen home: the restart passes --home, and says so
        assert "wins over the chosen home, so the restart opens" in view.home_note.text()
        assert f"with --home {target}" in view.home_note.text()
    else:
        assert view.home_note.text().startswith(f"Next start will use {target}: restart to switch now")
    view.restart_home.click()
    assert view.banner.role == "error"
    assert view.banner.text() == ("Could not start SparkTrainer again (/nonexistent/SparkTrainer did not start): "
                                  "close it and start it again by hand.")
    assert window.isVisible()
    view.choose_data_home(str(window.store.home.root))  # back to the home in use: nothing to restart for
    assert view.restart_home.isHidden()


def test_settings_refuses_what_is_not_a_token_and_warns_without_hf(qtbot, memory_keyring, view):
    """Seen: pasting `HF_TOKEN=hf_…` saved it whole; a value not starting hf_ was saved without a word."""
    view.set_token(f"HF_TOKEN={TOKEN}")
    qtbot.waitUntil(lambda: view.token_task.delivered, timeout=5000)
    assert "NAME=value" in view.banner.text() and memory_keyring.items == {}
    view.set_token("abcdefghijkl1234")
    qtbot.waitUntil(lambda: view.token_task.delivered and "saved" in view.banner.text(), timeout=5000)
    assert "start with hf_" in view.banner.text() and view.banner.property("role") == "warning"
    assert "start with hf_" in view.token_status.text()
