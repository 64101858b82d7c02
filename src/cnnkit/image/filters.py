"""Linear filters on the engine's convolution, with scipy.ndimage's boundary rules.

Every filter here pads the image by index arithmetic (a gather, so it is differentiable and
works for pads larger than the image), then runs ``cnnkit.nn.functional.conv2d`` with no
padding. Each channel is filtered on its own: the (N, C, H, W) batch is folded into N*C
single-channel images, so one (1, 1, kh, kw) kernel serves them all.

Boundary modes, with scipy.ndimage's names (the PyTorch / NumPy name in brackets)::

    reflect   d c b a | a b c d | d c b a   (numpy 'symmetric'; edge sample repeated)
    mirror      d c b | a b c d | c b a     (torch/numpy 'reflect'; edge sample not repeated)
    nearest   a a a a | a b c d | d d d d   (torch 'replicate', numpy 'edge')
    wrap      a b c d | a b c d | a b c d   (torch 'circular')
    constant  k k k k | a b c d | k k k k   (k = cval)

Past the image's size the pattern keeps repeating, as in scipy.

Layouts: see ``cnnkit.image._layout`` (ndarray (H, W[, C]) in -> ndarray out; Tensor
(N, C, H, W) in -> Tensor out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import cnnkit.nn.functional as F
from cnnkit import ops
from cnnkit.image._layout import Image, to_batch
from cnnkit.tensor import Tensor

__all__ = [
    "MODES",
    "convolve",
    "correlate",
    "gaussian_filter",
    "gaussian_kernel",
    "gradient_magnitude",
    "laplace",
    "prewitt",
    "scharr",
    "sobel",
]

MODES = ("reflect", "constant", "nearest", "mirror", "wrap")

# Derivative and smoothing weights of the 3x3 edge operators, as scikit-image defines them
# (smoothing normalised to sum 1, derivative [1, 0, -1] applied as a true convolution).
_EDGE = np.array([1.0, 0.0, -1.0])
_SMOOTH = {
    "sobel": np.array([1.0, 2.0, 1.0]) / 4,
    "scharr": np.array([3.0, 10.0, 3.0]) / 16,
    "prewitt": np.array([1.0, 1.0, 1.0]) / 3,
}


# --- boundary handling ---------------------------------------------------------------------
def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got mode={mode!r}")


def source_index(positions: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Where each (possibly out-of-range) position along an axis of ``size`` reads from.

    Follows scipy.ndimage for every non-constant mode, also far outside the axis (the
    pattern repeats). Mode 'constant' clips; the caller overwrites those positions.
    """
    if mode in ("nearest", "constant"):
        return np.clip(positions, 0, size - 1)
    if mode == "wrap":
        return positions % size
    if mode == "reflect":
        folded = positions % (2 * size)
        return np.where(folded < size, folded, 2 * size - 1 - folded)
    if mode == "mirror":
        if size == 1:
            return np.zeros_like(positions)
        period = 2 * size - 2
        folded = positions % period
        return np.where(folded < size, folded, period - folded)
    raise ValueError(f"mode must be one of {MODES}, got mode={mode!r}")


def gather_axis(x: Tensor, start: int, stop: int, axis: int, mode: str, cval: float) -> Tensor:
    """Positions ``start .. stop - 1`` of ``x`` continued past its ends by ``mode``, along
    ``axis`` (differentiable): ``out[..., i, ...] = x_extended[..., start + i, ...]``.

    A gather, so extensions longer than the axis itself need no special case.
    """
    size = x.shape[axis]
    positions = np.arange(start, stop)
    index = source_index(positions, size, mode)
    # The positions inside the image are one contiguous run that maps onto itself.
    first, last = max(start, 0), min(stop, size)
    inner_out = slice(first - start, max(last - start, first - start))
    inner_in = slice(first, max(last, first))
    outside = np.ones(len(positions), dtype=bool)
    outside[inner_out] = False

    def along(array: np.ndarray, where: Any) -> tuple:
        key = [slice(None)] * array.ndim
        key[axis] = where
        return tuple(key)

    out = np.take(x.data, index, axis=axis)
    if mode == "constant":
        out[along(out, outside)] = cval

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        source = np.zeros(x.shape, dtype=grad.dtype)
        source[along(source, inner_in)] = grad[along(grad, inner_out)]
        if mode != "constant" and outside.any():
            # A source sample feeds several extended positions; their gradients add up.
            np.add.at(
                np.moveaxis(source, axis, 0),
                index[outside],
                np.moveaxis(grad[along(grad, outside)], axis, 0),
            )
        return (source,)

    return Tensor.from_op(out, (x,), backward)


