"""The functional API for linear, normalisation and dropout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnkit import ops
from cnnkit.nn._checks import check_floating, probability, to_tensor
from cnnkit.tensor import Tensor

__all__ = [
    "batch_norm",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "linear",
    "local_response_norm",
]


def _optional_vector(
    value: Any, length: int, name: str, dtype: np.dtype, what: str
) -> Tensor | None:
    """``None`` or a 1-D float tensor of ``length`` elements and the input's dtype."""
    if value is None:
        return None
    value = to_tensor(value, name)
    if value.shape != (length,):
        raise ValueError(f"{what}: expected {name} of shape ({length},), got {tuple(value.shape)}")
    _check_same_dtype(value, name, dtype, what)
    return value


def _check_same_dtype(value: Tensor, name: str, dtype: np.dtype, what: str) -> None:
    if value.dtype != dtype:
        raise TypeError(
            f"{what}: expected {name} to have the input's dtype {dtype}, got {value.dtype}"
        )


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b over the last dimension.

    Args:
        input: (*, in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Shape:
        Output: (*, out_features).

    Example:
        >>> import numpy as np
        >>> import cnnkit
        >>> y = linear(cnnkit.tensor(np.ones((2, 3))), cnnkit.tensor(np.ones((4, 3))))
        >>> y.shape
        (2, 4)
    """
    input, weight = to_tensor(input), to_tensor(weight, "weight")
    check_floating(input)
    if weight.ndim != 2:
        raise ValueError(f"linear: expected weight to be 2-D, got shape {tuple(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {tuple(input.shape)} does not end in in_features="
            f"{weight.shape[1]} of weight of shape {tuple(weight.shape)}"
        )
    _check_same_dtype(weight, "weight", input.dtype, "linear")
    bias = _optional_vector(bias, weight.shape[0], "bias", input.dtype, "linear")
    return ops.linear(input, weight, bias)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of (N, C, *) input over the batch and spatial dimensions.

    Args:
        input: (N, C) or (N, C, *).
        running_mean, running_var: (C,) running statistics, or None. In training they are
            updated in place (the variance with Bessel's correction, as PyTorch does); in
            evaluation they are the statistics used.
        weight, bias: (C,) affine parameters, or None.
        training: use the batch statistics (True) or the running ones (False).
        momentum: weight of the new batch statistic in the running average.
        eps: added to the variance for numerical stability.

    Shape:
        Output: same as input.
    """
    input = to_tensor(input)
    check_floating(input)
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm: expected input of at least 2 dimensions (N, C, *), got shape "
            f"{tuple(input.shape)}"
        )
    channels = input.shape[1]
    what = "batch_norm"
    running_mean = _optional_vector(running_mean, channels, "running_mean", input.dtype, what)
    running_var = _optional_vector(running_var, channels, "running_var", input.dtype, what)
    weight = _optional_vector(weight, channels, "weight", input.dtype, what)
    bias = _optional_vector(bias, channels, "bias", input.dtype, what)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must both be given or None")
    if not training and running_mean is None:
        raise ValueError("batch_norm: running_mean and running_var must be given when not training")
    if training and input.numel() // max(channels, 1) == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{tuple(input.shape)}"
        )
    if isinstance(momentum, bool) or not isinstance(momentum, int | float):
        raise TypeError(f"batch_norm: momentum must be a number, got {momentum!r}")
    if eps <= 0:
        raise ValueError(f"batch_norm: eps must be positive, got {eps}")
    return ops.batch_norm(
        input,
        weight,
        bias,
        None if running_mean is None else running_mean.data,
        None if running_var is None else running_var.data,
        bool(training),
        float(momentum),
        float(eps),
    )


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each group of C / num_groups channels of each sample.

    Args:
        input: (N, C, *).
        num_groups: number of groups; must divide C.
        weight, bias: (C,) per-channel affine parameters, or None.
        eps: added to the variance.

    Shape:
        Output: same as input.
    """
    input = to_tensor(input)
    check_floating(input)
    if input.ndim < 2:
        raise ValueError(
            f"group_norm: expected input of at least 2 dimensions (N, C, *), got shape "
            f"{tuple(input.shape)}"
        )
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups <= 0:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    channels = input.shape[1]
    if channels % num_groups:
        raise ValueError(
            f"Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {tuple(input.shape)} and num_groups={num_groups}"
        )
    # PyTorch's (odd but long-standing) check: it counts batch * C / num_groups * spatial.
    if input.numel() // num_groups == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{list(input.shape)}"
        )
    weight = _optional_vector(weight, channels, "weight", input.dtype, "group_norm")
    bias = _optional_vector(bias, channels, "bias", input.dtype, "group_norm")
    if eps <= 0:
        raise ValueError(f"group_norm: eps must be positive, got {eps}")
    return ops.group_norm(input, num_groups, weight, bias, float(eps))


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of each sample over its spatial dimensions.

    Args:
        input: (N, C, *) with at least one spatial dimension.
        running_mean, running_var: (C,) running statistics or None. With ``use_input_stats``
            they are updated in place with the batch average of the per-instance statistics
            (unbiased variance), as PyTorch does; otherwise they are the statistics used.
        weight, bias: (C,) affine parameters, or None.
        use_input_stats: normalise with each instance's own statistics.
        momentum: weight of the new statistics in the running average.
        eps: added to the variance.

    Shape:
        Output: same as input.
    """
    input = to_tensor(input)
    check_floating(input)
    if input.ndim < 3:
        raise ValueError(
            f"instance_norm: expected input of at least 3 dimensions (N, C, *), got shape "
            f"{tuple(input.shape)}"
        )
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    batch, channels = input.shape[:2]
    spatial = input.numel() // max(batch * channels, 1)
    if spatial == 1:
        raise ValueError(
            f"Expected more than 1 spatial element when training, got input size "
            f"{list(input.shape)}"
        )
    what = "instance_norm"
    running_mean = _optional_vector(running_mean, channels, "running_mean", input.dtype, what)
    running_var = _optional_vector(running_var, channels, "running_var", input.dtype, what)
    if (running_mean is None) != (running_var is None):
        raise ValueError("instance_norm: running_mean and running_var must both be given or None")
    if running_mean is not None and running_var is not None:
        per_instance = input.data.reshape(batch, channels, -1)
        running_mean.data *= 1 - momentum
        running_mean.data += momentum * per_instance.mean(axis=2).mean(axis=0)
        running_var.data *= 1 - momentum
        running_var.data += momentum * per_instance.var(axis=2, ddof=1).mean(axis=0)
    # Each (sample, channel) pair is its own group.
    return group_norm(input, channels, weight, bias, eps)


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each sample over its last ``len(normalized_shape)`` dimensions.

    Args:
        input: (*, *normalized_shape).
        normalized_shape: the trailing shape to normalise over.
        weight, bias: elementwise affine parameters of shape ``normalized_shape``, or None.
        eps: added to the variance.

    Shape:
        Output: same as input.
    """
    input = to_tensor(input)
    check_floating(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    if (
        not isinstance(shape, Sequence)
        or not shape
        or not all(isinstance(size, int) and size > 0 for size in shape)
    ):
        raise ValueError(
            f"layer_norm: normalized_shape must be a positive int or a non-empty sequence of "
            f"them, got {normalized_shape!r}"
        )
    shape = tuple(shape)
    if input.ndim < len(shape) or input.shape[input.ndim - len(shape) :] != shape:
        raise ValueError(
            f"Given normalized_shape={list(shape)}, expected input with shape [*, "
            f"{', '.join(map(str, shape))}], but got input of size {list(input.shape)}"
        )
    weight = None if weight is None else to_tensor(weight, "weight")
    bias = None if bias is None else to_tensor(bias, "bias")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is None:
            continue
        if value.shape != shape:
            raise ValueError(f"layer_norm: expected {name} of shape {shape}, got {value.shape}")
        _check_same_dtype(value, name, input.dtype, "layer_norm")
    if eps <= 0:
        raise ValueError(f"layer_norm: eps must be positive, got {eps}")
    return ops.layer_norm(input, shape, weight, bias, float(eps))


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """Local response normalisation across channels (AlexNet).

    y_c = x_c / (k + alpha / size * Σ x_c'²) ** beta, the sum over the ``size`` channels
    c - size // 2 .. c + (size - 1) // 2 (missing ones count as zero).

    Args:
        input: (N, C, *) with at least one spatial dimension.
        size: number of neighbouring channels in the sum.
        alpha: multiplicative factor. Default: 1e-4.
        beta: exponent. Default: 0.75.
        k: additive factor. Default: 1.

    Shape:
        Output: same as input.
    """
    input = to_tensor(input)
    check_floating(input)
    if input.ndim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)"
        )
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    return ops.local_response_norm(input, size, float(alpha), float(beta), float(k))


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (training only).

    The mask comes from the library generator (``cnnkit.manual_seed``). ``inplace`` is
    accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Any; output same as input.
    """
    input = to_tensor(input)
    check_floating(input)
    p = probability(p)
    if not training or p == 0:
        return input
    return ops.dropout(input, p)


def _channel_dropout(
    input: Tensor,
    p: float,
    training: bool,
    name: str,
    batched_ndims: tuple[int, ...],
    unbatched_ndim: int | None,
) -> Tensor:
    input = to_tensor(input)
    check_floating(input)
    p = probability(p)
    allowed = batched_ndims + (() if unbatched_ndim is None else (unbatched_ndim,))
    if input.ndim not in allowed:
        expected = " or ".join(f"{n}-D" for n in sorted(allowed))
        raise ValueError(f"{name}: expected {expected} input, got shape {tuple(input.shape)}")
    if not training or p == 0:
        return input
    if input.ndim == unbatched_ndim:
        unbatched = ops.reshape(input, (1, *input.shape))
        return ops.reshape(ops.dropout_channels(unbatched, p), input.shape)
    return ops.dropout_channels(input, p)


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``."""
    return _channel_dropout(input, p, training, "dropout1d", (3,), 2)


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels of (N, C, H, W) input (or (N, C, L), like PyTorch) with prob. ``p``."""
    # 3-D input is (N, C, L) here, as PyTorch 2.x still treats it.
    return _channel_dropout(input, p, training, "dropout2d", (3, 4), None)


def dropout3d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    return _channel_dropout(input, p, training, "dropout3d", (5,), 4)
