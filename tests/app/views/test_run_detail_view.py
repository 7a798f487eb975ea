"""The run detail's action row wraps in a narrow window instead of squeezing its buttons' labels."""

from __future__ import annotations


def test_actions_wrap_in_a_narrow_view_and_keep_their_labels_whole(store, ctx, qtbot) -> None:
    from app.views.run_detail_view import RunDetailView

    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    buttons = [view.cancel_button, view.pause_button, view.resume_button, view.extend_button,
               view.playground_button, view.clone_button, view.export_button, view.evaluate_button,
               view.delete_button]
    rows = {}
    for width in (640, 1600):
        view.resize(width, 600)
        view.show()
        qtbot.waitUntil(lambda w=width: view.width() == w)
        qtbot.wait(20)
        assert all(b.width() >= b.sizeHint().width() for b in buttons), [(b.text(), b.width()) for b in buttons]
        assert all(b.mapTo(view, b.rect().topRight()).x() < view.width() for b in buttons)  # none cut off
        rows[width] = len({b.mapTo(view, b.rect().topLeft()).y() for b in buttons})
    assert rows[640] > 1 and rows[1600] == 1
    assert view.extend_button.mapTo(view, view.extend_button.rect().topLeft()).y() == \
        view.extend_steps.mapTo(view, view.extend_steps.rect().topLeft()).y()  # the pair stays together
