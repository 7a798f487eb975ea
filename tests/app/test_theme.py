"""The themes' check boxes and radio buttons can be seen: on the dark theme an unchecked box was
#16181d on #1e2127 with Fusion's outline darker still (the setup form's 'auto batch', Settings' GPU
sharing, the quit box), practically invisible."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtGui import QColor, QImage  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QCheckBox,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QVBoxLayout,
    QWidget,
)


def _luminance(c: QColor) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def _contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _indicator(button: QAbstractButton, image: QImage, inset: int) -> list[QColor]:
    option = QStyleOptionButton()
    button.initStyleOption(option)
    element = (QStyle.SubElement.SE_CheckBoxIndicator if isinstance(button, QCheckBox)
               else QStyle.SubElement.SE_RadioButtonIndicator)
    rect = button.style().subElementRect(element, option, button).adjusted(inset, inset, -inset, -inset)
    scale = image.devicePixelRatio()
    return [image.pixelColor(int(x * scale), int(y * scale))
            for x in range(rect.left(), rect.right() + 1) for y in range(rect.top(), rect.bottom() + 1)]


@pytest.mark.parametrize("name", ["dark", "light"])
@pytest.mark.parametrize("kind", [QCheckBox, QRadioButton])
def test_unchecked_checked_and_disabled_indicators_stand_out(qtbot, themed, tmp_path, name, kind) -> None:
    theme = themed(name)
    page = QWidget()
    qtbot.addWidget(page)
    layout = QVBoxLayout(page)
    buttons = {}
    for checked in (False, True):
        for enabled in (True, False):
            button = kind(f"{'checked' if checked else 'unchecked'}{'' if enabled else ', disabled'}")
            button.setAutoExclusive(False)
            button.setChecked(checked)
            button.setEnabled(enabled)
            layout.addWidget(button)
            buttons[checked, enabled] = button
    page.show()
    qtbot.waitExposed(page)
    page.grab().save(str(tmp_path / f"{name}-{kind.__name__}.png"))
    window = QColor(theme.window)
    for (checked, enabled), button in buttons.items():
        image = button.grab().toImage()
        outline = max(_contrast(c, window) for c in _indicator(button, image, 0))
        # WCAG's 3:1 for the parts of a control one must see; a disabled one still has a visible edge
        assert outline >= (3.0 if enabled else 1.6), (name, kind.__name__, checked, enabled, round(outline, 2))
        inside = _indicator(button, image, 4)
        spread = max(_contrast(a, b) for a in inside[::3] for b in inside[::5])
        if checked:  # a mark on the fill, not only a coloured square
            assert spread >= (3.0 if enabled else 1.6), (name, kind.__name__, "mark", enabled, round(spread, 2))
        else:
            assert spread < 1.3, (name, kind.__name__, "empty", enabled, round(spread, 2))


def test_the_check_marks_are_shipped_files_the_packaged_app_carries() -> None:
    from app import theme

    root = Path(__file__).resolve().parents[2]
    for t in (theme.DARK, theme.LIGHT):
        urls = re.findall(r"url\(([^)]+)\)", theme.stylesheet(t))
        assert urls, "no check mark image in the stylesheet"
        for url in urls:
            path = Path(url.strip("\"'"))
            assert path.is_file(), url
            assert path.resolve().is_relative_to(root / "resources"), url
    spec = (root / "build.spec").read_text()
    assert '(str(ROOT / "resources"), "resources")' in spec  # the whole folder travels as data


@pytest.mark.parametrize("name", ["dark", "light"])
def test_a_disabled_buttons_label_is_told_from_an_enabled_ones(name) -> None:
    """A GUI walk took a deleted run's greyed Resume, Export and Evaluate for enabled: on the dark theme a
    disabled label (#9aa3ad) was near the enabled one (#e6e6e6). It is as dim as a disabled box's edge."""
    from PySide6.QtGui import QPalette

    from app import theme

    t = theme.get(name)
    palette = theme._palette(t)
    role = QPalette.ColorRole.ButtonText
    enabled = palette.color(QPalette.ColorGroup.Active, role)
    disabled = palette.color(QPalette.ColorGroup.Disabled, role)
    background = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Button)
    assert _contrast(enabled, disabled) > 2.5, (enabled.name(), disabled.name())
    assert _contrast(disabled, background) > 1.5  # still legible


@pytest.mark.parametrize("name", ["dark", "light"])
@pytest.mark.parametrize("primary", [False, True])
def test_a_focused_button_has_a_ring_and_keeps_its_size(qtbot, themed, name, primary) -> None:
    """A keyboard-only walk could not tell which button had the focus: primary buttons had no focus style
    and Fusion's mark on the others was a faint inner line. The ring is 2 px of a colour the button's
    edge has only while it is focused."""
    from PySide6.QtWidgets import QPushButton

    from app import theme

    themed(name)
    t = theme.get(name)
    holder = QWidget()
    qtbot.addWidget(holder)
    layout = QVBoxLayout(holder)
    button, other = QPushButton("Launch"), QPushButton("Other")
    button.setProperty("primary", primary)
    layout.addWidget(button)
    layout.addWidget(other)
    holder.show()
    holder.activateWindow()
    qtbot.waitExposed(holder)

    def edge() -> tuple[QColor, QColor, int]:
        image = button.grab().toImage()
        scale = image.devicePixelRatio()
        y = int(button.height() / 2 * scale)
        return image.pixelColor(0, y), image.pixelColor(int(1 * scale), y), button.height()

    other.setFocus()
    qtbot.waitUntil(other.hasFocus)
    before = edge()
    button.setFocus()
    qtbot.waitUntil(button.hasFocus)
    after = edge()
    ring = QColor(t.text if primary else t.accent)
    assert after[0] == ring and after[1] == ring, (after[0].name(), after[1].name())
    assert before[1] != ring
    assert after[2] == before[2]  # the ring takes no room: the layout does not move
