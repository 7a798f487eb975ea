"""The queue hold is one settings row every scheduler reads: held once (its time kept), released once,
and not listed among the user's settings."""

from __future__ import annotations

from datetime import timedelta

from spark_trainer.store import queue_hold, settings
from spark_trainer.store.entities import utcnow
from spark_trainer.store.models import SettingRow
from spark_trainer.store.store import Store


def test_hold_and_release_say_whether_they_changed_anything(store: Store) -> None:
    assert queue_hold.held_since(store) is None
    assert queue_hold.release(store) is False
    before = utcnow()
    assert queue_hold.hold(store) is True
    since = queue_hold.held_since(store)
    assert since is not None and before - timedelta(seconds=1) <= since <= utcnow()
    assert queue_hold.hold(store) is False and queue_hold.held_since(store) == since  # its time kept
    assert "queue_held_since" not in settings.get_all(store)  # a state, not a preference
    assert queue_hold.release(store) is True and queue_hold.held_since(store) is None
    assert queue_hold.release(store) is False


def test_a_row_edited_by_hand_still_holds(store: Store) -> None:
    with store.write() as session:
        session.add(SettingRow(key=queue_hold.KEY, value="yes", updated_at=utcnow()))
    assert queue_hold.held_since(store) is not None
    assert queue_hold.release(store) is True and queue_hold.held_since(store) is None
