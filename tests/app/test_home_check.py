"""A data home opened before and gone now (app/home_check.py): the app asks where it is instead of
creating a new, empty one in its place (the user found every project gone)."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.home_check import CHOSEN_KEY, MissingHomeDialog, missing_home, remember_opened
from spark_trainer.store import projects
from spark_trainer.store.store import Store


def test_only_a_home_opened_before_whose_database_is_gone_is_missing(tmp_path: Path, qsettings) -> None:
    home = tmp_path / "home"
    assert missing_home(str(home), qsettings) is None  # never opened: a first start creates it
    with Store.open(home) as store:
        remember_opened(qsettings, store.home.root)
    assert missing_home(str(home), qsettings) is None  # where it was left
    assert missing_home(str(tmp_path / "other"), qsettings) is None  # another home: created as chosen
    shutil.move(home, tmp_path / "moved")
    assert missing_home(str(home), qsettings) == home.resolve()
    home.mkdir()  # an empty mount point, the drive not mounted: still missing
    assert missing_home(str(home), qsettings) == home.resolve()


def test_the_dialog_opens_the_folder_the_home_is_in_now_or_a_new_one(tmp_path: Path, qsettings, qtbot) -> None:
    with Store.open(tmp_path / "moved") as store:
        projects.create(store, "kept")
    opened: list[str] = []
    quits: list[bool] = []
    dialog = MissingHomeDialog(tmp_path / "home", qsettings, opened.append, lambda: quits.append(True))
    qtbot.addWidget(dialog)
    assert "is not at " + str(tmp_path / "home") in dialog.text()

    dialog.choose_folder(str(tmp_path))  # not a data home: refused, asked again
    assert opened == [] and "holds no data home" in dialog.informativeText() and dialog.isVisible()
    dialog.choose_folder("")  # the folder dialog cancelled: asked again
    assert opened == [] and dialog.isVisible()
    dialog.choose_folder(str(tmp_path / "moved"))
    assert opened == [str((tmp_path / "moved").resolve())]
    assert qsettings.value(CHOSEN_KEY) == str((tmp_path / "moved").resolve())  # the next start opens it too

    dialog.create.click()
    assert opened[-1] == str(tmp_path / "home")
    dialog.leave.click()
    assert quits == [True]
