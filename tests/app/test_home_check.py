"""A data home opened before and gone now (app/home_check.py): the app asks where it is instead of
creating a new, empty one in its place (the user found every project gone). The choice and the home
last opened live in the home record the command line shares (spark_trainer/home_record.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.home_check import MissingHomeDialog, migrate_qsettings, missing_home, remember_opened
from spark_trainer import home_record
from spark_trainer.store import projects
from spark_trainer.store.store import Store


def test_only_a_home_opened_before_whose_database_is_gone_is_missing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert missing_home(str(home)) is None  # never opened: a first start creates it
    with Store.open(home) as store:
        remember_opened(store.home.root)
    assert missing_home(str(home)) is None  # where it was left
    assert missing_home(str(tmp_path / "other")) is None  # another home: created as chosen
    shutil.move(home, tmp_path / "moved")
    assert missing_home(str(home)) == home.resolve()
    home.mkdir()  # an empty mount point, the drive not mounted: still missing
    assert missing_home(str(home)) == home.resolve()


def test_the_dialog_opens_the_folder_the_home_is_in_now_or_a_new_one(tmp_path: Path, qtbot) -> None:
    with Store.open(tmp_path / "moved") as store:
        projects.create(store, "kept")
    opened: list[str] = []
    quits: list[bool] = []
    dialog = MissingHomeDialog(tmp_path / "home", opened.append, lambda: quits.append(True))
    qtbot.addWidget(dialog)
    assert "is not at " + str(tmp_path / "home") in dialog.text()

    dialog.choose_folder(str(tmp_path))  # not a data home: refused, asked again
    assert opened == [] and "holds no data home" in dialog.informativeText() and dialog.isVisible()
    dialog.choose_folder("")  # the folder dialog cancelled: asked again
    assert opened == [] and dialog.isVisible()
    dialog.choose_folder(str(tmp_path / "moved"))
    assert opened == [str((tmp_path / "moved").resolve())]
    assert home_record.read_record().chosen == str((tmp_path / "moved").resolve())  # the next start opens it too

    dialog.create.click()
    assert opened[-1] == str(tmp_path / "home")
    dialog.leave.click()
    assert quits == [True]


def test_a_choice_kept_in_qsettings_by_an_earlier_version_moves_to_the_record_once(tmp_path: Path, qsettings) -> None:
    qsettings.setValue("data_home", str(tmp_path / "chosen"))
    qsettings.setValue("data_home_opened", str(tmp_path / "chosen"))
    assert migrate_qsettings(qsettings)
    assert home_record.read_record() == home_record.HomeRecord(str(tmp_path / "chosen"), str(tmp_path / "chosen"))
    assert qsettings.value("data_home") is None and qsettings.value("data_home_opened") is None
    home_record.set_chosen(tmp_path / "later")  # chosen since: never overwritten by a migration
    assert not migrate_qsettings(qsettings)
    assert home_record.read_record().chosen == str(tmp_path / "later")
