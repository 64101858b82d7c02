"""Feature detectors: Canny edges and Harris corners, with scikit-image's exact semantics.

The linear parts (Gaussian smoothing, Sobel derivatives, the structure tensor) run on the
engine's convolution through ``cnnkit.image.filters``; ``harris_response`` therefore also
accepts an (N, C, H, W) Tensor and is differentiable. The decision steps (non-maximum
suppression, hysteresis, peak picking) are plain NumPy on 2-D arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnkit.image._layout import Image, grayscale_array, to_batch
from cnnkit.image.filters import (
    check_mode,
    gather_axis,
    gaussian_kernel1d,
    sigma_pair,
    source_index,
)
from cnnkit.ops import cast
from cnnkit.tensor import Tensor, no_grad

__all__ = ["canny", "corner_peaks", "harris_corners", "harris_response"]

# The eight neighbours of a pixel (8-connectivity), as (row, col) offsets.
_NEIGHBOURS = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc])


def _sliding_extreme(
    image: np.ndarray, radius: int, reduce: Any, mode: str, cval: float = 0.0
) -> np.ndarray:
    """Max or min (``reduce``) over the (2r+1) x (2r+1) square around each pixel."""
    out = image
    for axis in (0, 1):
        if mode == "constant":
            pad = [(0, 0), (0, 0)]
            pad[axis] = (radius, radius)
            padded = np.pad(out, pad, constant_values=cval)
        else:
            size = out.shape[axis]
            index = source_index(np.arange(-radius, size + radius), size, mode)
            padded = np.take(out, index, axis=axis)
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1, axis=axis)
        out = reduce(windows, axis=-1)
    return out


# --- linear filters in scipy's arithmetic ---------------------------------------------------
# The detectors decide by comparing values (non-maximum suppression, ranking of peaks). On
# synthetic images such as a checkerboard many of those values are equal in exact arithmetic,
# and the decision then rests on whether they come out bit-identical. scipy.ndimage (used by
# scikit-image) makes mirror-image and translated neighbourhoods give identical results by
# summing symmetric kernels pair by pair in float64; a GEMM-based convolution does not. So the
# detectors' separable filters repeat scipy's arithmetic exactly, with Tensor ops (they stay
# differentiable), while the general-purpose filters use F.conv2d.
def _correlate1d_scipy_order(
    x: Tensor, weights: np.ndarray, axis: int, mode: str, cval: float
) -> Tensor:
    """Correlate an (N, C, H, W) Tensor along rows (0) or cols (1) with an odd, symmetric or
    antisymmetric 1-D kernel, summing as ``scipy.ndimage.correlate1d`` does.

    scipy: ``out = x[i] w[c] + sum over d = r..1 of (x[i - d] +/- x[i + d]) w[c - d]`` in
    float64, farthest pair first, then the result is stored in the image's dtype.
    """
    dim = axis + 2
    radius = len(weights) // 2
    eps = np.finfo(np.float64).eps
    symmetric = bool(np.all(np.abs(weights[radius + 1 :] - weights[:radius][::-1]) <= eps))
    wide = x if x.dtype == np.float64 else cast(x, np.dtype(np.float64))
    size = x.shape[dim]
    out = wide * weights[radius]
    for distance in range(radius, 0, -1):
        before = gather_axis(wide, -distance, size - distance, dim, mode, cval)
        after = gather_axis(wide, distance, size + distance, dim, mode, cval)
        pair = before + after if symmetric else before - after
        out = out + pair * weights[radius - distance]
    return out if x.dtype == np.float64 else cast(out, x.dtype)


def _gaussian_scipy_order(x: Tensor, sigmas: tuple[float, float], mode: str, cval: float) -> Tensor:
    """``scipy.ndimage.gaussian_filter`` (truncate 4) of every plane, bit for bit."""
    for axis, sigma in enumerate(sigmas):
        if sigma > 1e-15:
            weights = gaussian_kernel1d(sigma, 0, int(4.0 * sigma + 0.5))
            x = _correlate1d_scipy_order(x, weights, axis, mode, cval)
    return x


def _sobel_scipy_order(x: Tensor, axis: int, mode: str, cval: float = 0.0) -> Tensor:
    """``scipy.ndimage.sobel`` (unnormalised: [-1, 0, 1] along ``axis``, [1, 2, 1] across)."""
    derivative = _correlate1d_scipy_order(x, np.array([-1.0, 0.0, 1.0]), axis, mode, cval)
    return _correlate1d_scipy_order(derivative, np.array([1.0, 2.0, 1.0]), 1 - axis, mode, cval)


# --- Canny -----------------------------------------------------------------------------------
def _smooth_for_canny(
    image: np.ndarray,
    mask: np.ndarray | None,
    sigmas: tuple[float, float],
    mode: str,
    cval: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian smoothing that ignores masked pixels, and the mask eroded by one pixel.

    As scikit-image does: when pixels beyond the border or under the mask are unknown (mode
    'constant' or a mask), the image is smoothed with them set to zero and then divided by the
    smoothed mask, which recovers the weighted mean over the known pixels only.
    """

    def smooth(plane: np.ndarray) -> np.ndarray:
        batch = Tensor(plane[None, None])
        return _gaussian_scipy_order(batch, sigmas, mode, cval).data[0, 0]

    if mask is None:
        eroded = np.zeros(image.shape, dtype=bool)
        eroded[1:-1, 1:-1] = True
        if mode != "constant":
            return smooth(image), eroded
        mask = np.ones(image.shape, dtype=bool)
        masked = image
    else:
        masked = np.where(mask, image, 0).astype(image.dtype)
        eroded = _sliding_extreme(mask, 1, np.min, "constant", cval=False)
    bleed_over = smooth(mask.astype(image.dtype)) + np.finfo(image.dtype).eps
    return smooth(masked) / bleed_over, eroded


