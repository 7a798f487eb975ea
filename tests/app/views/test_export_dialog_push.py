"""The Export dialog's Hub fields: Repository and Private take input only while "Push to Hub" is
checked, and look it. Seen on a real display: with the box unchecked they were drawn exactly like
the editable Folder field (the dark theme gave disabled fields the enabled background)."""

from __future__ import annotations

from PySide6.QtGui import QImage

from tests.app.views.test_export_dialog_weights import _run


def _background(widget) -> str:
    """The colour inside the field, away from its frame and text."""
    image: QImage = widget.grab().toImage()
    return image.pixelColor(image.width() - 6, image.height() // 2).name()


def _open_dialog(store, ctx, qtbot):
    """The Export dialog of a causal-LM LoRA run, opened from its run's Exports tab, shown."""
    from app.views.run_exports import RunExportsWidget

    tab = RunExportsWidget(store, ctx)
    qtbot.addWidget(tab)
    tab.show_run(_run(store, "causal-lm", "lora"))
    tab.show()
    dialog = tab.open_export()
    qtbot.waitExposed(dialog)
    return dialog


def test_repository_and_private_follow_push_to_hub(store, ctx, qtbot, qapp) -> None:
    from app import theme

    theme.apply(qapp, "dark")
    dialog = _open_dialog(store, ctx, qtbot)
    assert not dialog.push.isChecked()
    assert not dialog.repo.isEnabled() and not dialog.private.isEnabled()
    qtbot.keyClicks(dialog.repo, "me/model")
    assert dialog.repo.text() == ""
    assert _background(dialog.repo) != _background(dialog.out), "a disabled field looks editable"

    dialog.push.setChecked(True)
    assert dialog.repo.isEnabled() and dialog.private.isEnabled()
    qtbot.keyClicks(dialog.repo, "me/model")
    assert dialog.repo.text() == "me/model"
    assert _background(dialog.repo) == _background(dialog.out)
    dialog.push.setChecked(False)
    assert not dialog.repo.isEnabled() and not dialog.private.isEnabled()
    dialog.grab().save(str(store.home.root / "export_dialog.png"))


def test_the_token_note_arriving_late_grows_the_dialog_instead_of_overlapping(store, ctx, qtbot, qapp) -> None:
    # The note ("Pushes to https://huggingface.co; no token ...") is read on the pool after the dialog is
    # shown and laid out; the window kept its height, so the wrapped note was drawn over the form.
    dialog = _open_dialog(store, ctx, qtbot)
    qtbot.waitUntil(lambda: dialog.token_note.text().startswith("Pushes to "), timeout=10000)
    qtbot.wait(50)
    layout = dialog.layout()
    layout.activate()
    assert dialog.height() >= layout.totalHeightForWidth(dialog.width())
    note = dialog.token_note.geometry()
    assert note.top() >= dialog.private.geometry().bottom()  # below the form, not over it
    assert note.height() >= dialog.token_note.heightForWidth(note.width())  # all its lines shown


def test_the_token_note_hides_the_endpoints_password_and_says_a_push_fails_without_a_token(
        store, ctx, qtbot, monkeypatch) -> None:
    """Seen: "no token saved; exports to the Hub will ask for one" (nothing asks), and HF_ENDPOINT's
    user:password shown as typed."""
    import keyring
    from keyring.backend import KeyringBackend

    class Empty(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, *_args: str) -> None:
            return None

        set_password = delete_password = get_password  # type: ignore[assignment]

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://me:SECRET@127.0.0.1:9")
    previous = keyring.get_keyring()
    keyring.set_keyring(Empty())
    try:
        dialog = _open_dialog(store, ctx, qtbot)
        qtbot.waitUntil(lambda: dialog.token_note.text().startswith("Pushes to "), timeout=10000)
    finally:
        keyring.set_keyring(previous)
    note = dialog.token_note.text()
    assert "SECRET" not in note and note.startswith("Pushes to http://***@127.0.0.1:9;")
    assert "ask" not in note and "push to the Hub fails" in note