def extend(x: Tensor, axis: int, before: int, after: int, mode: str, cval: float) -> Tensor:
    """Pad ``x`` along ``axis`` by ``before`` / ``after`` samples (differentiable)."""
    return gather_axis(x, -before, x.shape[axis] + after, axis, mode, cval)


# --- the core: correlation of every channel with one kernel ---------------------------------
def _check_origin(origin: int, length: int) -> None:
    # scipy.ndimage's rule: the origin must keep the kernel's anchor inside the kernel.
    if not -(length // 2) <= origin <= (length - 1) // 2:
        raise ValueError(
            f"origin={origin} is outside the kernel of size {length}: "
            f"it must lie in [{-(length // 2)}, {(length - 1) // 2}]"
        )


def _correlate_batch(
    x: Tensor, kernel: Tensor, mode: str, cval: float, origin: tuple[int, int] = (0, 0)
) -> Tensor:
    """Correlate every (H, W) plane of ``x`` (N, C, H, W) with ``kernel`` (kh, kw)."""
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    planes = x.reshape(n * c, 1, h, w)
    for axis, length, shift in ((2, kh, origin[0]), (3, kw, origin[1])):
        if length > 1:
            before = length // 2 + shift
            planes = extend(planes, axis, before, length - 1 - before, mode, cval)
    out = F.conv2d(planes, kernel.reshape(1, 1, kh, kw))
    return out.reshape(n, c, h, w)


def _kernel_tensor(kernel: Any, dtype: np.dtype, ndim: int) -> Tensor:
    """The kernel as a Tensor of the image's dtype, checked for shape and emptiness."""
    if isinstance(kernel, Tensor):
        if not np.issubdtype(kernel.dtype, np.floating):
            raise TypeError(f"kernel Tensor must be floating point, got dtype={kernel.dtype}")
        tensor = kernel if kernel.dtype == dtype else ops.cast(kernel, dtype)
    else:
        array = np.asarray(kernel)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise TypeError(f"kernel must hold numbers, got dtype={array.dtype}")
        tensor = Tensor(array.astype(dtype))
    if tensor.ndim != ndim or 0 in tensor.shape:
        raise ValueError(
            f"kernel must be a non-empty {ndim}-D array, got shape {tuple(tensor.shape)}"
        )
    return tensor


def _origin_pair(origin: int | Sequence[int]) -> tuple[int, int]:
    pair = (origin, origin) if isinstance(origin, int | np.integer) else tuple(origin)
    if len(pair) != 2 or not all(isinstance(o, int | np.integer) for o in pair):
        raise ValueError(f"origin must be an int or a pair of ints, got origin={origin!r}")
    return int(pair[0]), int(pair[1])


def _filter(
    image: Image, kernel: Any, mode: str, cval: float, origin: int | Sequence[int], flip: bool
) -> Image:
    check_mode(mode)
    x, restore = to_batch(image)
    weights = _kernel_tensor(kernel, x.dtype, 2)
    oy, ox = _origin_pair(origin)
    # Checked before flipping: the allowed range is the same for both, and the error must
    # name the origin the caller gave.
    _check_origin(oy, weights.shape[0])
    _check_origin(ox, weights.shape[1])
    if flip:
        # True convolution = correlation with the flipped kernel; scipy moves the anchor of
        # an even-sized axis one step so that the flipped kernel keeps the same centre.
        weights = weights[::-1, ::-1]
        oy = -oy - (1 - weights.shape[0] % 2)
        ox = -ox - (1 - weights.shape[1] % 2)
    return restore(_correlate_batch(x, weights, mode, float(cval), (oy, ox)))


def correlate(
    image: Image,
    kernel: Any,
    mode: str = "reflect",
    cval: float = 0.0,
    origin: int | Sequence[int] = 0,
) -> Image:
    """Correlate each channel of ``image`` with a 2-D ``kernel`` (``scipy.ndimage.correlate``).

    ``out[i, j] = sum_{a, b} kernel[a, b] * padded[i + a - kh // 2 - origin_y,
    j + b - kw // 2 - origin_x]``: the kernel's centre is at ``size // 2`` along each axis,
    also for even sizes, exactly as in scipy.

    Args:
        image: ndarray (H, W) or (H, W, C), or Tensor (N, C, H, W).
        kernel: 2-D array or Tensor (kh, kw); a Tensor kernel receives gradients.
        mode: 'reflect', 'constant', 'nearest', 'mirror' or 'wrap' (see module docstring).
        cval: the fill value of mode 'constant'.
        origin: shift of the kernel's anchor, an int or (row, col); scipy's convention.

    Shape:
        output has the shape and layout of ``image``.

    Example:
        >>> import numpy as np
        >>> correlate(np.eye(3), np.ones((1, 2)), mode="constant")
        array([[1., 1., 0.],
               [0., 1., 1.],
               [0., 0., 1.]])
    """
    return _filter(image, kernel, mode, cval, origin, flip=False)


def convolve(
    image: Image,
    kernel: Any,
    mode: str = "reflect",
    cval: float = 0.0,
    origin: int | Sequence[int] = 0,
) -> Image:
    """True convolution (flipped kernel) of each channel, as ``scipy.ndimage.convolve``.

    Same arguments and layouts as :func:`correlate`.

    Example:
        >>> import numpy as np
        >>> convolve(np.eye(3), np.ones((1, 2)), mode="constant")
        array([[1., 0., 0.],
               [1., 1., 0.],
               [0., 1., 1.]])
    """
    return _filter(image, kernel, mode, cval, origin, flip=True)


def _correlate_axis(x: Tensor, weights: np.ndarray, axis: int, mode: str, cval: float) -> Tensor:
    """Correlate along one spatial axis (0 = rows, 1 = cols) of an (N, C, H, W) Tensor."""
    kernel = Tensor(weights.astype(x.dtype).reshape((-1, 1) if axis == 0 else (1, -1)))
    return _correlate_batch(x, kernel, mode, cval)


# --- Gaussian --------------------------------------------------------------------------------
def _check_sigma(sigma: float, name: str = "sigma") -> float:
    value = float(sigma)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {name}={sigma!r}")
    return value


def _check_truncate(truncate: float) -> float:
    value = float(truncate)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"truncate must be a finite number >= 0, got truncate={truncate!r}")
    return value


