"""Loss and accuracy curves as a PNG, drawn with Pillow (no plotting library needed)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont

__all__ = ["plot_curves"]

PANEL_SIZE = (480, 360)
MARGIN = (56, 24, 16, 40)  # left, top, right, bottom: room for tick labels and the title
COLORS = {"train": (31, 119, 180), "test": (214, 39, 40)}
GRID = (225, 225, 225)
INK = (40, 40, 40)


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round numbers (1, 2 or 5 times a power of ten) spanning [low, high]."""
    if high <= low:
        high = low + 1.0
    raw_step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int(math.ceil((high - first) / step)) + 1)]


def _panel(title: str, series: Mapping[str, Sequence[float]], epochs: Sequence[int]) -> Image.Image:
    width, height = PANEL_SIZE
    left, top, right, bottom = MARGIN
    image = Image.new("RGB", PANEL_SIZE, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    values = [v for points in series.values() for v in points if math.isfinite(v)]
    ticks = _nice_ticks(min(values, default=0.0), max(values, default=1.0))
    y_low, y_high = ticks[0], ticks[-1]
    x_low, x_high = min(epochs, default=1), max(max(epochs, default=1), min(epochs, default=1) + 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def to_pixel(epoch: float, value: float) -> tuple[float, float]:
        x = left + (epoch - x_low) / (x_high - x_low) * plot_w
        y = top + (y_high - value) / (y_high - y_low) * plot_h
        return x, y

    for tick in ticks:
        _, y = to_pixel(x_low, tick)
        draw.line([(left, y), (left + plot_w, y)], fill=GRID)
        draw.text((left - 6, y), f"{tick:g}", fill=INK, font=font, anchor="rm")
    epoch_step = max(1, math.ceil((x_high - x_low) / 10))
    for epoch in range(int(x_low), int(x_high) + 1, epoch_step):
        x, _ = to_pixel(epoch, y_low)
        draw.line([(x, top + plot_h), (x, top + plot_h + 4)], fill=INK)
        draw.text((x, top + plot_h + 6), str(epoch), fill=INK, font=font, anchor="mt")
    draw.rectangle([left, top, left + plot_w, top + plot_h], outline=INK)
    draw.text((left, top / 2), title, fill=INK, font=font, anchor="lm")
    draw.text((left + plot_w / 2, height - 6), "epoch", fill=INK, font=font, anchor="mb")
    for row, (name, points) in enumerate(series.items()):
        pixels = [to_pixel(e, v) for e, v in zip(epochs, points, strict=True) if math.isfinite(v)]
        color = COLORS.get(name, INK)
        if len(pixels) > 1:
            draw.line(pixels, fill=color, width=2)
        for x, y in pixels:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=color)
        # The legend sits in the top margin, right-aligned, so it never hides a curve.
        legend_x = left + plot_w - 80 * (len(series) - row)
        draw.line([(legend_x, top / 2), (legend_x + 20, top / 2)], fill=color, width=2)
        draw.text((legend_x + 26, top / 2), name, fill=INK, font=font, anchor="lm")
    return image


def plot_curves(history: Sequence[Mapping[str, float]], path: str | os.PathLike[str]) -> None:
    """Draw loss and accuracy per epoch, train and test side by side, into a PNG at ``path``.

    Args:
        history: one dict per epoch with ``epoch``, ``train_loss``, ``test_loss``,
            ``train_accuracy`` and ``test_accuracy`` (accuracies as fractions; missing keys
            are left out of the plot).
        path: the PNG file to write.
    """
    epochs = [int(row["epoch"]) for row in history]
    panels = []
    for title, key, scale in (("loss", "loss", 1.0), ("accuracy (%)", "accuracy", 100.0)):
        series = {
            split: [scale * float(row[f"{split}_{key}"]) for row in history]
            for split in ("train", "test")
            if all(f"{split}_{key}" in row for row in history)
        }
        panels.append(_panel(title, series, epochs))
    canvas = Image.new("RGB", (PANEL_SIZE[0] * len(panels), PANEL_SIZE[1]), "white")
    for i, panel in enumerate(panels):
        canvas.paste(panel, (PANEL_SIZE[0] * i, 0))
    canvas.save(path, format="PNG")
