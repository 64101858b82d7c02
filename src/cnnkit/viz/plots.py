"""What a CNN's first layers detect: its kernels and its feature maps, as PNG grids (Pillow).

Every tile is normalised on its own (a kernel's or a channel's values span the full colour
range), so weak and strong filters are equally readable; a small scale bar under each grid says
how colours map to values.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnnkit.arithmetic.receptive_field import (
    CONTAINERS,
    CONV_LAYERS,
    POINTWISE_LAYERS,
    POOL_LAYERS,
    sequential_layers,
)
from cnnkit.tensor import Tensor, no_grad

__all__ = ["feature_maps", "plot_feature_maps", "plot_kernels"]

BACKGROUND = (255, 255, 255)
TEXT = (0, 43, 54)
GRID_LINE = (88, 110, 117)  # between tiles; no other pixel has this colour
NEGATIVE = np.array([38, 139, 210], dtype=np.float64)  # blue, as the input cells
POSITIVE = np.array([220, 50, 47], dtype=np.float64)  # red
GAP = 2


def _font(size: int = 11) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _as_array(value: Any) -> np.ndarray:
    """A cnnkit or PyTorch tensor (or an array) as a float64 ndarray."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)


def _first_conv_weight(model_or_layer: Any) -> tuple[str, np.ndarray]:
    """(name, weight) of ``model_or_layer`` itself if it is a conv layer, else of the first one."""
    candidates = (
        model_or_layer.named_modules()
        if hasattr(model_or_layer, "named_modules")
        else [("", model_or_layer)]
    )
    for name, module in candidates:
        weight = getattr(module, "weight", None)
        if type(module).__name__ in CONV_LAYERS and weight is not None:
            return (f"{name}.weight" if name else "weight"), _as_array(weight)
    raise TypeError(
        f"plot_kernels: {type(model_or_layer).__name__} is not a Conv2d and contains none"
    )


def diverging(values: np.ndarray) -> np.ndarray:
    """Map values in [-1, 1] to RGB: blue (negative), white (zero), red (positive).

    Shape: ``(...)`` -> ``(..., 3)`` uint8.
    """
    amount = np.clip(np.abs(values), 0.0, 1.0)[..., None]
    ends = np.where(values[..., None] < 0, NEGATIVE, POSITIVE)
    return np.round(255.0 + amount * (ends - 255.0)).astype(np.uint8)


def normalise(tile: np.ndarray) -> np.ndarray:
    """Scale a tile's values to [0, 1] (min to max); a constant tile becomes 0.5."""
    low, high = float(tile.min()), float(tile.max())
    if high - low <= 0.0:
        return np.full(tile.shape, 0.5)
    return (tile - low) / (high - low)


