"""Activations, softmax and padding: forward and backward side by side.

``relu``, ``sigmoid`` and ``tanh`` live in ``elementwise.py`` (Tensor methods use them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import numpy as np

from cnnkit.ops._util import ieee_silent
from cnnkit.ops.elementwise import log_sigmoid_values, sigmoid_values
from cnnkit.tensor import Tensor

__all__ = [
    "elu",
    "erf",
    "gelu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "logsigmoid",
    "mish",
    "pad",
    "silu",
    "softmax",
    "softplus",
    "softsign",
]


# np.where with a data-dependent mask is ~10x slower than arithmetic, so the piecewise
# activations below blend their pieces with 0/1 masks instead.


def leaky_relu(a: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x`` (slope used at 0, like torch)."""
    slope = a.dtype.type(negative_slope)
    local = (a.data > 0).astype(a.dtype)  # 1 where positive, negative_slope elsewhere
    local *= 1 - slope
    local += slope
    return Tensor.from_op(a.data * local, (a,), lambda grad: (grad * local,))


def elu(a: Tensor, alpha: float = 1.0) -> Tensor:
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    alpha = a.dtype.type(alpha)
    negative_part = np.minimum(a.data, 0)  # exp only of non-positive values: no overflow
    out = np.expm1(negative_part)
    out *= alpha
    out += np.maximum(a.data, 0)
    # the gradient is 1 where x > 0 and alpha * exp(x) elsewhere
    alpha_exp = np.exp(negative_part)
    alpha_exp *= alpha
    positive = a.data > 0
    local = alpha_exp + positive * (1 - alpha_exp)
    return Tensor.from_op(out, (a,), lambda grad: (grad * local,))


def silu(a: Tensor) -> Tensor:
    """``x * sigmoid(x)`` (a.k.a. swish)."""
    s = sigmoid_values(a.data)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        local = 1 - s
        local *= a.data
        local += 1
        local *= s
        return (grad * local,)

    return Tensor.from_op(a.data * s, (a,), backward)


