"""Settings: a small key/value table with typed defaults. Secrets never go here (see keyring)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from spark_trainer.errors import BadInput
from spark_trainer.store.entities import utcnow
from spark_trainer.store.models import SettingRow
from spark_trainer.store.store import Store
from spark_trainer.themes import DEFAULT_THEME, THEMES

DEFAULTS: dict[str, Any] = {
    "max_concurrent_runs": 1,
    "default_gpus": "auto",
    "allow_gpu_sharing": False,
    "stop_grace_seconds": 30,
    # A running worker whose heartbeat is older than this is marked stalled; after the stall grace
    # period more its process group is killed and the run becomes interrupted (resumable).
    "heartbeat_timeout_seconds": 120,
    "stall_grace_seconds": 120,
    # A Playground model nobody has prompted for this long is unloaded (its worker exits).
    "playground_idle_seconds": 600,
    "theme": DEFAULT_THEME,
}


# The whole numbers' allowed values, the app's Settings boxes' ranges too. A grace period of 0 would kill
# a stopping run before it saves its checkpoint; past the maxima a value is a typo (and past 2**63 SQLite
# stored it as a float, 1e+20).
RANGES: dict[str, tuple[int, int]] = {
    "max_concurrent_runs": (1, 64),
    "stop_grace_seconds": (1, 3600),
    "heartbeat_timeout_seconds": (1, 86400),
    "stall_grace_seconds": (0, 86400),
    "playground_idle_seconds": (1, 7 * 86400),
}


def _coerce(key: str, value: Any) -> Any:
    if key not in DEFAULTS:
        raise BadInput(f"unknown setting {key!r}; settings are: {', '.join(sorted(DEFAULTS))}")
    default = DEFAULTS[key]
    if isinstance(default, bool):
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise BadInput(f"setting {key}: {value!r} is not true or false")
        return bool(value)
    if isinstance(default, int):
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise BadInput(f"setting {key}: {value!r} is not a whole number") from None
        low, high = RANGES[key]
        if number < low:
            raise BadInput(f"setting {key}: {number} must be at least {low}")
        if number > high:
            raise BadInput(f"setting {key}: {number} must be at most {high:,}")
        return number
    if key == "default_gpus":
        return check_default_gpus(value)
    if key == "theme":
        name = str(value).strip().lower()
        if name not in THEMES:
            raise BadInput(f"setting theme: {value!r} is not a theme; themes are: {', '.join(THEMES)}")
        return name
    return str(value)


class SettingRefused(BadInput):
    """A setting's value refused: "setting KEY: DETAIL". A view that shows the field under its own label
    says `detail` after that label."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(f"setting {key}: {detail}")
        self.key, self.detail = key, detail


def check_default_gpus(value: Any, machine: Sequence[int] | None = None) -> str:
    """The `default_gpus` setting as it is stored: any form a run file's `gpus:` takes, spaces removed.

    With `machine` (the GPU ids the caller sees; the Settings view has them, the store does not), GPUs it
    lacks are refused too: an empty list is a machine without GPUs, None a caller that does not know.
    The one check and wording for the CLI and the app.

    Raises:
        SettingRefused: "setting default_gpus: ..." naming the value and what is accepted.
    """
    from spark_trainer.jobs.gpus import check_fits, parse_request

    try:
        request = parse_request("".join(str(value).split()), typed=True)
        if machine is not None:
            check_fits(request, machine)
    except BadInput as e:  # "gpus: 'x' is not valid; ..." names the run file's field
        raise SettingRefused("default_gpus", str(e).removeprefix("gpus: ")) from None
    return request.text


_UNUSABLE = object()  # a stored value `_read` cannot use as its setting's type


