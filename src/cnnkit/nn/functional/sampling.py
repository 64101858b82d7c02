"""The functional API for interpolate, pixel_shuffle and pixel_unshuffle.

``interpolate`` follows ``torch.nn.functional.interpolate`` exactly, including which scale
reaches the kernel: with ``scale_factor`` (and ``recompute_scale_factor`` not set) the source
positions use ``1 / scale_factor``, otherwise ``input_size / output_size``; the two differ
when the scale factor does not divide evenly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnkit import ops
from cnnkit.nn._checks import check_floating, to_tensor
from cnnkit.tensor import Tensor

__all__ = ["interpolate", "pixel_shuffle", "pixel_unshuffle"]

# mode -> (number of spatial axes it needs, or None for any of 1-3; the op's kernel name)
_MODES: dict[str, tuple[int | None, str]] = {
    "nearest": (None, "nearest"),
    "nearest-exact": (None, "nearest-exact"),
    "area": (None, "area"),
    "linear": (1, "linear"),
    "bilinear": (2, "linear"),
    "trilinear": (3, "linear"),
    "bicubic": (2, "cubic"),
}
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")


def _per_axis(value: Any, n: int, name: str, kinds: tuple[type, ...]) -> tuple[Any, ...]:
    """A number for every spatial axis, from one number or a sequence of ``n``."""
    values = tuple(value) if isinstance(value, list | tuple) else (value,) * n
    if len(values) != n:
        raise ValueError(
            f"{name} must have one entry per spatial axis ({n}) of the input, got {value!r}"
        )
    if any(isinstance(v, bool) or not isinstance(v, kinds) for v in values):
        raise TypeError(f"{name} must be a number or a sequence of {n} numbers, got {value!r}")
    return values


def _output_size(
    x: Tensor, n: int, size: Any, scale_factor: Any, recompute_scale_factor: bool | None
) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """(output size, scale factors the kernel sees), as torch.nn.functional.interpolate."""
    spatial = x.shape[-n:]
    if size is not None and scale_factor is not None:
        raise ValueError(
            f"only one of size or scale_factor should be defined, got size={size!r} and "
            f"scale_factor={scale_factor!r}"
        )
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size")
        sizes = tuple(int(s) for s in _per_axis(size, n, "size", (int, np.integer)))
        if any(s <= 0 for s in sizes):
            raise ValueError(f"size must be positive, got {size!r}")
        return sizes, (None,) * n
    factors = tuple(
        float(f) for f in _per_axis(scale_factor, n, "scale_factor", (int, float, np.number))
    )
    if recompute_scale_factor:
        sizes = tuple(math.floor(float(i) * f) for i, f in zip(spatial, factors, strict=True))
        scales: tuple[float | None, ...] = (None,) * n
    else:
        sizes = tuple(int(i * f) for i, f in zip(spatial, factors, strict=True))
        scales = factors
    if any(s <= 0 for s in sizes):
        raise ValueError(
            f"scale_factor={scale_factor!r} gives output size {sizes} for input size "
            f"{tuple(spatial)}; sizes must be positive"
        )
    return sizes, scales


def interpolate(
    input: Any,
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial axes of a batch by sampling or interpolation.

    Args:
        input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        size: output spatial size (an int for all axes, or one per axis).
        scale_factor: output = floor(input * scale_factor) per axis; give size or this.
        mode: 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' (4-D),
            'bicubic' (4-D), 'trilinear' (5-D) or 'area' (adaptive average pooling).
        align_corners: for the interpolating modes, map the corner pixel centres onto each
            other (True) or the corner pixel edges (False, the default).
        recompute_scale_factor: compute the output size from ``scale_factor``, then sample
            as if that size had been given (``in/out`` instead of ``1/scale_factor``).
        antialias: not supported; must be False.

    Shape:
        (N, C, *spatial) -> (N, C, *size).

    Example:
        >>> x = cnnkit.tensor(np.arange(4.0).reshape(1, 1, 2, 2))
        >>> F.interpolate(x, scale_factor=2, mode="bilinear").shape
        (1, 1, 4, 4)
    """
    x = to_tensor(input)
    check_floating(x)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}; got mode={mode!r}")
    if mode in _INTERPOLATING:
        align_corners = bool(align_corners) if align_corners is not None else False
    elif align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            f"{' | '.join(_INTERPOLATING)}; got align_corners={align_corners!r} with mode={mode!r}"
        )
    if antialias:
        raise ValueError("antialias=True is not supported")
    if x.ndim not in (3, 4, 5):
        raise ValueError(
            f"interpolate: expected input to be 3-D, 4-D or 5-D (batched), got {x.ndim}-D with "
            f"shape {tuple(x.shape)}"
        )
    n = x.ndim - 2
    needed, kernel = _MODES[mode]
    if needed is not None and needed != n:
        raise ValueError(
            f"interpolate: mode={mode!r} needs {needed + 2}-D input, got {x.ndim}-D with shape "
            f"{tuple(x.shape)}"
        )
    if 0 in x.shape[1:]:
        raise ValueError(
            f"interpolate: expected non-empty channel and spatial axes, got shape {tuple(x.shape)}"
        )
    if mode == "area" and size is None:  # PyTorch always recomputes for area
        recompute_scale_factor = True
    sizes, scales = _output_size(x, n, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return ops.adaptive_avg_pool(x, sizes)
    return ops.interpolate(x, sizes, scales, kernel, bool(align_corners))


def _factor(value: Any, name: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{what}: {name} must be an int, got {value!r}")
    if value <= 0:
        raise ValueError(f"{what}: {name} must be positive, got {value!r}")
    return int(value)


def _shuffle_input(input: Any, what: str) -> Tensor:
    x = to_tensor(input)
    if x.ndim < 3:
        raise ValueError(
            f"{what}: expected input with at least 3 dimensions (..., C, H, W), got {x.ndim}-D "
            f"with shape {tuple(x.shape)}"
        )
    return x


def pixel_shuffle(input: Any, upscale_factor: int) -> Tensor:
    """Rearrange channels into space: each group of r*r channels becomes an r x r block.

    Args:
        input: (*, C*r*r, H, W), any number of leading axes.
        upscale_factor: r.

    Shape:
        (*, C*r*r, H, W) -> (*, C, H*r, W*r).

    Example:
        >>> F.pixel_shuffle(cnnkit.tensor(np.zeros((1, 8, 3, 3))), 2).shape
        (1, 2, 6, 6)
    """
    x = _shuffle_input(input, "pixel_shuffle")
    r = _factor(upscale_factor, "upscale_factor", "pixel_shuffle")
    if x.shape[-3] % (r * r):
        raise ValueError(
            f"pixel_shuffle: input channels ({x.shape[-3]}, axis -3) must be divisible by "
            f"upscale_factor**2 = {r * r}"
        )
    return ops.pixel_shuffle(x, r)


def pixel_unshuffle(input: Any, downscale_factor: int) -> Tensor:
    """Rearrange space into channels, the inverse of ``pixel_shuffle``.

    Args:
        input: (*, C, H*r, W*r), any number of leading axes.
        downscale_factor: r.

    Shape:
        (*, C, H*r, W*r) -> (*, C*r*r, H, W).

    Example:
        >>> F.pixel_unshuffle(cnnkit.tensor(np.zeros((1, 2, 6, 6))), 2).shape
        (1, 8, 3, 3)
    """
    x = _shuffle_input(input, "pixel_unshuffle")
    r = _factor(downscale_factor, "downscale_factor", "pixel_unshuffle")
    height, width = x.shape[-2:]
    if height % r or width % r:
        raise ValueError(
            f"pixel_unshuffle: input height and width ({height}, {width}) must be divisible by "
            f"downscale_factor={r}"
        )
    return ops.pixel_unshuffle(x, r)
