"""Dark and light themes: a Fusion palette plus a short stylesheet for our own widget roles.

Widgets opt into styles through their objectName (`NavList`, `DropZone`, `Card`...) or the
`role` property (`role="error"` on a banner label), so views never hard-code colours.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.resources import resource
from spark_trainer.themes import THEMES  # noqa: F401  (the names; their colours are here)


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    error: str
    error_bg: str
    warning: str
    warning_bg: str
    ok: str
    ok_bg: str
    plot_bg: str
    plot_fg: str
    faint: str  # a disabled check box's edge: dimmer than `muted`, still seen on `window`


DARK = Theme(
    name="dark", window="#1e2127", base="#16181d", alt_base="#1b1e24", text="#e6e6e6", muted="#9aa3ad",
    border="#343a43", accent="#4c9aff", accent_text="#0b1220", error="#ff7b72", error_bg="#3b1d1d",
    warning="#e3b341", warning_bg="#3a3016", ok="#56d364", ok_bg="#173321", plot_bg="#16181d", plot_fg="#c9d1d9",
    faint="#5c6570",
)
LIGHT = Theme(
    name="light", window="#f5f6f8", base="#ffffff", alt_base="#f0f2f5", text="#1f2328", muted="#5b636d",
    border="#d0d7de", accent="#0969da", accent_text="#ffffff", error="#b42318", error_bg="#fde8e8",
    warning="#9a6700", warning_bg="#fff4d6", ok="#1a7f37", ok_bg="#e6f6ea", plot_bg="#ffffff", plot_fg="#1f2328",
    faint="#aab2bb",
)


def get(name: str) -> Theme:
    return LIGHT if name == "light" else DARK


def _palette(t: Theme) -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: t.window,
        QPalette.ColorRole.WindowText: t.text,
        QPalette.ColorRole.Base: t.base,
        QPalette.ColorRole.AlternateBase: t.alt_base,
        QPalette.ColorRole.Text: t.text,
        QPalette.ColorRole.Button: t.alt_base,
        QPalette.ColorRole.ButtonText: t.text,
        QPalette.ColorRole.ToolTipBase: t.base,
        QPalette.ColorRole.ToolTipText: t.text,
        QPalette.ColorRole.Highlight: t.accent,
        QPalette.ColorRole.HighlightedText: t.accent_text,
        QPalette.ColorRole.Link: t.accent,
        QPalette.ColorRole.PlaceholderText: t.muted,
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.PlaceholderText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(t.muted))
    # A disabled button's label in `muted` read as an enabled one on the dark theme (a GUI walk took the
    # greyed Resume, Export and Evaluate of a deleted run for enabled): dimmer still, as a disabled box's edge.
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(t.faint))
    # A disabled field or check box sits on the window's colour: with the enabled background it was
    # drawn exactly like an editable one (the Export dialog's Repository while Push was unchecked).
    for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Button):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(t.window))
    return p


def _indicators(t: Theme) -> str:
    """Check boxes and radio buttons drawn by the theme: Fusion's unchecked box was the Base colour
    on the window with an outline darker still (#16181d on #1e2127), practically invisible. Once
    styled, an indicator loses Qt's own mark, so the check box's mark is an SVG from resources/."""
    mark = resource(f"icons/check-{t.name}.svg")
    image = f"image: url({mark.as_posix()});" if mark is not None else ""
    dot = ("qradialgradient(cx:0.5, cy:0.5, radius:0.5, fx:0.5, fy:0.5, "
           f"stop:0 {t.accent_text}, stop:0.38 {t.accent_text}, stop:0.46 {{fill}}, stop:1 {{fill}})")
    return f"""
    QCheckBox::indicator, QRadioButton::indicator {{ width: 12px; height: 12px; border: 1px solid {t.muted};
        background: {t.base}; }}
    QCheckBox::indicator {{ border-radius: 3px; }}
    QRadioButton::indicator {{ border-radius: 7px; }}
    QCheckBox::indicator:hover, QRadioButton::indicator:hover {{ border-color: {t.accent}; }}
    QCheckBox::indicator:checked, QCheckBox::indicator:indeterminate {{ background: {t.accent};
        border-color: {t.accent}; {image} }}
    QRadioButton::indicator:checked {{ border-color: {t.accent}; background: {dot.format(fill=t.accent)}; }}
    QCheckBox::indicator:disabled, QRadioButton::indicator:disabled {{ border-color: {t.faint};
        background: {t.window}; }}
    QCheckBox::indicator:checked:disabled {{ background: {t.faint}; {image} }}
    QRadioButton::indicator:checked:disabled {{ background: {dot.format(fill=t.faint)}; }}
    """


def _buttons(t: Theme) -> str:
    """Every button shows where the keyboard is: Fusion's focus mark (a faint inner line) went unseen, and
    primary buttons had none at all. A ring of 2 px, drawn on a border each button always has (in its
    background's colour or a faint one), so taking the focus never changes a button's size. A dialog's
    default button (what Return presses) has the accent edge. Primary buttons: see stylesheet()."""
    return f"""
    QPushButton {{ background: {t.alt_base}; border: 1px solid {t.faint}; border-radius: 5px;
        padding: 5px 13px; }}
    QPushButton:hover {{ border-color: {t.muted}; }}
    QPushButton:pressed, QPushButton:checked {{ background: {t.base}; }}
    QPushButton:default {{ border-color: {t.accent}; }}
    QPushButton:focus {{ border: 2px solid {t.accent}; padding: 4px 12px; }}
    QPushButton:disabled {{ border-color: {t.border}; }}
    QPushButton::menu-indicator {{ subcontrol-origin: padding; subcontrol-position: right center; right: 4px; }}
    QToolButton:focus {{ border: 2px solid {t.accent}; border-radius: 4px; }}
    """


def stylesheet(t: Theme) -> str:
    return _indicators(t) + _buttons(t) + f"""
    QListWidget#NavList {{ background: {t.base}; border: none; border-right: 1px solid {t.border};
        font-size: 14px; outline: 0; }}
    QListWidget#NavList::item {{ padding: 9px 14px; border-radius: 6px; margin: 2px 6px; }}
    QListWidget#NavList::item:selected {{ background: {t.accent}; color: {t.accent_text}; }}
    QLabel#ViewTitle {{ font-size: 20px; font-weight: 600; }}
    QLabel#Muted, QLabel[role="muted"] {{ color: {t.muted}; }}
    QLabel[role="error"] {{ color: {t.error}; background: {t.error_bg}; border: 1px solid {t.error};
        border-radius: 6px; padding: 8px; }}
    QLabel[role="warning"] {{ color: {t.warning}; background: {t.warning_bg}; border: 1px solid {t.warning};
        border-radius: 6px; padding: 8px; }}
    QLabel[role="ok"] {{ color: {t.ok}; background: {t.ok_bg}; border: 1px solid {t.ok};
        border-radius: 6px; padding: 8px; }}
    QLabel[role="info"] {{ border: 1px solid {t.border}; border-radius: 6px; padding: 8px; }}
    QFrame#DropZone {{ border: 2px dashed {t.border}; border-radius: 10px; background: {t.alt_base}; }}
    QFrame#DropZone[active="true"] {{ border-color: {t.accent}; background: {t.base}; }}
    QFrame#Card {{ border: 1px solid {t.border}; border-radius: 8px; background: {t.alt_base}; }}
    QLabel#CardValue {{ font-size: 22px; font-weight: 600; }}
    QLabel#BigTitle {{ font-size: 26px; font-weight: 600; }}
    QPushButton[primary="true"] {{ background: {t.accent}; color: {t.accent_text}; border: 2px solid {t.accent};
        border-radius: 5px; padding: 4px 12px; font-weight: 600; }}
    QPushButton[primary="true"]:focus {{ border-color: {t.text}; }}
    QPushButton[primary="true"]:disabled {{ background: {t.border}; border-color: {t.border}; color: {t.muted}; }}
    QStatusBar QLabel {{ padding: 0 8px; }}
    QStatusBar QLabel[role="warning"] {{ color: {t.warning}; background: transparent; border: none; padding: 0 8px; }}
    QTableView {{ gridline-color: {t.border}; }}
    """


def use_fusion(app: QApplication) -> None:
    """Switch to the Fusion style; call once, before any widget exists.

    Replacing the application style while widgets exist leaves some of them (QWizard's buttons) pointing
    at the deleted style, and the next stylesheet change crashes: so this never happens twice.
    """
    # Once a stylesheet is set, app.style() is Qt's stylesheet proxy (its name() is ''), so remember instead.
    if not app.property("spark_fusion"):
        app.setStyle("Fusion")
        app.setProperty("spark_fusion", True)


def apply(app: QApplication, name: str) -> Theme:
    """Apply a theme to the whole application; returns it (views read plot colours from it)."""
    theme = get(name)
    use_fusion(app)
    app.setProperty("spark_theme", theme.name)  # first: widgets told of the new palette read `current()`
    app.setPalette(_palette(theme))
    app.setStyleSheet(stylesheet(theme))
    return theme


def current() -> Theme:
    app = QApplication.instance()
    return get(str(app.property("spark_theme") or "dark")) if app is not None else DARK