def _read(key: str, value: Any) -> Any:
    """A stored value as its setting's type, or _UNUSABLE: a hand-edited row (`'"abc"'` for
    max_concurrent_runs, the text 'false' for allow_gpu_sharing, which bool() read as True) or a
    value an older version stored. Text that says a number or a yes/no is read as it would be set."""
    default = DEFAULTS[key]
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            try:
                return _coerce(key, value)
            except BadInput:
                return _UNUSABLE
        return _UNUSABLE
    if isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                return _UNUSABLE
        if not isinstance(value, int) or isinstance(value, bool):
            return _UNUSABLE
        low, high = RANGES[key]
        return min(max(value, low), high)
    if not isinstance(value, str):
        return _UNUSABLE
    if key == "theme":
        return value if value in THEMES else _UNUSABLE
    if key == "default_gpus":
        from spark_trainer.jobs.gpus import parse_request

        try:
            return parse_request(value).text
        except BadInput:
            return _UNUSABLE
    return value


def _as_read(key: str, value: Any) -> Any:
    """A stored value as it is used: always of its setting's type (DEFAULTS). Versions before the theme
    check stored any text ('system', 'Light'), and their window showed the dark theme for it: read as
    that theme. Versions that accepted empty GPU ids stored '0,,1', which runs read as '0,1': read so,
    so Settings and `settings` show it (and a form that shows it does not refuse it as if typed).
    Versions before a setting's range (RANGES) stored any whole number (max_concurrent_runs 100, where
    the range ends at 64): read as the nearest value in range, which the scheduler uses and both
    Settings and `settings` show. A value that is not of its type at all (a hand-edited row: the
    scheduler's int() raised on it and every queued run stayed queued) reads as the default;
    `unusable` names it so that the user sets it again."""
    read = _read(key, value)
    return DEFAULTS[key] if read is _UNUSABLE else read


def unusable(store: Store) -> dict[str, Any]:
    """The stored settings read as their default because their stored value is not usable (see
    `_as_read`): key -> the value as stored."""
    return read_all(store)[1]


def unusable_line(key: str, stored: Any) -> str:
    """One line for a setting `unusable` names, for `settings` and the app's Settings page."""
    return (f"setting {key}: the stored value {stored!r} is not usable, so the default "
            f"{DEFAULTS[key]!r} is used; set it again")


def get(store: Store, key: str) -> Any:
    _coerce(key, DEFAULTS.get(key))
    with store.read() as session:
        row = session.get(SettingRow, key)
        return DEFAULTS[key] if row is None else _as_read(key, row.value)


def default_gpus(store: Store) -> str:
    """The `default_gpus` setting as a run reads it: a value stored by an older version that accepted
    empty ids ('0,,1') comes back as '0,1' (see `_as_read`)."""
    return str(get(store, "default_gpus"))


def get_all(store: Store) -> dict[str, Any]:
    return read_all(store)[0]


def read_all(store: Store) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every setting as `get_all` reads it and those `unusable` names, from one read of the table (the
    app's poller reads it every tick, so that Settings shows a change made from a terminal)."""
    with store.read() as session:
        stored = {row.key: row.value for row in session.scalars(select(SettingRow))}
    values = {key: _as_read(key, stored[key]) if key in stored else default for key, default in DEFAULTS.items()}
    return values, {key: value for key, value in stored.items() if key in DEFAULTS and _read(key, value) is _UNUSABLE}


def get_some(store: Store, keys: Sequence[str]) -> dict[str, Any]:
    """The settings `keys`, in one read, as `get` reads each (the app's poller reads those the queue's
    estimate depends on every tick: `queue_eta.SETTINGS`)."""
    with store.read() as session:
        stored = {row.key: row.value for row in session.scalars(select(SettingRow).where(SettingRow.key.in_(keys)))}
    return {key: _as_read(key, stored[key]) if key in stored else DEFAULTS[key] for key in keys}


def set_value(store: Store, key: str, value: Any) -> Any:
    coerced = _coerce(key, value)
    with store.write() as session:
        row = session.get(SettingRow, key)
        if row is None:
            session.add(SettingRow(key=key, value=coerced, updated_at=utcnow()))
        else:
            row.value = coerced
            flag_modified(row, "value")  # 1 over a stored True (equal in Python) is written too
            row.updated_at = utcnow()
    return coerced
