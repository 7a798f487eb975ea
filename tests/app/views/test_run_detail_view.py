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
        centres = sorted(b.mapTo(view, b.rect().center()).y() for b in buttons)
        rows[width] = 1 + sum(1 for a, b in zip(centres, centres[1:], strict=False) if b - a > 10)  # lines of buttons
    assert rows[640] > 1 and rows[1600] == 1
    button, steps = (w.rect().translated(w.mapTo(view, w.rect().topLeft())) for w in (view.extend_button,
                                                                                       view.extend_steps))
    assert abs(button.center().y() - steps.center().y()) <= 2  # the pair stays together on one line
