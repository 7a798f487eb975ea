"""Settings: typed values, and a bad one refused in one line naming the setting, nothing stored."""

from __future__ import annotations

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.store import settings


@pytest.mark.parametrize(("key", "value", "words"), [
    ("default_gpus", "banana", "default_gpus: 'banana' is not valid"),
    ("default_gpus", "count:0", "count:N needs N from 1 to 64"),
    ("theme", "purple", "theme: 'purple' is not a theme; themes are: dark, light"),
])
def test_a_value_the_program_cannot_use_is_refused(store, key: str, value: str, words: str) -> None:
    # `spark-trainer settings default_gpus banana` and `settings theme purple` were stored as given.
    with pytest.raises(BadInput) as caught:
        settings.set_value(store, key, value)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert settings.get(store, key) == settings.DEFAULTS[key]


@pytest.mark.parametrize(("key", "value", "stored"), [
    ("default_gpus", "count:2", "count:2"), ("default_gpus", " 0, 1", "0,1"), ("default_gpus", "CPU:2", "cpu:2"),
    ("theme", "Light", "light"), ("max_concurrent_runs", "3", 3), ("allow_gpu_sharing", "yes", True),
])
def test_every_accepted_form_is_stored_as_the_program_reads_it(store, key: str, value: str, stored) -> None:
    assert settings.set_value(store, key, value) == stored
    assert settings.get(store, key) == stored


def test_default_gpus_this_machine_lacks_are_refused_when_its_gpus_are_known() -> None:
    # The Settings view passes the GPUs its monitor sees; the store alone cannot know them.
    with pytest.raises(BadInput, match="^setting default_gpus: GPU 3 requested but this machine has 2 GPUs"):
        settings.check_default_gpus("0,3", [0, 1])
    assert settings.check_default_gpus("1, 0", [0, 1]) == "1,0"
    assert settings.check_default_gpus("3") == "3"  # the GPUs are not known: the form alone is checked
    with pytest.raises(BadInput, match="^setting default_gpus: GPU 3 requested but this machine has 0 GPUs"):
        settings.check_default_gpus("3", [])  # a machine seen to have none
    assert settings.check_default_gpus("cpu", []) == "cpu"


def test_a_default_gpus_stored_by_an_older_version_is_read_as_a_run_reads_it(store) -> None:
    # '0,,1' was accepted before empty ids were refused; the setup form copied it into its GPUs box,
    # where the form's (typed, strict) check then refused a value the user never typed.
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    assert settings.default_gpus(store) == "auto"
    with store.write() as session:
        session.add(SettingRow(key="default_gpus", value="0,,1", updated_at=utcnow()))
    assert settings.default_gpus(store) == "0,1"


@pytest.mark.parametrize("stored", ["system", "Light"])
def test_a_theme_stored_by_an_older_version_is_read_as_the_window_shows_it(store, stored) -> None:
    # Versions before themes.py (2bc2385 .. 86eeea4) stored any text: `settings theme system` was
    # accepted and the window showed the dark theme. Read back as 'system', Settings' tooltip said the
    # window was 'started with --theme' and `settings` listed a theme `settings theme` now refuses.
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    with store.write() as session:
        session.add(SettingRow(key="theme", value=stored, updated_at=utcnow()))
    assert settings.get(store, "theme") == "dark"
    assert settings.get_all(store)["theme"] == "dark"


@pytest.mark.parametrize(("key", "stored", "used"), [("max_concurrent_runs", 100, 64), ("stop_grace_seconds", 0, 1)])
def test_a_number_stored_out_of_range_by_an_older_version_is_read_as_the_nearest_in_range(store, key, stored,
                                                                                         used) -> None:
    # An upgrade walk: an older version took `settings max_concurrent_runs 100`; `settings` then said 100
    # and the app's box (range 1-64) showed 64, and saving that page would have changed it unsaid.
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    with store.write() as session:
        session.add(SettingRow(key=key, value=stored, updated_at=utcnow()))
    assert settings.get(store, key) == used
    assert settings.get_all(store)[key] == used
    assert settings.get_some(store, [key, "allow_gpu_sharing"]) == {key: used, "allow_gpu_sharing": False}


def _stored(store, key: str, value) -> None:
    """A row as a hand edit or another program leaves it (sqlite3 ... insert or replace into settings)."""
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    with store.write() as session:
        session.merge(SettingRow(key=key, value=value, updated_at=utcnow()))


@pytest.mark.parametrize(("key", "stored", "used"), [
    ("max_concurrent_runs", "3", 3), ("max_concurrent_runs", 2.0, 2), ("allow_gpu_sharing", "false", False),
    ("allow_gpu_sharing", "yes", True), ("allow_gpu_sharing", 1, True)])
def test_a_stored_value_that_says_its_type_in_another_form_is_read_as_that_type(store, key, stored, used) -> None:
    _stored(store, key, stored)
    assert settings.get(store, key) == used and type(settings.get(store, key)) is type(used)
    assert settings.unusable(store) == {}


@pytest.mark.parametrize(("key", "stored"), [
    ("max_concurrent_runs", "abc"), ("max_concurrent_runs", [3]), ("max_concurrent_runs", True),
    ("allow_gpu_sharing", "maybe"), ("allow_gpu_sharing", 7), ("stop_grace_seconds", 2.5),
    ("default_gpus", 3.5), ("default_gpus", "banana"), ("theme", 5)])
def test_a_stored_value_not_of_its_type_reads_as_the_default_and_is_named(store, key, stored) -> None:
    # Seen: max_concurrent_runs '"abc"' in the database made the scheduler's int() raise (every queued run
    # stayed queued) and the Settings page fail; allow_gpu_sharing 'false' read as True (bool('false')).
    _stored(store, key, stored)
    default = settings.DEFAULTS[key]
    assert settings.get(store, key) == default and type(settings.get(store, key)) is type(default)
    assert settings.get_all(store)[key] == default and settings.get_some(store, [key]) == {key: default}
    assert settings.unusable(store) == {key: stored}
    line = settings.unusable_line(key, stored)
    assert line.startswith(f"setting {key}: the stored value {stored!r} is not usable") and "\n" not in line
    settings.set_value(store, key, default)  # set again: usable
    assert settings.unusable(store) == {}


def test_read_all_is_get_all_and_unusable_in_one_read(store) -> None:
    # The app's poller reads it every tick so that Settings shows a terminal's `settings set`.
    settings.set_value(store, "stop_grace_seconds", 12)
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    with store.write() as session:
        session.add(SettingRow(key="max_concurrent_runs", value="abc", updated_at=utcnow()))
    assert settings.read_all(store) == (settings.get_all(store), settings.unusable(store))
    assert settings.read_all(store)[1] == {"max_concurrent_runs": "abc"}
