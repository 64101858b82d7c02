"""Activations, softmax and padding: forward and backward side by side.

``relu``, ``sigmoid`` and ``tanh`` live in ``elementwise.py`` (Tensor methods use them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cnnkit.ops._util import ieee_silent
from cnnkit.tensor import Tensor

__all__ = [
    "elu",
    "erf",
    "gelu",
    "leaky_relu",
    "log_softmax",
    "pad",
    "silu",
    "softmax",
    "softplus",
]


def leaky_relu(a: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x`` (slope used at 0, like torch)."""
    positive = a.data > 0
    slope = np.where(positive, 1, negative_slope).astype(a.dtype)
    return Tensor.from_op(a.data * slope, (a,), lambda grad: (grad * slope,))


def elu(a: Tensor, alpha: float = 1.0) -> Tensor:
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    positive = a.data > 0
    # exp only of non-positive values, so large inputs cannot overflow
    exp_negative = np.exp(np.minimum(a.data, 0))
    out = np.where(positive, a.data, alpha * np.expm1(np.minimum(a.data, 0)))
    local = np.where(positive, 1, alpha * exp_negative).astype(a.dtype)
    return Tensor.from_op(out.astype(a.dtype, copy=False), (a,), lambda grad: (grad * local,))


def silu(a: Tensor) -> Tensor:
    """``x * sigmoid(x)`` (a.k.a. swish)."""
    s = _sigmoid(a.data)
    return Tensor.from_op(a.data * s, (a,), lambda grad: (grad * (s * (1 + a.data * (1 - s))),))


def softplus(a: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, or ``x`` itself where ``beta * x > threshold``."""
    scaled = a.data * beta
    linear = scaled > threshold
    # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)) never overflows
    smooth = (np.maximum(scaled, 0) + np.log1p(np.exp(-np.abs(scaled)))) / beta
    out = np.where(linear, a.data, smooth).astype(a.dtype, copy=False)
    local = np.where(linear, 1, _sigmoid(scaled)).astype(a.dtype, copy=False)
    return Tensor.from_op(out, (a,), lambda grad: (grad * local,))


def gelu(a: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula."""
    x = a.data
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (x + 0.044715 * x**3))
        out = 0.5 * x * (1 + t)
        local = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    else:
        # erf rounded to the input's dtype, then the rest in that dtype, as PyTorch does
        erf_x = erf(x * (1 / math.sqrt(2))).astype(a.dtype, copy=False)
        cdf = 0.5 * (1 + erf_x)
        out = x * 0.5 * (1 + erf_x)
        local = cdf + x * np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
    return Tensor.from_op(out.astype(a.dtype, copy=False), (a,), lambda grad: (grad * local,))


