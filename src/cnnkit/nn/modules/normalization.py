"""Normalisation layers: BatchNorm1d/2d/3d, GroupNorm, LayerNorm."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnkit.nn import functional as F
from cnnkit.nn import init
from cnnkit.nn._checks import factory_dtype
from cnnkit.nn.modules.module import Module
from cnnkit.nn.parameter import Parameter
from cnnkit.tensor import Tensor

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "LocalResponseNorm",
]


def _add_scale_and_shift(
    module: Module, shape: int | tuple[int, ...], affine: bool, bias: bool, dtype: Any
) -> None:
    """Register ``weight`` (ones) and ``bias`` (zeros), or None where not learned."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype)) if affine else None)
    module.register_parameter(
        "bias", Parameter(np.zeros(shape, dtype)) if affine and bias else None
    )


def _reset_scale_and_shift(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    _expected_ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum!r}")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        dtype = factory_dtype(device, dtype)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _add_scale_and_shift(self, num_features, affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics and set weight 1, bias 0."""
        self.reset_running_stats()
        _reset_scale_and_shift(self)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self._expected_ndims:
            expected = " or ".join(f"{n}D" for n in self._expected_ndims)
            raise ValueError(f"expected {expected} input (got {input.ndim}D input)")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.data)
        # Without running statistics, evaluation mode also normalises with the batch's.
        use_batch_stats = self.training or self.running_mean is None
        keep_stats = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep_stats else None,
            self.running_var if keep_stats else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


_BATCH_NORM_DOC = """Batch normalisation over {what} (PyTorch's ``{name}``).

    y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, per channel. In training the batch's
    statistics are used and running estimates updated (``momentum``, or a cumulative average
    when ``momentum=None``; variance unbiased); in evaluation the running estimates are used.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance. Default: 1e-5.
        momentum: weight of each new batch in the running estimates, or None for the
            cumulative average. Default: 0.1.
        affine: learn a per-channel weight and bias. Default: True.
        track_running_stats: keep running estimates (otherwise batch statistics always).
        bias: learn the bias (with ``affine``); keyword-only. Default: True.
        device: None or ``"cpu"``.
        dtype: parameter dtype. Default: float32.

    Shape:
        - Input: {shape}.
        - Output: same as input.

    Example:
        >>> import numpy as np
        >>> import cnnkit
        >>> from cnnkit import nn
        >>> bn = nn.{name}(3)
        >>> list(bn.state_dict())
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    """


class BatchNorm1d(_BatchNorm):
    __doc__ = _BATCH_NORM_DOC.format(
        what="(N, C) or (N, C, L) input", name="BatchNorm1d", shape="(N, C) or (N, C, L)"
    )
    _expected_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    __doc__ = _BATCH_NORM_DOC.format(
        what="(N, C, H, W) input", name="BatchNorm2d", shape="(N, C, H, W)"
    )
    _expected_ndims = (4,)


class BatchNorm3d(_BatchNorm):
    __doc__ = _BATCH_NORM_DOC.format(
        what="(N, C, D, H, W) input", name="BatchNorm3d", shape="(N, C, D, H, W)"
    )
    _expected_ndims = (5,)


class _InstanceNorm(_BatchNorm):
    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def forward(self, input: Tensor) -> Tensor:
        batched_ndim = self._expected_ndims[-1]
        if input.ndim not in (batched_ndim - 1, batched_ndim):
            raise ValueError(
                f"expected {batched_ndim - 1}D or {batched_ndim}D input (got {input.ndim}D input)"
            )
        channel_dim = input.ndim - batched_ndim + 1
        if input.shape[channel_dim] != self.num_features:
            message = (
                f"expected input's size at dim={channel_dim} to match num_features "
                f"({self.num_features}), but got: {input.shape[channel_dim]}."
            )
            if self.affine:
                raise ValueError(message)
            warnings.warn(message + " num_features is unused as affine=False", stacklevel=2)
        batched = input if input.ndim == batched_ndim else input.reshape(1, *input.shape)
        out = F.instance_norm(
            batched,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )
        return out if input.ndim == batched_ndim else out.reshape(input.shape)


