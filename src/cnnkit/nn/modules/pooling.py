"""Pooling layers: max, average, adaptive and max-unpooling, 1-D to 3-D.

The settings are stored as given (as PyTorch does, so ``repr`` matches) and checked at
construction; the pooling itself is ``cnnkit.nn.functional``'s.
"""

from __future__ import annotations

from typing import Any

from cnnkit.nn import functional as F
from cnnkit.nn._checks import ntuple, positive_tuple
from cnnkit.nn.modules.module import Module
from cnnkit.tensor import Tensor

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
]

IntOrTuple = int | tuple[int, ...]


def _check_window(
    dims: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1
) -> tuple[int, ...]:
    """Check the window settings of a pooling layer; returns the kernel as a tuple."""
    kernel = positive_tuple(kernel_size, dims, "kernel_size")
    if stride is not None:
        positive_tuple(stride, dims, "stride")
    pads = ntuple(padding, dims, "padding")
    if any(p < 0 for p in pads):
        raise ValueError(f"padding must be non-negative, got padding={padding!r}")
    positive_tuple(dilation, dims, "dilation")
    # PyTorch 2.13's rule: padding at most half the (undilated) kernel.
    if any(p > k // 2 for p, k in zip(pads, kernel, strict=True)):
        raise ValueError(
            f"pad should be at most half of effective kernel size, but got "
            f"padding={padding!r} and kernel_size={kernel_size!r}"
        )
    return kernel


class _MaxPoolNd(Module):
    _dims: int
    _function: Any

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        _check_window(self._dims, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )

    def forward(self, input: Tensor) -> Any:
        return self._function(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )


_MAX_POOL_DOC = """{d}-D max pooling (PyTorch's ``MaxPool{d}d``; note ``return_indices`` comes
    before ``ceil_mode``).

    Args:
        kernel_size: window size, int or {d}-tuple.
        stride: window step. Default: ``kernel_size``.
        padding: implicit -inf padding on both sides, at most half the kernel. Default: 0.
        dilation: spacing between window elements. Default: 1.
        return_indices: also return the flat index of each maximum (for ``MaxUnpool{d}d``).
        ceil_mode: round the output size up (a window must still start inside the input or
            the left padding).

    Shape:
        - Input: (N, C, {spatial}) or (C, {spatial}).
        - Output: each size floor((i + 2p - d(k - 1) - 1) / s) + 1 (ceil in ceil_mode).
    """


class MaxPool1d(_MaxPoolNd):
    __doc__ = _MAX_POOL_DOC.format(d=1, spatial="L")
    _dims = 1
    _function = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    __doc__ = _MAX_POOL_DOC.format(d=2, spatial="H, W")
    _dims = 2
    _function = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    __doc__ = _MAX_POOL_DOC.format(d=3, spatial="D, H, W")
    _dims = 3
    _function = staticmethod(F.max_pool3d)


_AVG_POOL_DOC = """{d}-D average pooling (PyTorch's ``AvgPool{d}d``).

    Args:
        kernel_size: window size, int or {d}-tuple.
        stride: window step. Default: ``kernel_size``.
        padding: implicit zero padding on both sides, at most half the kernel. Default: 0.
        ceil_mode: round the output size up.
        count_include_pad: count the zero padding in the divisor. Default: True.{extra}

    Shape:
        - Input: (N, C, {spatial}) or (C, {spatial}).
        - Output: each size floor((i + 2p - k) / s) + 1 (ceil in ceil_mode).
    """
_DIVISOR_DOC = "\n        divisor_override: if given, the divisor of every window."


class AvgPool1d(Module):
    __doc__ = _AVG_POOL_DOC.format(d=1, spatial="L", extra="")

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        _check_window(1, kernel_size, stride, padding)
        # PyTorch keeps AvgPool1d's settings as 1-tuples (and shows them so in repr).
        self.kernel_size = ntuple(kernel_size, 1, "kernel_size")
        self.stride = ntuple(stride if stride is not None else kernel_size, 1, "stride")
        self.padding = ntuple(padding, 1, "padding")
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    _dims: int
    _function: Any

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        _check_window(self._dims, kernel_size, stride, padding)
        if divisor_override is not None and (
            isinstance(divisor_override, bool)
            or not isinstance(divisor_override, int)
            or divisor_override == 0
        ):
            raise ValueError(
                f"divisor_override must be a non-zero int or None, got {divisor_override!r}"
            )
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input: Tensor) -> Tensor:
        return self._function(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AvgPool2d(_AvgPoolNd):
    __doc__ = _AVG_POOL_DOC.format(d=2, spatial="H, W", extra=_DIVISOR_DOC)
    _dims = 2
    _function = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    __doc__ = _AVG_POOL_DOC.format(d=3, spatial="D, H, W", extra=_DIVISOR_DOC)
    _dims = 3
    _function = staticmethod(F.avg_pool3d)


def _check_output_size(output_size: Any, dims: int, allow_none: bool) -> None:
    values = output_size if isinstance(output_size, tuple | list) else (output_size,)
    if isinstance(output_size, tuple | list) and len(values) not in (1, dims):
        raise ValueError(
            f"output_size must be an int or a {dims}-tuple, got output_size={output_size!r}"
        )
    for value in values:
        if value is None and allow_none:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(
                f"output_size must hold non-negative ints{' or None' if allow_none else ''}, "
                f"got output_size={output_size!r}"
            )


class _AdaptivePoolNd(Module):
    _dims: int
    _function: Any

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        _check_output_size(output_size, self._dims, allow_none=self._dims > 1)
        self.output_size = output_size

    def forward(self, input: Tensor) -> Any:
        return self._function(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


_ADAPTIVE_DOC = """{d}-D adaptive {kind} pooling: windows chosen so the output has ``output_size``.

    Bin j of a dimension covers [floor(j i / o), ceil((j + 1) i / o)); bins may overlap.

    Args:
        output_size: int or {d}-tuple{none}.{indices}

    Shape:
        - Input: (N, C, {spatial}) or (C, {spatial}).
        - Output: (N, C, *output_size).
    """
_NONE_DOC = " (None keeps that input size)"
_INDICES_DOC = "\n        return_indices: also return the flat index of each maximum."


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    __doc__ = _ADAPTIVE_DOC.format(d=1, kind="average", spatial="L", none="", indices="")
    _dims = 1
    _function = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    __doc__ = _ADAPTIVE_DOC.format(d=2, kind="average", spatial="H, W", none=_NONE_DOC, indices="")
    _dims = 2
    _function = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    __doc__ = _ADAPTIVE_DOC.format(
        d=3, kind="average", spatial="D, H, W", none=_NONE_DOC, indices=""
    )
    _dims = 3
    _function = staticmethod(F.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return self._function(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    __doc__ = _ADAPTIVE_DOC.format(d=1, kind="max", spatial="L", none="", indices=_INDICES_DOC)
    _dims = 1
    _function = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    __doc__ = _ADAPTIVE_DOC.format(
        d=2, kind="max", spatial="H, W", none=_NONE_DOC, indices=_INDICES_DOC
    )
    _dims = 2
    _function = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    __doc__ = _ADAPTIVE_DOC.format(
        d=3, kind="max", spatial="D, H, W", none=_NONE_DOC, indices=_INDICES_DOC
    )
    _dims = 3
    _function = staticmethod(F.adaptive_max_pool3d)


class _MaxUnpoolNd(Module):
    _dims: int
    _function: Any

    def __init__(
        self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None, padding: IntOrTuple = 0
    ) -> None:
        super().__init__()
        d = self._dims
        self.kernel_size = positive_tuple(kernel_size, d, "kernel_size")
        self.stride = positive_tuple(stride if stride is not None else kernel_size, d, "stride")
        self.padding = ntuple(padding, d, "padding")
        if any(p < 0 for p in self.padding):
            raise ValueError(f"padding must be non-negative, got padding={padding!r}")

    def forward(
        self, input: Tensor, indices: Tensor, output_size: tuple[int, ...] | None = None
    ) -> Tensor:
        """Args: input; indices from ``MaxPool{d}d(return_indices=True)``; output_size."""
        return self._function(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


_UNPOOL_DOC = """Partial inverse of ``MaxPool{d}d``: each value goes back to the position its
    index names; everything else is zero.

    Args:
        kernel_size: the pooling's window size.
        stride: the pooling's stride. Default: ``kernel_size``.
        padding: the pooling's padding. Default: 0.

    Shape:
        - Input: (N, C, {spatial}) or (C, {spatial}), with indices of the same shape.
        - Output: each size (i - 1) s - 2p + k, or ``output_size`` given to forward.
    """


class MaxUnpool1d(_MaxUnpoolNd):
    __doc__ = _UNPOOL_DOC.format(d=1, spatial="L")
    _dims = 1
    _function = staticmethod(F.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    __doc__ = _UNPOOL_DOC.format(d=2, spatial="H, W")
    _dims = 2
    _function = staticmethod(F.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    __doc__ = _UNPOOL_DOC.format(d=3, spatial="D, H, W")
    _dims = 3
    _function = staticmethod(F.max_unpool3d)