def gaussian_kernel1d(sigma: float, order: int, radius: int) -> np.ndarray:
    """Sampled, normalised Gaussian (order 0) or its first derivative (order 1), float64."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * x**2)
    weights /= weights.sum()
    if order == 1:
        weights = -x / (sigma * sigma) * weights
    return weights


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The 1-D Gaussian kernel ``scipy.ndimage.gaussian_filter`` uses (float64, sums to 1).

    Args:
        sigma: standard deviation, > 0.
        truncate: the kernel's radius is ``int(truncate * sigma + 0.5)`` samples.

    Shape:
        output (2 * radius + 1,).

    Example:
        >>> gaussian_kernel(1.0, truncate=1.0).round(4)
        array([0.2741, 0.4519, 0.2741])
    """
    sigma = _check_sigma(sigma)
    if sigma == 0:
        raise ValueError("sigma must be > 0 for a Gaussian kernel, got sigma=0")
    radius = int(_check_truncate(truncate) * sigma + 0.5)
    return gaussian_kernel1d(sigma, 0, radius)


def sigma_pair(sigma: float | Sequence[float]) -> tuple[float, float]:
    if isinstance(sigma, Sequence | np.ndarray) and not isinstance(sigma, str):
        values = tuple(sigma)
        if len(values) != 2:
            raise ValueError(f"sigma must be a number or a (row, col) pair, got sigma={sigma!r}")
        return _check_sigma(values[0]), _check_sigma(values[1])
    value = _check_sigma(sigma)
    return value, value


