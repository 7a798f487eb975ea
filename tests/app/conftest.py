"""GUI test fixtures: offscreen Qt, a real temporary store, isolated QSettings, a real keyring backend."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _fusion_style(qapp):
    """The app's style, set once before any widget exists, as app.main does."""
    from app.theme import use_fusion

    use_fusion(qapp)


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread(qapp):
    """As app.main does: garbage collection never runs on worker threads (see app/gc_guard.py).
    Given back after each test, so the non-GUI tests that follow collect as usual.

    What was alive before the test is frozen (gc.freeze) while it runs, so the collection after it goes
    through what the test made, not the whole heap of a test process that has imported torch,
    transformers and Qt (over 500,000 objects: about 1 s a collection on a loaded 2-core machine). The GUI
    tests' teardowns, that collection mostly, took 580 of the suite's 6,700 test-seconds in a loaded run."""
    import gc

    from app.gc_guard import install, uninstall

    install(qapp)
    gc.freeze()
    try:
        yield
    finally:
        uninstall()
        gc.unfreeze()


@pytest.fixture
def themed(qapp):
    """Applies a theme for one test (call it with the theme's name; again to switch) and puts the
    application's look back afterwards."""
    from app import theme

    palette, sheet, name = qapp.palette(), qapp.styleSheet(), qapp.property("spark_theme")
    yield lambda which: theme.apply(qapp, which)
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)
    qapp.setProperty("spark_theme", name)


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    """Window state goes to a temporary ini file, never the user's real settings."""
    return QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)


def first_read_landed(qtbot, context) -> None:  # noqa: ANN001 - Qt objects
    """Wait until the store poller's first read, started with `context` on a pool thread, has landed.
    Left in flight, it ran while the test wrote its setup and caught the store half-written (one of a
    project's two datasets): a view shown next picked its row from that read and kept it when the next
    read brought the rest (4 of 8 runs failed under load). The test's writes now all precede a read."""
    qtbot.waitUntil(lambda: not context.model.busy() and not context.model.poller.busy, timeout=15_000)


@pytest.fixture
def ctx(store, qsettings, qtbot):
    """The shared context views take, without GPU polling (tests that want it build a window)."""
    from app.context import AppContext

    context = AppContext(store, qsettings, poll_gpus=False)
    first_read_landed(qtbot, context)
    yield context
    assert context.shutdown(10.0), "background tasks did not stop"


@pytest.fixture
def window(store, qsettings, qtbot):
    from app.main_window import MainWindow

    win = MainWindow(store, qsettings)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    first_read_landed(qtbot, win.ctx)
    yield win
    win.close()


@pytest.fixture
def project(store):
    from spark_trainer.store import projects

    return projects.create(store, "alpha", "test project")


@contextmanager
def _context_on(home: Path, qsettings: QSettings):
    from app.context import AppContext
    from spark_trainer.store.store import Store

    store = Store.open(home)
    ctx = AppContext(store, qsettings, poll_gpus=False)
    yield store, ctx
    assert ctx.shutdown(10.0)
    store.close()


@pytest.fixture
def opened(trained, qsettings, qtbot):  # noqa: ANN001 - pytest fixtures
    """The app's store and context on the home of the session's tiny trained run (tests/conftest.py):
    the Playground tests."""
    with _context_on(trained.home, qsettings) as pair:
        yield pair


@pytest.fixture
def alpaca_opened(alpaca, qsettings, qtbot):  # noqa: ANN001 - pytest fixtures
    """The same on the home of a module's `alpaca` run (a TrainedRun fixture the module defines)."""
    with _context_on(alpaca.home, qsettings) as pair:
        yield pair
