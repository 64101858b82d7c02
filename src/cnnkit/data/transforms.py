"""Image transforms with torchvision's names and arguments, for single images and batches.

Transforms take a channel-first NumPy array or ``Tensor``: one image ``(C, H, W)`` or a batch
``(N, C, H, W)`` (a bare ``(H, W)`` image counts as one channel), and return the same kind of
object. On a batch, the random transforms draw independent parameters for every image, so a
batch-level call gives the same distribution as calling the transform image by image, only
faster. Random transforms take a ``generator`` (``None``: the library-wide generator).

``ToTensor`` converts what a user hands in (a PIL image, or an ``(H, W)`` / ``(H, W, C)`` array)
to a ``(C, H, W)`` float tensor in [0, 1]; ``ToDtype(..., scale=True)`` does the same scaling
for data that is already channel-first (datasets, batches).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cnnkit.data._random import numpy_generator
from cnnkit.tensor import Tensor

__all__ = [
    "Compose",
    "ToTensor",
    "ToDtype",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomAffine",
]

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


def _unwrap(image: Any) -> tuple[np.ndarray, bool]:
    if isinstance(image, Tensor):
        return image.data, True
    return np.asarray(image), False


def _wrap(array: np.ndarray, as_tensor: bool) -> Any:
    return Tensor(array) if as_tensor else array


def _as_batch(array: np.ndarray) -> np.ndarray:
    """View ``array`` as ``(B, C, H, W)``; the caller reshapes back to ``array.shape``."""
    if array.ndim < 2:
        raise ValueError(f"expected an image (C, H, W) or a batch (N, C, H, W), got {array.shape}")
    if array.ndim == 2:
        return array.reshape(1, 1, *array.shape)
    return array.reshape(-1, *array.shape[-3:])


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, numbers.Integral):
        pair = (int(value), int(value))
    elif isinstance(value, Sequence) and len(value) == 2:
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return pair


class Compose:
    """Apply ``transforms`` one after the other.

    Example:
        >>> Compose([RandomCrop(28, padding=2), ToDtype(np.float32, scale=True)])
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: Any) -> Any:
        for transform in self.transforms:
            image = transform(image)
        return image

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class ToTensor:
    """A PIL image or an ``(H, W)`` / ``(H, W, C)`` array to a ``(C, H, W)`` float32 ``Tensor``.

    uint8 input is scaled to [0, 1], as ``torchvision.transforms.ToTensor`` does; float input
    is kept as it is.
    """

    def __call__(self, picture: Any) -> Tensor:
        array = np.asarray(picture)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise ValueError(f"ToTensor expects an (H, W) or (H, W, C) image, got {array.shape}")
        array = np.ascontiguousarray(array.transpose(2, 0, 1))
        if array.dtype == np.uint8:
            return Tensor(array.astype(np.float32) / np.float32(255))
        return Tensor(array.astype(np.float32, copy=False))

    def __repr__(self) -> str:
        return "ToTensor()"


class ToDtype:
    """Convert to ``dtype``; with ``scale=True`` integer images are mapped to [0, 1].

    Args:
        dtype: target NumPy dtype, e.g. ``np.float32``.
        scale: divide by the input integer type's maximum (255 for uint8).
    """

    def __init__(self, dtype: Any, scale: bool = False) -> None:
        self.dtype = np.dtype(dtype)
        self.scale = scale

    def __call__(self, image: Any) -> Any:
        array, as_tensor = _unwrap(image)
        out = array.astype(self.dtype)
        if self.scale and np.issubdtype(array.dtype, np.integer):
            out /= self.dtype.type(np.iinfo(array.dtype).max)
        return _wrap(out, as_tensor)

    def __repr__(self) -> str:
        return f"ToDtype({self.dtype.name}, scale={self.scale})"