def softplus(a: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, or ``x`` itself where ``beta * x > threshold``."""
    scaled = a.data * a.dtype.type(beta)
    # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)) never overflows
    out = np.log1p(np.exp(-np.abs(scaled)))
    out += np.maximum(scaled, 0)
    out /= a.dtype.type(beta)
    local = sigmoid_values(scaled)
    linear = scaled > threshold
    if linear.any():  # usually none: x itself, exactly, where softplus is linear
        out = np.where(linear, a.data, out)
        local = np.where(linear, a.dtype.type(1), local)
    return Tensor.from_op(out, (a,), lambda grad: (grad * local,))


def hardtanh(a: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Clip to ``[min_val, max_val]``; unlike ``clamp`` the gradient is 0 AT the ends, as in
    PyTorch (``relu6`` is ``hardtanh(x, 0, 6)``)."""
    inside = (a.data > min_val) & (a.data < max_val)
    out = np.clip(a.data, a.dtype.type(min_val), a.dtype.type(max_val))
    return Tensor.from_op(out, (a,), lambda grad: (grad * inside,))


def hardsigmoid(a: Tensor) -> Tensor:
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between."""
    inside = (a.data > -3) & (a.data < 3)
    out = np.clip(a.data / a.dtype.type(6) + a.dtype.type(0.5), 0, 1)
    return Tensor.from_op(out, (a,), lambda grad: (grad * inside / a.dtype.type(6),))


def hardswish(a: Tensor) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    x = a.data
    out = x * np.clip(x + a.dtype.type(3), 0, 6) / a.dtype.type(6)
    # 0 up to -3, x/3 + 1/2 strictly between -3 and 3, 1 from 3 on (PyTorch's choice at the ends)
    local = (x / a.dtype.type(3) + a.dtype.type(0.5)) * ((x > -3) & (x < 3)) + (x >= 3)
    return Tensor.from_op(out, (a,), lambda grad: (grad * local,))


def mish(a: Tensor) -> Tensor:
    """``x * tanh(softplus(x))``."""
    x = a.data
    sp = np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)
    tanh_sp = np.tanh(sp)
    out = x * tanh_sp
    local = tanh_sp + x * sigmoid_values(x) * (1 - tanh_sp * tanh_sp)
    return Tensor.from_op(out, (a,), lambda grad: (grad * local,))


def logsigmoid(a: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, finite for any input."""
    x = a.data
    return Tensor.from_op(log_sigmoid_values(x), (a,), lambda grad: (grad * sigmoid_values(-x),))


def softsign(a: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    denominator = 1 + np.abs(a.data)
    return Tensor.from_op(
        a.data / denominator, (a,), lambda grad: (grad / (denominator * denominator),)
    )


# Abramowitz & Stegun 7.1.26: erf(x) = 1 - t P(t) exp(-x^2), t = 1 / (1 + p x), |error| <= 1.5e-7.
# PyTorch's vectorised float32 GELU uses exactly this formula (not an accurate erf); we follow it
# so float32 GELU tracks torch where it matters, the tails, where 1 + erf cancels (there torch
# is off by up to ~5e-5 relative, and so are we, the same way). It is also one pass over the
# data, several times faster than the accurate erf.
_AS_P = 0.3275911
_AS_POLYNOMIAL = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf_float32_as_torch(z: np.ndarray) -> np.ndarray:
    f = np.float32
    t = np.abs(z, out=np.empty_like(z))  # ``out=`` keeps 0-d results arrays
    t *= f(_AS_P)
    t += f(1)
    np.reciprocal(t, out=t)
    r = t * f(_AS_POLYNOMIAL[-1])
    for c in reversed(_AS_POLYNOMIAL[1:-1]):
        r += f(c)
        r *= t
    r += f(_AS_POLYNOMIAL[0])
    tail = np.square(z, out=np.empty_like(z))
    np.negative(tail, out=tail)
    np.exp(tail, out=tail)
    tail *= t
    tail *= r
    np.subtract(f(1), tail, out=tail)
    return np.copysign(tail, z, out=tail)


def gelu(a: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula."""
    x = a.data
    if approximate == "tanh":
        # PyTorch's order of operations, so float32 rounding matches
        k, kappa = a.dtype.type(math.sqrt(2 / math.pi)), a.dtype.type(0.044715)
        t = np.tanh(k * (x + kappa * (x * x * x)))
        out = 0.5 * x * (1 + t)
        local = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * kappa * x * x)
    else:
        scaled = np.multiply(x, a.dtype.type(1 / math.sqrt(2)), out=np.empty_like(x))
        # torch's vectorised kernel runs on contiguous float32 tensors of 2+ elements; single
        # elements and strided views take its scalar path, which uses an accurate erf
        vectorised = x.dtype == np.float32 and x.size > 1 and x.flags.c_contiguous
        erf_x = _erf_float32_as_torch(scaled) if vectorised else erf(scaled)
        cdf = 0.5 * (1 + erf_x)
        out = x * 0.5 * (1 + erf_x)
        pdf = a.dtype.type(1 / math.sqrt(2 * math.pi)) * np.exp(x * x * a.dtype.type(-0.5))
        local = cdf + x * pdf  # in torch's order: the two terms cancel in the left tail
    return Tensor.from_op(out.astype(a.dtype, copy=False), (a,), lambda grad: (grad * local,))


@ieee_silent
def softmax(a: Tensor, dim: int) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``; shifting by the max keeps it finite."""
    out = a.data - np.max(a.data, axis=dim, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=dim, keepdims=True)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        grad_in = grad - (grad * out).sum(axis=dim, keepdims=True)
        grad_in *= out
        return (grad_in,)

    return Tensor.from_op(out, (a,), backward)


@ieee_silent
def log_softmax(a: Tensor, dim: int) -> Tensor:
    """``x - log(sum(exp(x)))`` along ``dim``, computed without overflow."""
    out = a.data - np.max(a.data, axis=dim, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=dim, keepdims=True))

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        softmax_grad = np.exp(out)
        softmax_grad *= grad.sum(axis=dim, keepdims=True)
        return (grad - softmax_grad,)

    return Tensor.from_op(out, (a,), backward)


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


# Cutting |x| to ``h`` (its high mantissa bits) makes h*h exact, so exp(-x^2) is computed as
# exp(-h^2) * exp((h - x)(h + x)) without magnifying the rounding error of x*x.
_HIGH_BITS = {
    np.dtype(np.float32): (np.uint32, np.uint32(0xFFFFE000)),
    np.dtype(np.float64): (np.uint64, np.uint64(0xFFFFFFFF00000000)),
}


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of an array, vectorised, to about one ulp of its dtype.

    float32 input is computed in float32 (as fast as the rest of a float32 network), anything
    else in float64. Four ranges of ``|x|``: below 0.84375 ``x + x * P/Q(x^2)``; up to 1.25 a
    rational function of ``|x| - 1`` around erf(1); up to 6
    ``1 - exp(-x^2 - 0.5625 + P/Q(1/x^2)) / |x|`` (two fits, split at 1/0.35); beyond, 1.
    NaN stays NaN.
    """
    x = np.asarray(x)
    if x.dtype != np.float32:
        x = x.astype(np.float64)
    as_bits, high_mask = _HIGH_BITS[x.dtype]
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
        h = (t.view(as_bits) & high_mask).view(x.dtype)
        correction = (h - t) * (h + t) + _polynomial(s, p) / _polynomial(s, q)
        tail = np.exp(-h * h - 0.5625) * np.exp(correction)
        out[in_range] = 1 - tail / t

    out[magnitude >= 6] = 1
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


def _along(axis: int, start: int | None, stop: int | None) -> tuple[slice, ...]:
    """The index of ``start:stop`` along ``axis`` (all of every earlier axis)."""
    return (slice(None),) * axis + (slice(start, stop),)


def _fold_padding(
    grad: np.ndarray, widths: list[tuple[int, int]], shape: tuple[int, ...], mode: str
) -> np.ndarray:
    """Undo a reflect/replicate/circular pad: add each padded cell's gradient to its source.

    Within one side's pad the sources are distinct (reflect needs pad < size, circular
    pad <= size), so plain slice additions suffice; replicate sums the side onto the edge.
    """
    for axis, (left, right) in enumerate(widths):
        if left == right == 0:
            continue
        n = shape[axis]
        along = partial(_along, axis)
        folded = grad[along(left, left + n)].copy()
        before, after = grad[along(0, left)], grad[along(left + n, None)]
        if mode == "reflect":  # pad cell j mirrors source left - j; right side likewise
            folded[along(1, left + 1)] += np.flip(before, axis)
            folded[along(n - 1 - right, n - 1)] += np.flip(after, axis)
        elif mode == "circular":  # the left pad copies the last ``left`` cells, and so on
            folded[along(n - left, n)] += before
            folded[along(0, right)] += after
        else:  # replicate
            folded[along(0, 1)] += before.sum(axis=axis, keepdims=True)
            folded[along(n - 1, n)] += after.sum(axis=axis, keepdims=True)
        grad = folded
    return grad