def _non_maximum_suppression(
    grad_rows: np.ndarray,
    grad_cols: np.ndarray,
    magnitude: np.ndarray,
    candidates: np.ndarray,
) -> np.ndarray:
    """Keep the candidate pixels whose magnitude is a maximum across the edge.

    The two magnitudes on either side, along the gradient direction, are interpolated
    linearly between the two nearest of the 8 neighbours (skimage's bilinear rule, one of four
    sectors chosen by the signs and relative sizes of the two gradients).
    """
    rows, cols = np.nonzero(candidates)
    g_r, g_c, m = grad_rows[rows, cols], grad_cols[rows, cols], magnitude[rows, cols]
    abs_r, abs_c = np.abs(g_r), np.abs(g_c)
    same_sign = (g_r > 0) == (g_c > 0)
    # Per sector: the weight of the diagonal neighbour, and the (row, col) offsets of the
    # axis neighbour and the diagonal neighbour on the "plus" side (the "minus" side mirrors).
    steep = np.where(same_sign, abs_r > abs_c, abs_r >= abs_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(steep, abs_c / abs_r, abs_r / abs_c)
    axis_dr = np.where(steep, np.where(same_sign, 1, -1), 0)
    axis_dc = np.where(steep, 0, 1)
    diag_dr = np.where(same_sign, 1, -1)
    diag_dc = np.ones_like(diag_dr)

    padded = np.pad(magnitude, 1)

    def at(dr: np.ndarray, dc: np.ndarray) -> np.ndarray:
        return padded[rows + 1 + dr, cols + 1 + dc]

    # skimage's Cython mixes precisions: (diagonal * weight) in the image's dtype, the rest in
    # float64. Repeating that keeps float32 results identical too.
    wide_weight = weight.astype(np.float64)

    def interpolate(sign: int) -> np.ndarray:
        diagonal = (at(sign * diag_dr, sign * diag_dc) * weight).astype(np.float64)
        return diagonal + at(sign * axis_dr, sign * axis_dc) * (1.0 - wide_weight)

    plus, minus = interpolate(1), interpolate(-1)
    keep = (plus <= m) & (minus <= m)
    out = np.zeros(magnitude.shape, dtype=bool)
    out[rows[keep], cols[keep]] = True
    return out


def _connected_to(seeds: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The pixels of ``allowed`` 8-connected (through ``allowed``) to a pixel of ``seeds``.

    A breadth-first flood from all seeds at once, one ring of neighbours per step.
    """
    height, width = allowed.shape
    reached = seeds & allowed
    frontier = np.argwhere(reached)
    while len(frontier):
        around = (frontier[:, None, :] + _NEIGHBOURS[None, :, :]).reshape(-1, 2)
        inside = (
            (around[:, 0] >= 0)
            & (around[:, 0] < height)
            & (around[:, 1] >= 0)
            & (around[:, 1] < width)
        )
        around = around[inside]
        fresh = allowed[around[:, 0], around[:, 1]] & ~reached[around[:, 0], around[:, 1]]
        around = np.unique(around[fresh], axis=0)
        reached[around[:, 0], around[:, 1]] = True
        frontier = around
    return reached


def _check_threshold(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {name}={value!r}")
    return value


def canny(
    image: Any,
    sigma: float = 1.0,
    low_threshold: float | None = None,
    high_threshold: float | None = None,
    mask: np.ndarray | None = None,
    use_quantiles: bool = False,
    *,
    mode: str = "constant",
    cval: float = 0.0,
) -> np.ndarray:
    """Canny edge detector, the algorithm and defaults of ``skimage.feature.canny``.

    1. Gaussian smoothing (mode 'constant' by default, renormalised by the smoothed mask so
       the unknown outside does not darken the border).
    2. Sobel gradients (scipy's unnormalised kernels, mode 'reflect') and their magnitude.
    3. Non-maximum suppression with linear interpolation across the edge; the outermost
       pixels (and pixels next to masked ones) are never edges.
    4. Hysteresis: keep the weak edges (>= low) 8-connected to a strong one (>= high).

    Args:
        image: 2-D grayscale ndarray (H, W). Integer images are scaled to [0, 1] first.
        sigma: Gaussian standard deviation, >= 0.
        low_threshold, high_threshold: on the gradient magnitude. Default 0.1 and 0.2 (of an
            image in [0, 1]); for integer images they are given in the dtype's units (e.g.
            0..255 for uint8), as in scikit-image. With ``use_quantiles`` they are quantiles
            of the magnitude in [0, 1].
        mask: optional bool (H, W); edges are only found where it is True.
        use_quantiles: read the thresholds as quantiles.
        mode, cval: boundary handling of the Gaussian smoothing.

    Shape:
        output bool (H, W).

    Example:
        >>> import numpy as np
        >>> square = np.zeros((16, 16)); square[4:12, 4:12] = 1
        >>> int(canny(square).sum())
        28
    """
    raw = np.asarray(image)
    dtype_max = np.iinfo(raw.dtype).max if np.issubdtype(raw.dtype, np.integer) else 1.0
    image = grayscale_array(image)
    check_mode(mode)
    sigmas = sigma_pair(sigma)

    def threshold(value: float | None, default: float, name: str) -> float:
        if value is None:
            return default
        value = _check_threshold(value, name)
        if use_quantiles:
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a quantile in [0, 1], got {name}={value}")
            return value
        return value / dtype_max

    low = threshold(low_threshold, 0.1, "low_threshold")
    high = threshold(high_threshold, 0.2, "high_threshold")
    if high < low:
        raise ValueError(
            f"low_threshold must not exceed high_threshold, got low_threshold={low_threshold}, "
            f"high_threshold={high_threshold}"
        )
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != image.shape:
            raise ValueError(f"mask must have the image's shape {image.shape}, got {mask.shape}")

    with no_grad():
        smoothed, eroded = _smooth_for_canny(image, mask, sigmas, mode, float(cval))
        batch = Tensor(smoothed[None, None])
        grad_rows = _sobel_scipy_order(batch, 0, "reflect").data[0, 0]
        grad_cols = _sobel_scipy_order(batch, 1, "reflect").data[0, 0]
    magnitude = np.sqrt(grad_rows * grad_rows + grad_cols * grad_cols)

    if use_quantiles:
        low, high = np.percentile(magnitude, [100.0 * low, 100.0 * high])
    # skimage compares with the low threshold rounded to float32 (its Cython argument type),
    # and a zero threshold still must not turn flat regions (magnitude 0) into edges.
    low = float(np.float32(low)) if low != 0 else 1e-14
    weak = eroded & (magnitude >= low)
    thin = _non_maximum_suppression(grad_rows, grad_cols, magnitude, weak)
    return _connected_to(thin & (magnitude >= high), thin)


# --- Harris ----------------------------------------------------------------------------------
def harris_response(
    image: Image, method: str = "k", k: float = 0.05, eps: float = 1e-6, sigma: float = 1
) -> Image:
    """Harris corner measure, identical to ``skimage.feature.corner_harris``.

    With the structure tensor ``A = G_sigma * [[Ir Ir, Ir Ic], [Ir Ic, Ic Ic]]`` (``Ir``, ``Ic``:
    scipy's unnormalised Sobel derivatives with zero padding; ``G_sigma``: Gaussian, zero
    padding), the response is ``det(A) - k trace(A)^2`` (method 'k') or
    ``2 det(A) / (trace(A) + eps)`` (method 'eps').

    Args:
        image: ndarray (H, W) (integers scaled to [0, 1]) or Tensor (N, C, H, W), each
            channel treated as a grayscale image; differentiable for Tensors.
        method: 'k' or 'eps'.
        k: sensitivity of method 'k', typically 0.04 to 0.06.
        eps: the guard against division by zero of method 'eps'.
        sigma: Gaussian standard deviation of the structure tensor, > 0.

    Shape:
        output has the shape and layout of ``image``.
    """
    if method not in ("k", "eps"):
        raise ValueError(f"method must be 'k' or 'eps', got method={method!r}")
    sigmas = sigma_pair(sigma)
    if not isinstance(image, Tensor):
        image = grayscale_array(image)
    x, restore = to_batch(image)
    d_rows = _sobel_scipy_order(x, 0, "constant")
    d_cols = _sobel_scipy_order(x, 1, "constant")

    def smooth(product: Tensor) -> Tensor:
        return _gaussian_scipy_order(product, sigmas, "constant", 0.0)

    a_rr, a_rc, a_cc = smooth(d_rows * d_rows), smooth(d_rows * d_cols), smooth(d_cols * d_cols)
    det = a_rr * a_cc - a_rc * a_rc
    trace = a_rr + a_cc
    if method == "k":
        return restore(det - trace * trace * float(k))
    return restore(det * 2 / (trace + float(eps)))


def _greedy_spacing(coords: np.ndarray, shape: tuple[int, int], reach: int) -> np.ndarray:
    """Walk ``coords`` in order; keep a point unless a kept one lies within ``reach`` of it.

    Distances are Chebyshev (the max of |d_row|, |d_col|), so "within reach" is a square:
    each kept point blocks the square of radius ``reach`` around it.
    """
    blocked = np.zeros(shape, dtype=bool)
    keep = np.zeros(len(coords), dtype=bool)
    for index, (row, col) in enumerate(coords):
        if blocked[row, col]:
            continue
        keep[index] = True
        blocked[max(row - reach, 0) : row + reach + 1, max(col - reach, 0) : col + reach + 1] = True
    return coords[keep]


def _border_width(exclude_border: bool | int | tuple[int, int], min_distance: int) -> tuple:
    if isinstance(exclude_border, bool | np.bool_):
        return (min_distance if exclude_border else 0,) * 2
    if isinstance(exclude_border, int | np.integer):
        widths = (int(exclude_border),) * 2
    elif isinstance(exclude_border, tuple) and len(exclude_border) == 2:
        widths = tuple(exclude_border)
    else:
        raise TypeError(
            "exclude_border must be a bool, an int or a (rows, cols) pair of ints, "
            f"got exclude_border={exclude_border!r}"
        )
    if not all(isinstance(w, int | np.integer) and w >= 0 for w in widths):
        raise ValueError(f"exclude_border must be >= 0, got exclude_border={exclude_border!r}")
    return widths


def corner_peaks(
    response: Any,
    min_distance: int = 1,
    threshold_abs: float | None = None,
    threshold_rel: float | None = None,
    exclude_border: bool | int | tuple[int, int] = True,
    num_peaks: float = math.inf,
) -> np.ndarray:
    """Coordinates of the corner peaks of a response map, as ``skimage.feature.corner_peaks``.

    A peak is a pixel equal to the maximum of its (2 min_distance + 1)^2 neighbourhood
    (borders replicated), above the threshold ``max(threshold_abs (default: the minimum),
    threshold_rel * max)``, and not within ``exclude_border`` of the edge. Peaks are ranked by
    value (ties in row-major order); walking down the ranking, a peak closer than
    ``min_distance`` (Chebyshev) to a kept one is dropped, then one at distance <=
    ``min_distance``, exactly the two passes scikit-image makes. A constant map has no peaks.

    Args:
        response: 2-D ndarray (H, W), e.g. from :func:`harris_response`.
        min_distance: minimal separation of peaks, >= 1.
        threshold_abs, threshold_rel: absolute and relative (to the maximum) thresholds.
        exclude_border: True (use ``min_distance``), False, an int, or a (rows, cols) pair.
        num_peaks: at most this many peaks, strongest first.

    Shape:
        output int (K, 2): (row, col) of each peak, strongest first.
    """
    response = grayscale_array(response, "response")
    if isinstance(min_distance, bool) or not isinstance(min_distance, int | np.integer):
        raise TypeError(f"min_distance must be an int, got min_distance={min_distance!r}")
    if min_distance < 1:
        raise ValueError(f"min_distance must be >= 1, got min_distance={min_distance}")
    if not (num_peaks == math.inf or (float(num_peaks).is_integer() and num_peaks >= 0)):
        raise ValueError(f"num_peaks must be a count >= 0 or inf, got num_peaks={num_peaks!r}")
    widths = _border_width(exclude_border, min_distance)

    limit = float(response.min()) if threshold_abs is None else float(threshold_abs)
    if threshold_rel is not None:
        limit = max(limit, float(threshold_rel) * float(response.max()))

    local_max = _sliding_extreme(response, min_distance, np.max, "nearest")
    peaks = response == local_max
    if response.size > 1 and peaks.all():
        return np.empty((0, 2), dtype=np.intp)
    peaks &= response > limit
    for axis, width in enumerate(widths):
        if width:
            edge = [slice(None), slice(None)]
            edge[axis] = np.r_[0:width, -width:0]
            peaks[tuple(edge)] = False

    coords = np.argwhere(peaks)
    coords = coords[np.argsort(-response[peaks], kind="stable")]
    if min_distance > 1:
        coords = _greedy_spacing(coords, response.shape, min_distance - 1)
    coords = _greedy_spacing(coords, response.shape, min_distance)
    if num_peaks != math.inf:
        coords = coords[: int(num_peaks)]
    return coords.astype(np.intp)


def harris_corners(
    image: Any,
    method: str = "k",
    k: float = 0.05,
    eps: float = 1e-6,
    sigma: float = 1,
    min_distance: int = 1,
    threshold_abs: float | None = None,
    threshold_rel: float | None = None,
    exclude_border: bool | int | tuple[int, int] = True,
    num_peaks: float = math.inf,
) -> np.ndarray:
    """Harris corners of a grayscale image: ``corner_peaks(harris_response(image, ...), ...)``.

    Args:
        image: 2-D ndarray (H, W).
        method, k, eps, sigma: see :func:`harris_response`.
        min_distance, threshold_abs, threshold_rel, exclude_border, num_peaks: see
            :func:`corner_peaks`.

    Shape:
        output int (K, 2): (row, col) of each corner, strongest first.

    Example:
        >>> import numpy as np
        >>> square = np.zeros((20, 20)); square[5:15, 5:15] = 1
        >>> harris_corners(square, min_distance=2, threshold_rel=0.1).tolist()
        [[5, 5], [5, 14], [14, 5], [14, 14]]
    """
    with no_grad():
        response = harris_response(image, method, k, eps, sigma)
    return corner_peaks(
        response, min_distance, threshold_abs, threshold_rel, exclude_border, num_peaks
    )