class Normalize:
    """``(image - mean) / std`` per channel.

    Args:
        mean: one value per channel (or a single value for all).
        std: one value per channel (or a single value for all); must be non-zero.

    Shape:
        - Input: :math:`(C, H, W)` or :math:`(N, C, H, W)` floating point.
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if np.any(self.std == 0):
            raise ValueError(f"std evaluated to zero, leading to division by zero: std={std!r}")

    def __call__(self, image: Any) -> Any:
        array, as_tensor = _unwrap(image)
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"Normalize expects a floating-point image, got dtype={array.dtype}")
        channels = array.shape[-3] if array.ndim >= 3 else 1
        if len(self.mean) not in (1, channels) or len(self.std) not in (1, channels):
            raise ValueError(
                f"mean and std need 1 or {channels} values, "
                f"got {len(self.mean)} and {len(self.std)}"
            )
        mean = self.mean.astype(array.dtype)[:, None, None]
        std = self.std.astype(array.dtype)[:, None, None]
        return _wrap((array - mean) / std, as_tensor)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class RandomCrop:
    """Crop a random ``size`` window, after optionally padding the borders.

    Args:
        size: output ``(height, width)``, or one int for a square.
        padding: pixels added on every side (int), on left/right and top/bottom (pair), or on
            left, top, right, bottom (four ints), before cropping.
        pad_if_needed: pad images smaller than ``size`` so that a crop exists.
        fill: value of the added pixels for ``padding_mode="constant"``.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``.
        generator: random source; ``None`` for the library-wide generator.

    Example:
        >>> RandomCrop(32, padding=4)  # the CIFAR augmentation
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: float = 0,
        padding_mode: str = "constant",
        *,
        generator: Any = None,
    ) -> None:
        self.size = _pair(size, "size")
        self.padding = self._padding(padding)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = generator

    @staticmethod
    def _padding(padding: int | Sequence[int] | None) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)``, torchvision's order."""
        if padding is None:
            return (0, 0, 0, 0)
        if isinstance(padding, numbers.Integral):
            values = [int(padding)] * 4
        elif isinstance(padding, Sequence) and len(padding) == 2:
            values = [int(padding[0]), int(padding[1])] * 2
        elif isinstance(padding, Sequence) and len(padding) == 4:
            values = [int(p) for p in padding]
        else:
            raise ValueError(
                f"padding must be an int or a sequence of 2 or 4 ints, got {padding!r}"
            )
        if min(values) < 0:
            raise ValueError(f"padding must be non-negative, got {padding!r}")
        return values[0], values[1], values[2], values[3]

    def __call__(self, image: Any) -> Any:
        array, as_tensor = _unwrap(image)
        batch = _as_batch(array)
        left, top, right, bottom = self.padding
        out_h, out_w = self.size
        if self.pad_if_needed:
            bottom += max(0, out_h - (batch.shape[2] + top + bottom))
            right += max(0, out_w - (batch.shape[3] + left + right))
        widths = ((0, 0), (0, 0), (top, bottom), (left, right))
        if self.padding_mode == "constant":
            padded = np.pad(batch, widths, mode="constant", constant_values=self.fill)
        else:
            padded = np.pad(batch, widths, mode=self.padding_mode)
        n, _, height, width = padded.shape
        if height < out_h or width < out_w:
            raise ValueError(
                f"crop size {self.size} is larger than the (padded) image size {(height, width)}"
            )
        rng = numpy_generator(self.generator)
        rows = rng.integers(0, height - out_h + 1, size=n)[:, None] + np.arange(out_h)
        cols = rng.integers(0, width - out_w + 1, size=n)[:, None] + np.arange(out_w)
        samples = np.arange(n)[:, None, None, None]
        channels = np.arange(padded.shape[1])[None, :, None, None]
        crops = padded[samples, channels, rows[:, None, :, None], cols[:, None, None, :]]
        return _wrap(crops.reshape(*array.shape[:-2], out_h, out_w), as_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``.

    Args:
        p: probability of a flip.
        generator: random source; ``None`` for the library-wide generator.
    """

    def __init__(self, p: float = 0.5, *, generator: Any = None) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must lie in [0, 1], got {p!r}")
        self.p = p
        self.generator = generator

    def __call__(self, image: Any) -> Any:
        array, as_tensor = _unwrap(image)
        batch = _as_batch(array)
        flip = numpy_generator(self.generator).random(len(batch)) < self.p
        out = np.where(flip[:, None, None, None], batch[..., ::-1], batch)
        return _wrap(out.reshape(array.shape), as_tensor)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomAffine:
    """Random rotation, translation and scaling about the image centre (nearest neighbour).

    Args:
        degrees: rotation range; a number ``d`` means ``(-d, d)``.
        translate: maximal shifts as fractions ``(a, b)`` of width and height.
        scale: zoom range ``(lo, hi)``.
        fill: value of pixels that come from outside the image.
        generator: random source; ``None`` for the library-wide generator.

    Example:
        >>> RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))
    """

    def __init__(
        self,
        degrees: float | Sequence[float],
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        fill: float = 0,
        *,
        generator: Any = None,
    ) -> None:
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError(f"degrees must be non-negative if it is a number, got {degrees}")
            degrees = (-float(degrees), float(degrees))
        self.degrees = (float(degrees[0]), float(degrees[1]))
        if translate is not None and (
            len(translate) != 2 or not all(0 <= t <= 1 for t in translate)
        ):
            raise ValueError(f"translate must be two fractions in [0, 1], got {translate!r}")
        if scale is not None and (len(scale) != 2 or not 0 < scale[0] <= scale[1]):
            raise ValueError(f"scale must be (lo, hi) with 0 < lo <= hi, got {scale!r}")
        self.translate = translate
        self.scale = scale
        self.fill = fill
        self.generator = generator

    def __call__(self, image: Any) -> Any:
        array, as_tensor = _unwrap(image)
        batch = _as_batch(array)
        n, _, height, width = batch.shape
        rng = numpy_generator(self.generator)
        angle = np.deg2rad(rng.uniform(*self.degrees, size=n))
        zoom = rng.uniform(*self.scale, size=n) if self.scale else np.ones(n)
        shift_x = shift_y = np.zeros(n)
        if self.translate is not None:
            shift_x = np.round(rng.uniform(-1, 1, size=n) * self.translate[0] * width)
            shift_y = np.round(rng.uniform(-1, 1, size=n) * self.translate[1] * height)
        # Inverse mapping: for every output pixel, find the input pixel it comes from.
        cy, cx = (height - 1) / 2, (width - 1) / 2
        ys, xs = np.meshgrid(np.arange(height) - cy, np.arange(width) - cx, indexing="ij")
        cos, sin = (np.cos(angle) / zoom)[:, None, None], (np.sin(angle) / zoom)[:, None, None]
        dy = ys - shift_y[:, None, None]
        dx = xs - shift_x[:, None, None]
        src_x = np.rint(cos * dx + sin * dy + cx).astype(np.int64)
        src_y = np.rint(-sin * dx + cos * dy + cy).astype(np.int64)
        inside = (src_x >= 0) & (src_x < width) & (src_y >= 0) & (src_y < height)
        samples = np.arange(n)[:, None, None, None]
        channels = np.arange(batch.shape[1])[None, :, None, None]
        out = batch[
            samples,
            channels,
            np.clip(src_y, 0, height - 1)[:, None],
            np.clip(src_x, 0, width - 1)[:, None],
        ]
        out = np.where(inside[:, None], out, np.asarray(self.fill, dtype=batch.dtype))
        return _wrap(out.reshape(array.shape), as_tensor)

    def __repr__(self) -> str:
        return (
            f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale})"
        )
