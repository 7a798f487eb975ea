"""A tiny trained run shared by the playground tests (trained once per session)."""

from __future__ import annotations

import pytest

from tests.playground.trained import TrainedRun, train_tiny_run


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    return train_tiny_run(tmp_path_factory.mktemp("playground") / "home")