_INSTANCE_NORM_DOC = """Instance normalisation (PyTorch's ``{name}``): each channel of each sample
    normalised over its own spatial dimensions, as in style transfer networks.

    Args:
        num_features: C.
        eps: added to the variance. Default: 1e-5.
        momentum: weight of new statistics in the running estimates. Default: 0.1.
        affine: learn a per-channel weight and bias. Default: False.
        track_running_stats: keep running estimates and use them in evaluation mode.
            Default: False.
        device: None or ``"cpu"``.
        dtype: parameter dtype. Default: float32.
        bias: learn the bias (with ``affine``); keyword-only. Default: True.

    Shape:
        - Input: {shape}.
        - Output: same as input.
    """


class InstanceNorm1d(_InstanceNorm):
    __doc__ = _INSTANCE_NORM_DOC.format(name="InstanceNorm1d", shape="(N, C, L) or (C, L)")
    _expected_ndims = (3,)


class InstanceNorm2d(_InstanceNorm):
    __doc__ = _INSTANCE_NORM_DOC.format(name="InstanceNorm2d", shape="(N, C, H, W) or (C, H, W)")
    _expected_ndims = (4,)


class InstanceNorm3d(_InstanceNorm):
    __doc__ = _INSTANCE_NORM_DOC.format(
        name="InstanceNorm3d", shape="(N, C, D, H, W) or (C, D, H, W)"
    )
    _expected_ndims = (5,)


class GroupNorm(Module):
    """Group normalisation: each sample's channels split into groups, each group normalised.

    Args:
        num_groups: number of groups; must divide ``num_channels``.
        num_channels: C.
        eps: added to the variance. Default: 1e-5.
        affine: learn a per-channel weight (ones) and bias (zeros). Default: True.
        device: None or ``"cpu"``.
        dtype: parameter dtype. Default: float32.

    Shape:
        - Input: (N, C, *).
        - Output: same as input.

    Example:
        >>> from cnnkit import nn
        >>> nn.GroupNorm(2, 6)
        GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if num_channels % num_groups:
            raise ValueError(
                f"num_channels must be divisible by num_groups, got num_channels={num_channels} "
                f"and num_groups={num_groups}"
            )
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        dtype = factory_dtype(device, dtype)
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _add_scale_and_shift(self, num_channels, affine, bias, dtype)

    def reset_parameters(self) -> None:
        _reset_scale_and_shift(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` dimensions of each sample.

    Args:
        normalized_shape: int or shape of the trailing dimensions.
        eps: added to the variance. Default: 1e-5.
        elementwise_affine: learn an elementwise weight (ones) and bias (zeros). Default: True.
        bias: learn the bias (with ``elementwise_affine``). Default: True.
        device: None or ``"cpu"``.
        dtype: parameter dtype. Default: float32.

    Shape:
        - Input: (*, *normalized_shape).
        - Output: same as input.

    Example:
        >>> from cnnkit import nn
        >>> nn.LayerNorm([4, 5])
        LayerNorm((4, 5), eps=1e-05, elementwise_affine=True, bias=True)
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        if not isinstance(shape, Sequence) or not all(
            isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in shape
        ):
            raise ValueError(
                f"normalized_shape must be a positive int or a sequence of them, got "
                f"{normalized_shape!r}"
            )
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        dtype = factory_dtype(device, dtype)
        self.normalized_shape = tuple(shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _add_scale_and_shift(self, self.normalized_shape, elementwise_affine, bias, dtype)

    def reset_parameters(self) -> None:
        _reset_scale_and_shift(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class LocalResponseNorm(Module):
    """Local response normalisation across neighbouring channels (AlexNet).

    Args:
        size: number of neighbouring channels in the sum.
        alpha: multiplicative factor. Default: 1e-4.
        beta: exponent. Default: 0.75.
        k: additive factor. Default: 1.

    Shape:
        - Input: (N, C, *).
        - Output: same as input.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"size must be a positive int, got {size!r}")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
