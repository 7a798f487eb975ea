"""The home record (spark_trainer/home_record.py): which data home the app and the command use, and why."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from spark_trainer import home_record
from spark_trainer.errors import BadInput
from spark_trainer.paths import resolve_home


def test_the_record_lives_in_the_config_dir_the_tests_point_at(tmp_path: Path, monkeypatch) -> None:
    # The autouse fixture in tests/conftest.py: no test can write the user's real record.
    assert "config" in str(home_record.config_dir()) and str(home_record.config_dir()).startswith("/tmp")
    monkeypatch.setenv("SPARK_TRAINER_CONFIG_DIR", str(tmp_path / "cfg"))
    assert home_record.read_record() == home_record.HomeRecord()
    home_record.set_chosen(tmp_path / "chosen")
    home_record.set_opened(tmp_path / "chosen")
    saved = json.loads((tmp_path / "cfg" / "home.json").read_text())
    assert saved == {"chosen": str(tmp_path / "chosen"), "opened": str(tmp_path / "chosen")}
    assert [p.name for p in (tmp_path / "cfg").iterdir()] == ["home.json"]  # no temporary file left behind


def test_resolution_order_is_flag_env_chosen_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("SPARK_TRAINER_HOME")
    default = home_record.choose_home()
    assert default.source == "default" and default.home.root == (tmp_path / "data" / "SparkTrainer").resolve()
    home_record.set_chosen(tmp_path / "chosen")
    assert home_record.choose_home().source == "chosen"
    assert resolve_home(None).root == (tmp_path / "chosen").resolve()  # what Store.open(None) opens
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(tmp_path / "env"))
    assert (home_record.choose_home().source, home_record.choose_home().home.root) == ("env", tmp_path / "env")
    flag = home_record.choose_home(tmp_path / "flag")
    assert (flag.source, flag.home.root, flag.why) == ("flag", tmp_path / "flag", "--home")


def test_a_damaged_record_is_one_line_naming_the_file(monkeypatch) -> None:
    monkeypatch.delenv("SPARK_TRAINER_HOME")
    path = home_record.record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    with pytest.raises(BadInput, match=f"^{path} could not be read .*fix or delete it") as caught:
        home_record.choose_home()
    assert "\n" not in str(caught.value)


def test_only_a_chosen_or_default_home_opened_before_and_gone_is_missing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SPARK_TRAINER_HOME")
    home = tmp_path / "home"
    home_record.set_chosen(home)
    assert home_record.missing_home(home_record.choose_home()) is None  # never opened: created on first use
    home.mkdir()
    (home / "sparktrainer.db").touch()
    home_record.set_opened(home)
    assert home_record.missing_home(home_record.choose_home()) is None
    (home / "sparktrainer.db").unlink()  # an empty mount point, say
    assert home_record.missing_home(home_record.choose_home()) == home
    assert home_record.missing_home(home_record.choose_home(home)) is None  # --home: taken as given
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(home))
    assert home_record.missing_home(home_record.choose_home()) is None


def test_an_empty_home_flag_is_refused_and_an_empty_env_is_unset(tmp_path: Path, monkeypatch) -> None:
    """`--home "$UNSET"` is a mistake, not "no --home" (a script's writes went to the chosen home); an empty
    $SPARK_TRAINER_HOME is unset, as `SPARK_TRAINER_HOME= cmd` says in a shell."""
    home_record.set_chosen(tmp_path / "chosen")
    for empty in ("", "  "):
        with pytest.raises(BadInput, match=r"^--home is empty: give the data home's folder"):
            home_record.choose_home(empty)
    monkeypatch.setenv("SPARK_TRAINER_HOME", "")
    assert home_record.choose_home().source == "chosen"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="platformdirs reads XDG_CONFIG_HOME on Linux")
def test_a_config_folder_that_is_a_file_is_said_to_be_one(tmp_path: Path, monkeypatch) -> None:
    """XDG_CONFIG_HOME pointing at a file said "home.json could not be read ...; fix or delete it"."""
    monkeypatch.delenv("SPARK_TRAINER_HOME")
    (tmp_path / "file").write_text("x")
    monkeypatch.delenv("SPARK_TRAINER_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "file"))
    says = f"{tmp_path / 'file'} is a file, not a folder; point $XDG_CONFIG_HOME at a folder, or move that file away"
    with pytest.raises(BadInput) as refused:
        home_record.choose_home()
    assert str(refused.value) == f"the config folder {tmp_path / 'file' / 'SparkTrainer'} cannot hold home.json: {says}"
    monkeypatch.setenv("SPARK_TRAINER_CONFIG_DIR", str(tmp_path / "file" / "cfg"))
    with pytest.raises(BadInput) as refused:
        home_record.set_chosen(tmp_path / "chosen")
    assert str(refused.value).endswith(says.replace("XDG_CONFIG_HOME", "SPARK_TRAINER_CONFIG_DIR"))
