"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d, with PyTorch's signatures.

Arguments are validated at construction (as PyTorch does), so a bad layer fails where it is
built, not at its first forward. Padding modes other than ``"zeros"`` pad with ``F.pad`` first
and then convolve without padding, exactly like PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cnnkit.arithmetic.shapes import conv_transpose_output_size, same_padding
from cnnkit.nn import functional as F
from cnnkit.nn import init
from cnnkit.nn._checks import factory_dtype, non_negative_tuple, positive_int, positive_tuple
from cnnkit.nn.modules.module import Module
from cnnkit.nn.parameter import Parameter
from cnnkit.tensor import Tensor

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
PADDING_STRINGS = ("same", "valid")


class _ConvNd(Module):
    """Weight, bias, validation, init and repr shared by the six convolution layers."""

    _dims: int
    _transposed: bool

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...],
        padding: str | int | tuple[int, ...],
        dilation: int | tuple[int, ...],
        output_padding: int | tuple[int, ...],
        groups: int,
        bias: bool,
        padding_mode: str,
        device: Any,
        dtype: Any,
    ) -> None:
        super().__init__()
        d = self._dims
        in_channels = positive_int(in_channels, "in_channels")
        out_channels = positive_int(out_channels, "out_channels")
        groups = positive_int(groups, "groups")
        if in_channels % groups:
            raise ValueError(
                f"in_channels must be divisible by groups, got in_channels={in_channels} and "
                f"groups={groups}"
            )
        if out_channels % groups:
            raise ValueError(
                f"out_channels must be divisible by groups, got out_channels={out_channels} and "
                f"groups={groups}"
            )
        self.kernel_size = positive_tuple(kernel_size, d, "kernel_size")
        self.stride = positive_tuple(stride, d, "stride")
        self.dilation = positive_tuple(dilation, d, "dilation")
        self.output_padding = non_negative_tuple(output_padding, d, "output_padding")
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {PADDING_MODES}, but got "
                f"padding_mode={padding_mode!r}"
            )
        if self._transposed and padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {type(self).__name__}, got '
                f"padding_mode={padding_mode!r}"
            )
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(
                    f"{type(self).__name__} does not accept a padding string, got "
                    f"padding={padding!r}"
                )
            if padding not in PADDING_STRINGS:
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {PADDING_STRINGS}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    f"padding='same' is not supported for strided convolutions, got "
                    f"stride={stride!r}"
                )
            self.padding: str | tuple[int, ...] = padding
        else:
            self.padding = non_negative_tuple(padding, d, "padding")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = self._transposed

        dtype = factory_dtype(device, dtype)
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight kaiming_uniform_(a=sqrt(5)), bias U(±1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _pad_amounts(self) -> list[int]:
        """F.pad's amounts (last dimension first) for padding_mode != 'zeros'."""
        amounts: list[int] = []
        for axis in reversed(range(self._dims)):
            if self.padding == "same":
                amounts += same_padding(self.kernel_size[axis], self.dilation[axis])
            elif self.padding == "valid":
                amounts += [0, 0]
            else:
                amounts += [self.padding[axis]] * 2
        return amounts

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self._dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _Conv(_ConvNd):
    _transposed = False
    _function: Callable[..., Tensor]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: str | int | tuple[int, ...] = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            0,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def forward(self, input: Tensor) -> Tensor:
        convolve = self._function
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._pad_amounts(), mode=self.padding_mode)
            return convolve(
                padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups
            )
        return convolve(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


_CONV_DOC = """{d}-D convolution layer (PyTorch's ``Conv{d}d``).

    Args:
        in_channels: C_in.
        out_channels: C_out.
        kernel_size: int or {d}-tuple.
        stride: int or {d}-tuple. Default: 1.
        padding: int or {d}-tuple, ``"valid"`` (none) or ``"same"`` (keeps the size; stride 1
            only; an odd total puts the extra element at the end). Default: 0.
        dilation: int or {d}-tuple. Default: 1.
        groups: channel groups; must divide both channel counts. Default: 1.
        bias: learn a bias. Default: True.
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        device: None or ``"cpu"``.
        dtype: parameter dtype. Default: float32.

    Shape:
        - Input: (N, C_in, {spatial}) or unbatched (C_in, {spatial}).
        - Output: (N, C_out, {spatial_out}), each size
          floor((i + 2p - d(k - 1) - 1) / s) + 1.

    Attributes:
        weight: (C_out, C_in / groups, *kernel_size), U(±1/sqrt(fan_in)) initially.
        bias: (C_out,), U(±1/sqrt(fan_in)) initially.

    Example:
        >>> from cnnkit import nn
        >>> nn.Conv{d}d(16, 33, 3, stride=2)
        Conv{d}d(16, 33, kernel_size={kernel}, stride={stride})
    """


class Conv1d(_Conv):
    __doc__ = _CONV_DOC.format(d=1, spatial="L", spatial_out="L_out", kernel="(3,)", stride="(2,)")
    _dims = 1
    _function = staticmethod(F.conv1d)


class Conv2d(_Conv):
    __doc__ = _CONV_DOC.format(
        d=2, spatial="H, W", spatial_out="H_out, W_out", kernel="(3, 3)", stride="(2, 2)"
    )
    _dims = 2
    _function = staticmethod(F.conv2d)


class Conv3d(_Conv):
    __doc__ = _CONV_DOC.format(
        d=3,
        spatial="D, H, W",
        spatial_out="D_out, H_out, W_out",
        kernel="(3, 3, 3)",
        stride="(2, 2, 2)",
    )
    _dims = 3
    _function = staticmethod(F.conv3d)


class _ConvTranspose(_ConvNd):
    _transposed = True
    _function: Callable[..., Tensor]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        output_padding: int | tuple[int, ...] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, ...] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            output_padding,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _output_padding(self, input: Tensor, output_size: Sequence[int] | None) -> tuple[int, ...]:
        """The output_padding that gives ``output_size`` (PyTorch's rule and error)."""
        if output_size is None:
            return self.output_padding
        d = self._dims
        batch_dims = 2 if input.ndim == d + 2 else 1
        output_size = tuple(output_size)
        if len(output_size) == batch_dims + d:
            output_size = output_size[batch_dims:]
        if len(output_size) != d:
            raise ValueError(
                f"ConvTranspose{d}D: for {input.ndim}D input, output_size must have {d} or "
                f"{batch_dims + d} elements (got {len(output_size)})"
            )
        spatial = input.shape[input.ndim - d :]
        min_sizes = [
            conv_transpose_output_size(size, k, s, p, 0, dl)
            for size, k, s, p, dl in zip(
                spatial, self.kernel_size, self.stride, self.padding, self.dilation, strict=True
            )
        ]
        max_sizes = [low + s - 1 for low, s in zip(min_sizes, self.stride, strict=True)]
        for size, low, high in zip(output_size, min_sizes, max_sizes, strict=True):
            if not low <= size <= high:
                raise ValueError(
                    f"requested an output size of {list(output_size)}, but valid sizes range "
                    f"from {min_sizes} to {max_sizes} (for an input of {list(spatial)})"
                )
        return tuple(size - low for size, low in zip(output_size, min_sizes, strict=True))

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        """Args: input; output_size: the wanted spatial size (picks output_padding)."""
        output_padding = self._output_padding(input, output_size)
        return self._function(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )


_CONV_TRANSPOSE_DOC = """{d}-D transposed convolution layer (PyTorch's ``ConvTranspose{d}d``).

    The gradient of ``Conv{d}d`` with respect to its input; upsamples by ``stride``.
    Argument order is PyTorch's: ``dilation`` comes after ``bias``.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        kernel_size: int or {d}-tuple.
        stride: int or {d}-tuple. Default: 1.
        padding: int or {d}-tuple cropped from each side of the output. Default: 0.
        output_padding: int or {d}-tuple added at the end of each output dimension; smaller
            than the stride or the dilation. Default: 0.
        groups: channel groups. Default: 1.
        bias: learn a bias. Default: True.
        dilation: int or {d}-tuple. Default: 1.
        padding_mode: only ``"zeros"``.
        device: None or ``"cpu"``.
        dtype: parameter dtype. Default: float32.

    Shape:
        - Input: (N, C_in, {spatial}) or unbatched (C_in, {spatial}).
        - Output: each size (i - 1)s - 2p + d(k - 1) + output_padding + 1; or pass
          ``output_size`` to ``forward`` to choose among the sizes a stride allows.

    Attributes:
        weight: (C_in, C_out / groups, *kernel_size).
        bias: (C_out,).
    """


class ConvTranspose1d(_ConvTranspose):
    __doc__ = _CONV_TRANSPOSE_DOC.format(d=1, spatial="L")
    _dims = 1
    _function = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    __doc__ = _CONV_TRANSPOSE_DOC.format(d=2, spatial="H, W")
    _dims = 2
    _function = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    __doc__ = _CONV_TRANSPOSE_DOC.format(d=3, spatial="D, H, W")
    _dims = 3
    _function = staticmethod(F.conv_transpose3d)
