"""Two calls at the same moment, made to meet: each thread's first call of a patched function (the
first write) waits until the other thread's reaches it too, so both have read before either writes,
unless something keeps them apart; then the wait ends after a second and the first goes on alone."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest


def meet_before(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
    """Patch `owner.name` so each thread's first call waits (up to 1 s) for the other thread's."""
    both = threading.Barrier(2, timeout=1.0)
    real = getattr(owner, name)
    waited: set[int] = set()

    def meeting(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            with contextlib.suppress(threading.BrokenBarrierError):
                both.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, meeting)


def at_once(call: Callable[[Any], Any], arguments: list[Any]) -> dict[Any, Any]:
    """`call(argument)` for each argument, each in its own thread, at once: argument -> its result, or
    the exception it raised."""
    outcomes: dict[Any, Any] = {}

    def one(argument: Any) -> None:
        try:
            outcomes[argument] = call(argument)
        except Exception as exc:  # noqa: BLE001 - the test says which error, not the thread
            outcomes[argument] = exc

    threads = [threading.Thread(target=one, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes
