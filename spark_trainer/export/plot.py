"""The loss-curve PNG of a model card, drawn with Pillow (no plotting library, no Qt)."""

from __future__ import annotations

import math
from pathlib import Path

SERIES_COLOURS = {"loss": (47, 129, 247), "eval_loss": (218, 54, 51)}
FALLBACK_COLOURS = [(45, 164, 78), (130, 80, 223), (191, 135, 0)]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _label(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"


def draw_curves(series: dict[str, list[tuple[int, float]]], dest: Path, *, title: str = "Loss",
                size: tuple[int, int] = (800, 400)) -> Path:
    """Draw (step, value) series as lines (a series of one point as a dot) with axes, ticks and a legend."""
    from PIL import Image, ImageDraw

    from spark_trainer.fonts import label_font

    width, height = size
    left, right, top, bottom = 70, 20, 40, 50
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = label_font()  # the title is the experiment's name: any letters
    points = [(s, v) for pts in series.values() for s, v in pts if math.isfinite(v)]
    draw.text((left, 12), title, fill="black", font=font)
    if not points:
        draw.text((left, height // 2), "no points recorded", fill="gray", font=font)
        image.save(dest)
        return dest
    x_lo, x_hi = min(s for s, _ in points), max(s for s, _ in points)
    y_lo, y_hi = min(v for _, v in points), max(v for _, v in points)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    pad = (y_hi - y_lo) * 0.05 or abs(y_hi) * 0.05 or 1.0
    y_lo, y_hi = y_lo - pad, y_hi + pad

    def xy(step: float, value: float) -> tuple[float, float]:
        return (left + (step - x_lo) / (x_hi - x_lo) * (width - left - right),
                height - bottom - (value - y_lo) / (y_hi - y_lo) * (height - top - bottom))

    draw.rectangle([left, top, width - right, height - bottom], outline=(120, 120, 120))
    for tick in _ticks(y_lo, y_hi):
        _, y = xy(x_lo, tick)
        draw.line([left, y, width - right, y], fill=(230, 230, 230))
        draw.text((8, y - 6), _label(tick), fill="black", font=font)
    for tick in _ticks(x_lo, x_hi):
        x, _ = xy(tick, y_lo)
        draw.line([x, height - bottom, x, height - bottom + 4], fill="black")
        draw.text((x - 10, height - bottom + 8), f"{tick:g}", fill="black", font=font)
    draw.text(((width - left) // 2 + left - 10, height - 18), "step", fill="black", font=font)
    legend_x = width - right - 150
    for i, (name, pts) in enumerate(series.items()):
        colour = SERIES_COLOURS.get(name, FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)])
        coords = [xy(s, v) for s, v in pts if math.isfinite(v)]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=2)
        for x, y in coords if len(coords) <= 50 else []:
            draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=colour)
        draw.line([legend_x, top + 14 + 16 * i, legend_x + 20, top + 14 + 16 * i], fill=colour, width=3)
        draw.text((legend_x + 26, top + 8 + 16 * i), name, fill="black", font=font)
    image.save(dest)
    return dest


def downsample(points: list[tuple[int, float]], limit: int = 1500) -> list[tuple[int, float]]:
    """Every k-th point (and the last), so a million-step run still draws quickly."""
    if len(points) <= limit:
        return points
    stride = math.ceil(len(points) / limit)
    return points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
