"""The functional API for activations, softmax and padding (``torch.nn.functional`` names).

Each function checks its arguments, raising an error that names the bad one, then calls the op
in ``cnnkit.ops``. ``inplace=True`` is accepted for compatibility with PyTorch code, but the
result is always a new tensor (the input is never modified).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnkit import ops
from cnnkit.nn._checks import check_dim, check_floating, to_tensor
from cnnkit.tensor import Tensor

__all__ = [
    "elu",
    "gelu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "logsigmoid",
    "mish",
    "pad",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
]

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a number, got {name}={value!r}")
    return float(value)


def _floating_input(input: Any) -> Tensor:
    input = to_tensor(input)
    check_floating(input)
    return input


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)`` elementwise.

    Shape:
        any; the output has the input's shape.

    Example:
        >>> F.relu(cnnkit.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    return ops.relu(to_tensor(input))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    Args:
        input: floating-point tensor of any shape.
        negative_slope: slope for negative inputs.
    """
    return ops.leaky_relu(_floating_input(input), _number(negative_slope, "negative_slope"))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Args:
        input: floating-point tensor of any shape.
        alpha: the value approached for very negative inputs is ``-alpha``.
    """
    return ops.elu(_floating_input(input), _number(alpha, "alpha"))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)`` (Phi: the standard normal CDF).

    Args:
        input: floating-point tensor of any shape.
        approximate: 'none' (exact, via erf) or 'tanh'
            (``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))))``).
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got approximate={approximate!r}")
    return ops.gelu(_floating_input(input), approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return ops.silu(_floating_input(input))


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``, computed without overflow."""
    return ops.sigmoid(_floating_input(input))


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return ops.tanh(_floating_input(input))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``; linear where ``beta x > threshold``.

    Args:
        input: floating-point tensor of any shape.
        beta: sharpness; must not be 0.
        threshold: above ``beta x > threshold`` the output is ``x`` itself.
    """
    beta = _number(beta, "beta")
    if beta == 0:
        raise ValueError(f"beta must be non-zero, got beta={beta}")
    return ops.softplus(_floating_input(input), beta, _number(threshold, "threshold"))


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """Clip to ``[min_val, max_val]``; the gradient is 0 outside the open interval.

    Args:
        input: floating-point tensor of any shape.
        min_val: lower bound.
        max_val: upper bound, at least ``min_val``.
    """
    min_val, max_val = _number(min_val, "min_val"), _number(max_val, "max_val")
    if max_val < min_val:
        raise ValueError(
            f"max_val must be at least min_val, got min_val={min_val}, max_val={max_val}"
        )
    return ops.hardtanh(_floating_input(input), min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)`` (MobileNet's activation)."""
    return ops.hardtanh(_floating_input(input), 0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``, a piecewise-linear sigmoid."""
    return ops.hardsigmoid(_floating_input(input))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6`` (MobileNetV3)."""
    return ops.hardswish(_floating_input(input))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return ops.mish(_floating_input(input))


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed as ``-softplus(-x)`` so it never gives ``-inf``."""
    return ops.logsigmoid(_floating_input(input))


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return ops.softsign(_floating_input(input))


def _softmax_dim(input: Tensor, dim: int | None, name: str) -> int:
    if dim is None:
        # PyTorch's legacy rule for a missing dim
        dim = 0 if input.ndim in (0, 1, 3) else 1
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            UserWarning,
            stacklevel=3,
        )
    return check_dim(dim, input.ndim)


def _softmax_input(input: Any, dtype: Any) -> Tensor:
    input = to_tensor(input)
    if dtype is not None:
        input = ops.cast(input, np.dtype(dtype))
    check_floating(input)
    return input


def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``; stable for any finite logits.

    Args:
        input: floating-point tensor.
        dim: dimension along which the outputs sum to 1.
        dtype: cast the input to this dtype first.

    Shape:
        any; the output has the input's shape.

    Example:
        >>> F.softmax(cnnkit.tensor([[1e4, 0.0]]), dim=1).tolist()
        [[1.0, 0.0]]
    """
    input = _softmax_input(input, dtype)
    return ops.softmax(input, _softmax_dim(input, dim, "softmax"))


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """``x - log(sum(exp(x)))`` along ``dim``, without overflow or ``log(0)``.

    Args:
        input: floating-point tensor.
        dim: the dimension to normalise over.
        dtype: cast the input to this dtype first.
    """
    input = _softmax_input(input, dtype)
    return ops.log_softmax(input, _softmax_dim(input, dim, "log_softmax"))


def pad(
    input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions; ``pad`` lists (left, right) amounts starting
    from the LAST dimension: ``(left, right, top, bottom, front, back)``.

    Args:
        input: tensor to pad.
        pad: even-length sequence of ints; negative amounts crop.
        mode: 'constant', 'reflect', 'replicate' or 'circular'. The last three pad 1 to 3
            trailing dimensions of a tensor with 1 or 2 more (batch, channel) dimensions.
        value: fill value for 'constant' (default 0).

    Shape:
        dimension ``d`` (counted from the end, 1-based) grows by ``pad[2d-2] + pad[2d-1]``.

    Example:
        >>> F.pad(cnnkit.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
        [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    input = to_tensor(input)
    if mode not in PAD_MODES:
        raise ValueError(f"mode must be one of {PAD_MODES}, got mode={mode!r}")
    if not isinstance(pad, Sequence) or not all(
        isinstance(p, int | np.integer) and not isinstance(p, bool) for p in pad
    ):
        raise TypeError(f"pad must be a sequence of ints, got pad={pad!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"pad must have an even length, got pad={pad} of length {len(pad)}")
    padded_dims = len(pad) // 2
    if padded_dims > input.ndim:
        raise ValueError(
            f"pad={pad} pads {padded_dims} dimensions but input has only {input.ndim} "
            f"(shape {input.shape})"
        )
    if mode != "constant":
        if value is not None:
            raise ValueError(
                f"value is only used with mode='constant', got value={value!r} with mode={mode!r}"
            )
        if padded_dims not in (1, 2, 3) or input.ndim not in (padded_dims + 1, padded_dims + 2):
            raise ValueError(
                f"mode={mode!r} pads 1 to 3 trailing dimensions of a tensor with 1 or 2 more "
                f"dimensions; got pad={pad} ({padded_dims} dimensions) for input of shape "
                f"{input.shape}"
            )
    for pair in range(padded_dims):
        _check_pad_pair(pad, pair, mode, input.shape)
    fill = 0.0 if value is None else _number(value, "value")
    return ops.pad(input, pad, mode, fill)


def _check_pad_pair(pad: tuple[int, ...], pair: int, mode: str, shape: tuple[int, ...]) -> None:
    """Check ``pad[2 * pair : 2 * pair + 2]``, the amounts for dimension ``-1 - pair``."""
    left, right = pad[2 * pair], pad[2 * pair + 1]
    axis = len(shape) - 1 - pair
    size = shape[axis]
    kept = size - max(-left, 0) - max(-right, 0)
    if kept < 0 or size + left + right < 0:
        raise ValueError(
            f"pad={pad} crops more than dimension {axis} of size {size} holds: ({left}, {right})"
        )
    if mode == "reflect" and max(left, right) >= size:
        raise ValueError(
            f"reflect padding must be smaller than the padded dimension: pad={pad} asks for "
            f"({left}, {right}) on dimension {axis} of size {size}"
        )
    if mode == "circular" and max(left, right) > kept:
        raise ValueError(
            f"circular padding can wrap around at most once: pad={pad} asks for "
            f"({left}, {right}) on dimension {axis} of size {kept} after cropping"
        )
    if mode != "constant" and size + left + right < 1:
        raise ValueError(
            f"mode={mode!r} needs a non-empty output, but pad={pad} leaves dimension {axis} of "
            f"size {size} with {size + left + right}"
        )