def _gaussian_batch(
    x: Tensor,
    sigmas: tuple[float, float],
    truncate: float,
    mode: str,
    cval: float,
    orders: tuple[int, int] = (0, 0),
) -> Tensor:
    for axis, (sigma, order) in enumerate(zip(sigmas, orders, strict=True)):
        # scipy skips an axis whose sigma is (numerically) zero: a Gaussian of width 0 is the
        # identity.
        if sigma > 1e-15:
            weights = gaussian_kernel1d(sigma, order, int(truncate * sigma + 0.5))
            # scipy correlates with the reversed kernel (it convolves); order 1 is odd.
            x = _correlate_axis(x, weights[::-1], axis, mode, cval)
    return x


def gaussian_filter(
    image: Image,
    sigma: float | Sequence[float],
    truncate: float = 4.0,
    mode: str = "reflect",
    cval: float = 0.0,
) -> Image:
    """Gaussian blur of each channel, identical to ``scipy.ndimage.gaussian_filter`` per plane.

    Separable: one 1-D correlation along the rows, then one along the columns, each padding
    only its own axis (as scipy does, which matters for mode 'constant').

    Args:
        image: ndarray (H, W) or (H, W, C), or Tensor (N, C, H, W).
        sigma: standard deviation in pixels, >= 0; a number or (sigma_rows, sigma_cols).
            Channels are never mixed.
        truncate: the kernel's radius is ``int(truncate * sigma + 0.5)``.
        mode, cval: boundary handling (see module docstring).

    Shape:
        output has the shape and layout of ``image``.

    Example:
        >>> import numpy as np
        >>> impulse = np.zeros((5, 5)); impulse[2, 2] = 1
        >>> float(gaussian_filter(impulse, 1.0).sum().round(6))
        1.0
    """
    sigmas = sigma_pair(sigma)
    truncate = _check_truncate(truncate)
    check_mode(mode)
    x, restore = to_batch(image)
    return restore(_gaussian_batch(x, sigmas, truncate, mode, float(cval)))


def gradient_magnitude(
    image: Image,
    sigma: float | Sequence[float] = 1.0,
    truncate: float = 4.0,
    mode: str = "reflect",
    cval: float = 0.0,
) -> Image:
    """Magnitude of the Gaussian-derivative gradient, ``scipy.ndimage.gaussian_gradient_magnitude``.

    ``sqrt(d_row^2 + d_col^2)`` where ``d_row`` is the image filtered with the first derivative
    of a Gaussian along the rows and a Gaussian along the columns (and vice versa).

    Args:
        image: ndarray (H, W) or (H, W, C), or Tensor (N, C, H, W).
        sigma: Gaussian standard deviation, > 0; a number or (sigma_rows, sigma_cols).
        truncate, mode, cval: as in :func:`gaussian_filter`.

    Shape:
        output has the shape and layout of ``image``.
    """
    sigmas = sigma_pair(sigma)
    if min(sigmas) == 0:
        raise ValueError(f"sigma must be > 0 for a derivative, got sigma={sigma!r}")
    truncate = _check_truncate(truncate)
    check_mode(mode)
    x, restore = to_batch(image)
    cval = float(cval)
    d_row = _gaussian_batch(x, sigmas, truncate, mode, cval, orders=(1, 0))
    d_col = _gaussian_batch(x, sigmas, truncate, mode, cval, orders=(0, 1))
    return restore((d_row * d_row + d_col * d_col).sqrt())