def _grid(tiles: list[np.ndarray], columns: int, scale: int) -> Image.Image:
    """Tiles (h, w, 3) uint8 of one size, enlarged ``scale`` times, ``columns`` per row."""
    height, width = tiles[0].shape[0] * scale, tiles[0].shape[1] * scale
    rows = -(-len(tiles) // columns)
    size = (columns * (width + GAP) + GAP, rows * (height + GAP) + GAP)
    canvas = Image.new("RGB", size, GRID_LINE)
    for index, tile in enumerate(tiles):
        row, col = divmod(index, columns)
        enlarged = Image.fromarray(tile).resize((width, height), Image.Resampling.NEAREST)
        canvas.paste(enlarged, (GAP + col * (width + GAP), GAP + row * (height + GAP)))
    return canvas


def _scale_bar(colours: np.ndarray, left: str, right: str, width: int = 120) -> Image.Image:
    """A colour ramp (``colours``: (n, 3) uint8) with a label at each end."""
    font = _font(10)
    ramp = Image.fromarray(colours[None].repeat(8, axis=0)).resize((width, 8))
    left_width, right_width = int(font.getbbox(left)[2]), int(font.getbbox(right)[2])
    image = Image.new("RGB", (left_width + width + right_width + 12, 14), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((0, 1), left, fill=TEXT, font=font)
    image.paste(ramp, (left_width + 6, 3))
    draw.text((left_width + width + 12, 1), right, fill=TEXT, font=font)
    return image


def _stack(parts: list[Image.Image | str], width: int | None = None) -> Image.Image:
    """Stack images and text lines vertically on a white page with a small margin."""
    font = _font()
    heights, widths = [], []
    for part in parts:
        if isinstance(part, str):
            box = font.getbbox(part)
            widths.append(int(box[2]))
            heights.append(16)
        else:
            widths.append(part.width)
            heights.append(part.height + 4)
    page = Image.new("RGB", (max([*widths, width or 0]) + 16, sum(heights) + 16), BACKGROUND)
    draw = ImageDraw.Draw(page)
    y = 8
    for part, height in zip(parts, heights, strict=True):
        if isinstance(part, str):
            draw.text((8, y), part, fill=TEXT, font=font)
        else:
            page.paste(part, (8, y))
        y += height
    return page


def plot_kernels(
    model_or_layer: Any, path: str | Path, scale: int = 8, max_kernels: int = 64
) -> Path:
    """Draw the kernels of a model's first ``Conv2d`` (or of the given layer) as a PNG grid.

    With 3 input channels each filter is one RGB tile (its weights scaled to [0, 1]); otherwise
    each (filter, input channel) kernel is a tile of its own, blue negative, white zero, red
    positive, scaled to its own largest magnitude (rows: filters, columns: input channels; with
    one input channel, up to 8 filters per row).

    Args:
        model_or_layer: a ``Conv2d`` or a model containing one (cnnkit or PyTorch).
        path: the PNG to write.
        scale: pixels per kernel element.
        max_kernels: at most this many tiles are drawn (the first filters).

    Returns:
        The path written.

    Raises:
        TypeError: no ``Conv2d`` in ``model_or_layer``.

    Example:
        >>> plot_kernels(model, "kernels.png")  # model.features[0] is a Conv2d
        PosixPath('kernels.png')
    """
    if scale < 1 or max_kernels < 1:
        raise ValueError(f"scale and max_kernels must be positive, got {scale}, {max_kernels}")
    name, weight = _first_conv_weight(model_or_layer)
    out_channels, in_channels = weight.shape[:2]
    if in_channels == 3:
        tiles = [
            np.round(255 * normalise(kernel.transpose(1, 2, 0))).astype(np.uint8)
            for kernel in weight[:max_kernels]
        ]
        columns = min(len(tiles), 8)
        bar = _scale_bar(
            np.repeat(np.linspace(0, 255, 64)[:, None], 3, 1).astype(np.uint8),
            "tile min",
            "tile max",
        )
        note = "one RGB tile per filter"
    else:
        filters = max(1, min(out_channels, max_kernels // in_channels))
        kernels = weight[:filters, : max(1, max_kernels // filters)]
        tiles = [
            diverging(kernel / max(float(np.abs(kernel).max()), 1e-12))
            for kernel in kernels.reshape(-1, *weight.shape[2:])
        ]
        bar = _scale_bar(diverging(np.linspace(-1, 1, 64)), "-max|w|", "+max|w|  (per tile)")
        if in_channels == 1:
            columns, note = min(len(tiles), 8), "one tile per filter"
        else:
            columns, note = kernels.shape[1], "rows: filters, columns: input channels"
    grid = _grid(tiles, columns, scale)
    shape = "x".join(str(v) for v in weight.shape)
    page = _stack([f"{name} ({shape}): {note}", grid, bar])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.save(path)
    return path


def _spatial_layers(model: Any) -> Iterator[tuple[str, Any]]:
    """The model's leaf layers in registration order, up to the first non-spatial one."""
    children = list(model.named_children())
    if type(model).__name__ in CONTAINERS or not children:
        layers = sequential_layers(model)
    else:  # a model class such as LeNet5: its children (features, classifier) in order
        layers = (leaf for prefix, child in children for leaf in sequential_layers(child, prefix))
    for name, layer in layers:
        if type(layer).__name__ not in POINTWISE_LAYERS | CONV_LAYERS | POOL_LAYERS:
            return
        yield name, layer


def feature_maps(model: Any, image: Any, max_stages: int = 3) -> list[tuple[str, np.ndarray]]:
    """Outputs of a model's first convolution stages for one image.

    The model's layers are applied in registration order (``Sequential`` containers entered)
    up to the first one that is not a convolution, pooling or pointwise layer (a ``Linear``,
    ``Flatten``, a residual block): the convolutional front of plain CNNs such as LeNet-5 and
    VGG. A stage is a ``Conv2d`` with the pointwise layers after it (its activation); pooling
    layers end a stage too.

    Args:
        model: a cnnkit model, run in eval mode without gradients (its mode is restored).
        image: the model's input for one image, (C, H, W) or (1, C, H, W), preprocessed as in
            training.
        max_stages: how many stages to return.

    Returns:
        ``[(description, maps (C, H', W')), ...]``, one per stage.
    """
    array = _as_array(image).astype(np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[0] != 1:
        raise ValueError(f"image must be (C, H, W) or (1, C, H, W), got shape {array.shape}")
    layers = list(_spatial_layers(model))
    if not any(type(layer).__name__ in CONV_LAYERS for _, layer in layers):
        raise TypeError(
            f"feature_maps: {type(model).__name__} does not start with a Conv2d "
            f"(its first layers: {[type(layer).__name__ for _, layer in layers[:3]] or 'none'})"
        )
    stages: list[tuple[str, np.ndarray]] = []
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            x, names = Tensor(array), []
            for index, (name, layer) in enumerate(layers):
                x = layer(x)
                names.append(f"{name} {type(layer).__name__}".strip())
                following = layers[index + 1][1] if index + 1 < len(layers) else None
                if following is None or type(following).__name__ not in POINTWISE_LAYERS:
                    stages.append((" > ".join(names), x.numpy()[0]))
                    names = []
                    if len(stages) == max_stages:
                        break
    finally:
        model.train(was_training)
    return stages


def plot_feature_maps(
    model: Any,
    image: Any,
    path: str | Path,
    max_stages: int = 3,
    max_channels: int = 16,
    scale: int = 2,
) -> Path:
    """Draw the feature maps of a model's first stages (:func:`feature_maps`) as a PNG.

    One grid per stage, one grayscale tile per channel, each tile scaled from its own minimum
    (black) to its maximum (white).

    Args:
        model, image, max_stages: as in :func:`feature_maps`.
        path: the PNG to write.
        max_channels: channels drawn per stage (the first ones).
        scale: pixels per feature-map element (small maps are enlarged more).

    Returns:
        The path written.
    """
    parts: list[Image.Image | str] = []
    for description, maps in feature_maps(model, image, max_stages):
        shown = maps[:max_channels]
        tiles = [
            np.repeat(np.round(255 * normalise(channel))[..., None], 3, -1).astype(np.uint8)
            for channel in shown
        ]
        enlarge = max(scale, 48 // max(channel_size for channel_size in maps.shape[1:]))
        shape = "x".join(str(v) for v in maps.shape)
        parts += [f"{description}: {shape}", _grid(tiles, min(len(tiles), 8), enlarge)]
    gray = np.repeat(np.linspace(0, 255, 64)[:, None], 3, 1).astype(np.uint8)
    parts.append(_scale_bar(gray, "tile min", "tile max"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _stack(parts).save(path)
    return path