@ieee_silent
def softmax(a: Tensor, dim: int) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``; shifting by the max keeps it finite."""
    shifted = a.data - np.max(a.data, axis=dim, keepdims=True)
    e = np.exp(shifted)
    out = e / e.sum(axis=dim, keepdims=True)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (out * (grad - (grad * out).sum(axis=dim, keepdims=True)),)

    return Tensor.from_op(out, (a,), backward)


@ieee_silent
def log_softmax(a: Tensor, dim: int) -> Tensor:
    """``x - log(sum(exp(x)))`` along ``dim``, computed without overflow."""
    shifted = a.data - np.max(a.data, axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (grad - np.exp(out) * grad.sum(axis=dim, keepdims=True),)

    return Tensor.from_op(out, (a,), backward)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) never overflows; the two branches are the same function
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)


# --- erf --------------------------------------------------------------------------------------
# Rational approximations of Sun's fdlibm ``s_erf.c`` (freely distributable): under one ulp in
# float64 everywhere. Each tuple lists a polynomial's coefficients from the constant term up.
_ERX = 8.45062911510467529297e-01  # erf(1) rounded to 24 bits
_ERF_SMALL_P = (
    1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
    -5.77027029648944159157e-03, -2.37630166566501626084e-05,
)  # fmt: skip
_ERF_SMALL_Q = (
    1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
    1.32494738004321644526e-04, -3.96022827877536812320e-06,
)  # fmt: skip
_ERF_NEAR_ONE_P = (
    -2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
    3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
    -2.16637559486879084300e-03,
)  # fmt: skip
_ERF_NEAR_ONE_Q = (
    1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
    1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02,
)  # fmt: skip
_ERFC_MID_P = (
    -9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e01,
    -6.23753324503260060396e01, -1.62396669462573470355e02, -1.84605092906711035994e02,
    -8.12874355063065934246e01, -9.81432934416914548592e00,
)  # fmt: skip
_ERFC_MID_Q = (
    1.0, 1.96512716674392571292e01, 1.37657754143519042600e02, 4.34565877475229228821e02,
    6.45387271733267880336e02, 4.29008140027567833386e02, 1.08635005541779435134e02,
    6.57024977031928170135e00, -6.04244152148580987438e-02,
)  # fmt: skip
_ERFC_FAR_P = (
    -9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e01,
    -1.60636384855821916062e02, -6.37566443368389627722e02, -1.02509513161107724954e03,
    -4.83519191608651397019e02,
)  # fmt: skip
_ERFC_FAR_Q = (
    1.0, 3.03380607434824582924e01, 3.25792512996573918826e02, 1.53672958608443695994e03,
    3.19985821950859553908e03, 2.55305040643316442583e03, 4.74528541206955367215e02,
    -2.24409524465858183362e01,
)  # fmt: skip


def _polynomial(t: np.ndarray, coefficients: tuple[float, ...]) -> np.ndarray:
    result = np.full_like(t, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = result * t + c
    return result


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of an array, in float64 (accurate to about one ulp), vectorised.

    Four ranges of ``|x|``: below 0.84375 ``x + x * P/Q(x^2)``; up to 1.25 a rational function
    of ``|x| - 1`` around erf(1); up to 6 ``1 - exp(-x^2 - 0.5625 + P/Q(1/x^2)) / |x|`` (two
    fits, split at 1/0.35); beyond, 1. NaN stays NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    magnitude = np.abs(x.reshape(-1))
    out = magnitude.copy()  # NaN falls in no range below and stays NaN

    small = magnitude < 0.84375
    t = magnitude[small]
    z = t * t
    out[small] = t + t * _polynomial(z, _ERF_SMALL_P) / _polynomial(z, _ERF_SMALL_Q)

    near_one = (magnitude >= 0.84375) & (magnitude < 1.25)
    s = magnitude[near_one] - 1
    out[near_one] = _ERX + _polynomial(s, _ERF_NEAR_ONE_P) / _polynomial(s, _ERF_NEAR_ONE_Q)

    for low, high, p, q in (
        (1.25, 1 / 0.35, _ERFC_MID_P, _ERFC_MID_Q),
        (1 / 0.35, 6.0, _ERFC_FAR_P, _ERFC_FAR_Q),
    ):
        in_range = (magnitude >= low) & (magnitude < high)
        t = magnitude[in_range]
        s = 1 / (t * t)
        # exp(-t^2) as exp(-h^2) * exp((h - t)(h + t)) with h = t cut to 21 mantissa bits, so the
        # rounding error of t*t is not magnified by exp
        h = (t.view(np.uint64) & np.uint64(0xFFFFFFFF00000000)).view(np.float64)
        correction = (h - t) * (h + t) + _polynomial(s, p) / _polynomial(s, q)
        tail = np.exp(-h * h - 0.5625) * np.exp(correction)
        out[in_range] = 1 - tail / t

    out[magnitude >= 6] = 1.0
    return np.copysign(out.reshape(x.shape), x)


# --- pad --------------------------------------------------------------------------------------
_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(a: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad (or, with negative amounts, crop) the last ``len(pad) // 2`` dimensions.

    ``pad = (left_last, right_last, left_second_last, right_second_last, ...)`` as in
    ``F.pad``. Modes: 'constant' (``value``), 'reflect' (mirror without repeating the edge),
    'replicate' (repeat the edge), 'circular' (wrap around). As in PyTorch, negative amounts
    crop the padded tensor for 'reflect'/'replicate' and crop the input before padding for
    'constant'/'circular'.
    """
    widths = [(0, 0)] * a.ndim
    crops = [(0, 0)] * a.ndim
    for i in range(0, len(pad), 2):
        axis = a.ndim - 1 - i // 2
        left, right = pad[i], pad[i + 1]
        widths[axis] = (max(left, 0), max(right, 0))
        crops[axis] = (max(-left, 0), max(-right, 0))

    if mode in ("reflect", "replicate"):
        padded = np.pad(a.data, widths, mode=_NUMPY_PAD_MODES[mode])
        kept = _keep(crops, padded.shape)
        out = padded[kept]

        def backward(grad: np.ndarray) -> tuple[np.ndarray]:
            full = np.zeros(padded.shape, dtype=grad.dtype)
            full[kept] = grad
            return (_fold_padding(full, widths, a.shape, mode),)

        return Tensor.from_op(out, (a,), backward)

    kept = _keep(crops, a.shape)
    cropped = a.data[kept]
    if mode == "constant":
        out_shape = tuple(n + lo + hi for n, (lo, hi) in zip(cropped.shape, widths, strict=True))
        out = np.full(out_shape, value, dtype=a.dtype)
        out[_keep(widths, out_shape)] = cropped
    else:
        out = np.pad(cropped, widths, mode=_NUMPY_PAD_MODES[mode])

    def backward_cropped(grad: np.ndarray) -> tuple[np.ndarray]:
        if mode == "constant":
            grad = grad[_keep(widths, grad.shape)]
        else:
            grad = _fold_padding(grad, widths, cropped.shape, mode)
        full = np.zeros_like(a.data)
        full[kept] = grad
        return (full,)

    return Tensor.from_op(out, (a,), backward_cropped)


def _keep(margins: list[tuple[int, int]], shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The slices that drop ``margins`` (before, after) cells from each dimension."""
    return tuple(slice(lo, n - hi) for (lo, hi), n in zip(margins, shape, strict=True))


def _fold_padding(
    grad: np.ndarray, widths: list[tuple[int, int]], shape: tuple[int, ...], mode: str
) -> np.ndarray:
    """Undo a reflect/replicate/circular pad: add each padded cell's gradient to its source."""
    for axis, (left, right) in enumerate(widths):
        if left == right == 0:
            continue
        n = shape[axis]
        # which source index each output position along this axis copies
        source = np.pad(np.arange(n), (left, right), mode=_NUMPY_PAD_MODES[mode])
        moved = np.moveaxis(grad, axis, 0)
        folded = moved[left : left + n].copy()
        for region in (slice(0, left), slice(left + n, left + n + right)):
            index = source[region]
            if len(np.unique(index)) == len(index):
                folded[index] += moved[region]
            else:  # 'replicate' wider than 1 names the edge repeatedly; repeats must add up
                np.add.at(folded, index, moved[region])
        grad = np.moveaxis(folded, 0, axis)
    return grad