# --- derivatives and edges ------------------------------------------------------------------
def laplace(image: Image, mode: str = "reflect", cval: float = 0.0) -> Image:
    """Discrete Laplacian, ``scipy.ndimage.laplace``: [1, -2, 1] along rows plus along columns.

    Args:
        image: ndarray (H, W) or (H, W, C), or Tensor (N, C, H, W).
        mode, cval: boundary handling (see module docstring).

    Shape:
        output has the shape and layout of ``image``.
    """
    check_mode(mode)
    x, restore = to_batch(image)
    second = np.array([1.0, -2.0, 1.0])
    cval = float(cval)
    return restore(
        _correlate_axis(x, second, 0, mode, cval) + _correlate_axis(x, second, 1, mode, cval)
    )


def edge_response(x: Tensor, operator: str, axis: int, mode: str, cval: float) -> Tensor:
    """One directional 3x3 edge filter (scikit-image's normalisation) of an (N, C, H, W) Tensor.

    The 2-D kernel is applied in one pass, not as two 1-D passes, because with mode 'constant'
    and ``cval != 0`` the two differ and scikit-image uses the 2-D kernel.
    """
    derivative = _EDGE.reshape(-1, 1) if axis == 0 else _EDGE.reshape(1, -1)
    smooth = _SMOOTH[operator].reshape(1, -1) if axis == 0 else _SMOOTH[operator].reshape(-1, 1)
    # skimage convolves with derivative (x) smooth; correlating with the flipped kernel is the
    # same for this odd-sized kernel.
    kernel = (derivative * smooth)[::-1, ::-1].astype(x.dtype)
    return _correlate_batch(x, Tensor(np.ascontiguousarray(kernel)), mode, cval)


def _edge_filter(image: Image, operator: str, axis: int | None, mode: str, cval: float) -> Image:
    check_mode(mode)
    if axis not in (None, 0, 1, -1, -2):
        raise ValueError(f"axis must be None, 0 (rows) or 1 (columns), got axis={axis!r}")
    x, restore = to_batch(image)
    cval = float(cval)
    if axis is not None:
        return restore(edge_response(x, operator, axis % 2, mode, cval))
    rows = edge_response(x, operator, 0, mode, cval)
    cols = edge_response(x, operator, 1, mode, cval)
    return restore((rows * rows + cols * cols).sqrt() * (1 / math.sqrt(2)))


_EDGE_DOC = """{title} edge filter, identical to ``skimage.filters.{name}``.

    ``axis=0`` gives the derivative along the rows (responds to horizontal edges), ``axis=1``
    along the columns; ``axis=None`` the magnitude ``sqrt((d_row^2 + d_col^2) / 2)``. The
    smoothing weights are {weights} and the derivative weights [1, 0, -1] (true convolution).

    Args:
        image: ndarray (H, W) or (H, W, C), or Tensor (N, C, H, W).
        axis: None, 0 or 1.
        mode, cval: boundary handling (see module docstring).

    Shape:
        output has the shape and layout of ``image``.
    """


def sobel(image: Image, axis: int | None = None, mode: str = "reflect", cval: float = 0.0) -> Image:
    return _edge_filter(image, "sobel", axis, mode, cval)


def scharr(
    image: Image, axis: int | None = None, mode: str = "reflect", cval: float = 0.0
) -> Image:
    return _edge_filter(image, "scharr", axis, mode, cval)


def prewitt(
    image: Image, axis: int | None = None, mode: str = "reflect", cval: float = 0.0
) -> Image:
    return _edge_filter(image, "prewitt", axis, mode, cval)


sobel.__doc__ = _EDGE_DOC.format(title="Sobel", name="sobel", weights="[1, 2, 1] / 4")
scharr.__doc__ = _EDGE_DOC.format(title="Scharr", name="scharr", weights="[3, 10, 3] / 16")
prewitt.__doc__ = _EDGE_DOC.format(title="Prewitt", name="prewitt", weights="[1, 1, 1] / 3")
