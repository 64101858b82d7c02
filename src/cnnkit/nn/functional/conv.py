"""The functional API for convolution, transposed convolution, unfold and fold.

Each function checks its arguments like PyTorch does (raising a ValueError/TypeError that names
the bad argument and its value), turns padding strings into explicit (before, after) amounts,
then calls the N-d op in ``cnnkit.ops.conv``.
"""

from __future__ import annotations

import math
from typing import Any

from cnnkit.arithmetic.shapes import (
    conv_output_size,
    conv_transpose_output_size,
    same_padding,
)
from cnnkit.nn._checks import (
    check_floating,
    non_negative_tuple,
    positive_tuple,
    to_tensor,
)
from cnnkit.ops.conv import conv as conv_op
from cnnkit.ops.conv import conv_transpose as conv_transpose_op
from cnnkit.ops.conv import fold as fold_op
from cnnkit.ops.conv import unfold as unfold_op
from cnnkit.tensor import Tensor

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "fold",
    "unfold",
]

IntOrTuple = int | tuple[int, ...]


# --- shared checks ----------------------------------------------------------------------------
def _check_groups(groups: Any) -> int:
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"groups must be an int, got {groups!r}")
    if groups <= 0:
        raise ValueError(f"groups must be a positive integer, got groups={groups}")
    return groups


def _check_tensors(
    what: str, input: Any, weight: Any, bias: Any, d: int
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Type, dtype and rank checks shared by convolution and transposed convolution."""
    input, weight = to_tensor(input, "input"), to_tensor(weight, "weight")
    # the dtype kind first: check_floating's np.issubdtype costs ~2 us, twice per call
    if input.dtype.kind != "f":
        check_floating(input, "input")
    if weight.dtype.kind != "f":
        check_floating(weight, "weight")
    if input.dtype != weight.dtype:
        raise TypeError(
            f"{what}: input dtype {input.dtype} and weight dtype {weight.dtype} must match"
        )
    if weight.ndim != d + 2:
        raise ValueError(
            f"{what}: expected weight to be {d + 2}-D, got {weight.ndim}-D with shape "
            f"{tuple(weight.shape)}"
        )
    if input.ndim not in (d + 1, d + 2):
        raise ValueError(
            f"{what}: expected input to be {d + 1}-D (unbatched) or {d + 2}-D (batched), got "
            f"{input.ndim}-D with shape {tuple(input.shape)}"
        )
    if any(k <= 0 for k in weight.shape):
        raise ValueError(
            f"{what}: weight must have positive sizes (kernel_size and channels), got shape "
            f"{tuple(weight.shape)}"
        )
    if bias is not None:
        bias = to_tensor(bias, "bias")
        if bias.dtype != input.dtype:
            raise TypeError(f"{what}: bias dtype {bias.dtype} must match input dtype {input.dtype}")
    return input, weight, bias


def _check_bias(what: str, bias: Tensor | None, out_channels: int) -> None:
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(
            f"{what}: expected bias of shape ({out_channels},) (out_channels), got "
            f"{tuple(bias.shape)}"
        )


def _check_output_size(what: str, input_size: Any, output_size: tuple[int, ...]) -> None:
    if any(o <= 0 for o in output_size):
        raise ValueError(
            f"{what}: input too small: spatial size {tuple(input_size)} gives output size "
            f"{output_size}; the (dilated) kernel does not fit into the padded input"
        )


def _spatial(input: Tensor, d: int) -> tuple[int, ...]:
    return tuple(input.shape[-d:])


# --- convolution ------------------------------------------------------------------------------
def _conv_padding(
    what: str,
    padding: Any,
    d: int,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> list[tuple[int, int]]:
    """(before, after) zero padding per spatial dim from an int, a tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"{what}: padding='same' is not supported for strided convolutions, got "
                    f"stride={stride}"
                )
            return [same_padding(k, dl) for k, dl in zip(kernel, dilation, strict=True)]
        raise ValueError(
            f"{what}: padding must be an int, a tuple of ints, 'valid' or 'same', got "
            f"padding={padding!r}"
        )
    return [(p, p) for p in non_negative_tuple(padding, d, "padding")]


# Checked hyperparameters of recent calls, keyed by kernel size and the identities of the
# argument objects (a layer passes the same tuples every call). The entry keeps those objects
# alive, so their ids cannot be reused while it exists; a hit needs the very same objects.
_checked_arguments: dict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
_CHECKED_ARGUMENTS_SIZE = 256
_IMMUTABLE = (int, str, tuple)


def _conv_arguments(
    what: str,
    d: int,
    kernel: tuple[int, ...],
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
) -> tuple[Any, ...]:
    """Checked (stride, (before, after) padding, dilation, groups); memoised by identity."""
    arguments = (stride, padding, dilation, groups)
    key = (d, kernel, *map(id, arguments))
    entry = _checked_arguments.get(key)
    if entry is not None and all(a is b for a, b in zip(entry[0], arguments, strict=True)):
        return entry[1]
    stride = positive_tuple(stride, d, "stride")
    dilation = positive_tuple(dilation, d, "dilation")
    groups = _check_groups(groups)
    pads = tuple(_conv_padding(what, padding, d, kernel, stride, dilation))
    if all(type(a) in _IMMUTABLE for a in arguments):  # a list could change under its id
        if len(_checked_arguments) >= _CHECKED_ARGUMENTS_SIZE:
            _checked_arguments.clear()
        _checked_arguments[key] = (arguments, (stride, pads, dilation, groups))
    return stride, pads, dilation, groups


def _conv(
    d: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
) -> Tensor:
    what = f"conv{d}d"
    input, weight, bias = _check_tensors(what, input, weight, bias, d)
    out_channels, in_per_group, *kernel = weight.shape
    kernel = tuple(kernel)
    stride, pads, dilation, groups = _conv_arguments(
        what, d, kernel, stride, padding, dilation, groups
    )
    in_channels = input.shape[-d - 1]
    if out_channels % groups:
        raise ValueError(
            f"{what}: out_channels (weight.shape[0]={out_channels}) must be divisible by "
            f"groups={groups}"
        )
    if in_channels != in_per_group * groups:
        raise ValueError(
            f"{what}: input has {in_channels} channels but weight of shape "
            f"{tuple(weight.shape)} with groups={groups} expects {in_per_group * groups} "
            f"(weight.shape[1] * groups)"
        )
    _check_bias(what, bias, out_channels)
    input_size = _spatial(input, d)
    output_size = tuple(
        conv_output_size(i + b + a, k, s, 0, dl)
        for i, (b, a), k, s, dl in zip(input_size, pads, kernel, stride, dilation, strict=True)
    )
    _check_output_size(what, input_size, output_size)
    return conv_op(input, weight, bias, stride, pads, dilation, groups)


def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation) over an input of several channels.

    Args:
        input: (N, C_in, L) or unbatched (C_in, L).
        weight: (C_out, C_in / groups, k).
        bias: (C_out,) or None.
        stride, dilation: int or 1-tuple, positive.
        padding: int or 1-tuple (zeros on both sides), 'valid' (none) or 'same' (output
            length = input length; stride must be 1; an odd total puts the extra on the right).
        groups: split the channels into this many independent groups.

    Shape:
        output (N, C_out, L_out), L_out = floor((L + 2p - d(k - 1) - 1) / s) + 1.

    Example:
        >>> conv1d(np.ones((1, 2, 5), np.float32), np.ones((3, 2, 3), np.float32)).shape
        (1, 3, 3)
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation) over an image of several channels.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_out, C_in / groups, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: int or (sH, sW), positive.
        padding: int or (pH, pW) zeros on both sides, 'valid' or 'same' (stride 1 only; for
            even kernels the extra row/column goes to the bottom/right, as in PyTorch).
        groups: channel groups; groups = C_in is a depthwise convolution.

    Shape:
        output (N, C_out, H_out, W_out), H_out = floor((H + 2pH - dH(kH - 1) - 1) / sH) + 1.

    Example:
        >>> x = np.random.default_rng(0).standard_normal((8, 3, 32, 32)).astype(np.float32)
        >>> w = np.random.default_rng(1).standard_normal((16, 3, 3, 3)).astype(np.float32)
        >>> conv2d(x, w, padding=1).shape
        (8, 16, 32, 32)
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple | str = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """3-D convolution (cross-correlation) over a volume of several channels.

    Args:
        input: (N, C_in, D, H, W) or unbatched (C_in, D, H, W).
        weight: (C_out, C_in / groups, kD, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: int or 3-tuple, positive.
        padding: int, 3-tuple, 'valid' or 'same' (stride 1 only).
        groups: channel groups.

    Shape:
        output (N, C_out, D_out, H_out, W_out), each size by the conv2d rule.

    Example:
        >>> conv3d(np.ones((1, 1, 4, 4, 4), np.float32), np.ones((2, 1, 3, 3, 3), np.float32),
        ...        padding="same").shape
        (1, 2, 4, 4, 4)
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


# --- transposed convolution -------------------------------------------------------------------
def _conv_transpose(
    d: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: Any,
    dilation: Any,
) -> Tensor:
    what = f"conv_transpose{d}d"
    input, weight, bias = _check_tensors(what, input, weight, bias, d)
    stride = positive_tuple(stride, d, "stride")
    dilation = positive_tuple(dilation, d, "dilation")
    padding = non_negative_tuple(padding, d, "padding")
    output_padding = non_negative_tuple(output_padding, d, "output_padding")
    groups = _check_groups(groups)
    weight_in, out_per_group, *kernel = weight.shape
    in_channels = input.shape[-d - 1]
    if weight_in % groups:
        raise ValueError(
            f"{what}: in_channels (weight.shape[0]={weight_in}) must be divisible by "
            f"groups={groups}"
        )
    if in_channels != weight_in:
        raise ValueError(
            f"{what}: input has {in_channels} channels but weight of shape "
            f"{tuple(weight.shape)} expects {weight_in} (weight.shape[0])"
        )
    for op, s, dl in zip(output_padding, stride, dilation, strict=True):
        if op >= s and op >= dl:
            raise ValueError(
                f"{what}: output_padding must be smaller than either stride or dilation, got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
    _check_bias(what, bias, out_per_group * groups)
    input_size = _spatial(input, d)
    output_size = tuple(
        conv_transpose_output_size(i, k, s, p, op, dl)
        for i, k, s, p, op, dl in zip(
            input_size, kernel, stride, padding, output_padding, dilation, strict=True
        )
    )
    _check_output_size(what, input_size, output_size)
    return conv_transpose_op(input, weight, bias, stride, padding, output_padding, dilation, groups)


def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """1-D transposed convolution ("deconvolution"): the gradient of conv1d w.r.t. its input.

    Args:
        input: (N, C_in, L) or unbatched (C_in, L).
        weight: (C_in, C_out / groups, k).
        bias: (C_out,) or None.
        stride, dilation: int or 1-tuple, positive.
        padding: int or 1-tuple; the output is cropped by this much on each side.
        output_padding: extra size on one side of the output (< stride or < dilation).
        groups: channel groups.

    Shape:
        output (N, C_out, L_out), L_out = (L - 1)s - 2p + d(k - 1) + output_padding + 1.

    Example:
        >>> conv_transpose1d(np.ones((1, 2, 4), np.float32), np.ones((2, 3, 3), np.float32),
        ...                  stride=2).shape
        (1, 3, 9)
    """
    return _conv_transpose(
        1, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """2-D transposed convolution: the gradient of conv2d w.r.t. its input.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_in, C_out / groups, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: int or pair, positive.
        padding: int or pair; the output is cropped by this much on each side.
        output_padding: int or pair added to the bottom/right of the output; each must be
            smaller than the stride or the dilation of its dim.
        groups: channel groups.

    Shape:
        output (N, C_out, H_out, W_out), H_out = (H - 1)sH - 2pH + dH(kH - 1) + opH + 1.

    Example:
        >>> conv_transpose2d(np.ones((1, 4, 5, 5), np.float32), np.ones((4, 2, 3, 3), np.float32),
        ...                  stride=2, padding=1, output_padding=1).shape
        (1, 2, 10, 10)
    """
    return _conv_transpose(
        2, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """3-D transposed convolution: the gradient of conv3d w.r.t. its input.

    Args:
        input: (N, C_in, D, H, W) or unbatched (C_in, D, H, W).
        weight: (C_in, C_out / groups, kD, kH, kW).
        bias: (C_out,) or None.
        stride, padding, output_padding, dilation: int or 3-tuple, as in conv_transpose2d.
        groups: channel groups.

    Shape:
        output (N, C_out, D_out, H_out, W_out), each size by the conv_transpose2d rule.

    Example:
        >>> conv_transpose3d(np.ones((1, 1, 2, 2, 2), np.float32),
        ...                  np.ones((1, 1, 2, 2, 2), np.float32), stride=2).shape
        (1, 1, 4, 4, 4)
    """
    return _conv_transpose(
        3, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


# --- unfold / fold ----------------------------------------------------------------------------
def _sliding_args(
    kernel_size: Any, dilation: Any, padding: Any, stride: Any
) -> tuple[tuple[int, ...], ...]:
    return (
        positive_tuple(kernel_size, 2, "kernel_size"),
        positive_tuple(dilation, 2, "dilation"),
        non_negative_tuple(padding, 2, "padding"),
        positive_tuple(stride, 2, "stride"),
    )


def _block_counts(
    what: str,
    input_size: tuple[int, ...],
    kernel_size: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[int, ...],
    stride: tuple[int, ...],
) -> tuple[int, ...]:
    counts = tuple(
        conv_output_size(i, k, s, p, dl)
        for i, k, s, p, dl in zip(input_size, kernel_size, stride, padding, dilation, strict=True)
    )
    _check_output_size(what, input_size, counts)
    return counts


def unfold(
    input: Any,
    kernel_size: IntOrTuple,
    dilation: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    stride: IntOrTuple = 1,
) -> Tensor:
    """Extract sliding blocks (im2col): every kernel window becomes a column.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        kernel_size, dilation, stride: int or pair, positive.
        padding: int or pair, zeros on both sides.

    Shape:
        output (N, C * kH * kW, L), L = H_out * W_out with the conv2d output-size rule; rows are
        ordered channel-major, then kernel row, then kernel column.

    Example:
        >>> unfold(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), 2).shape
        (1, 4, 9)
    """
    input = to_tensor(input, "input")
    check_floating(input, "input")
    if input.ndim not in (3, 4):
        raise ValueError(
            f"unfold: expected input to be 3-D (unbatched) or 4-D (batched), got {input.ndim}-D "
            f"with shape {tuple(input.shape)}"
        )
    kernel_size, dilation, padding, stride = _sliding_args(kernel_size, dilation, padding, stride)
    _block_counts("unfold", _spatial(input, 2), kernel_size, dilation, padding, stride)
    return unfold_op(input, kernel_size, dilation, padding, stride)


def fold(
    input: Any,
    output_size: IntOrTuple,
    kernel_size: IntOrTuple,
    dilation: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    stride: IntOrTuple = 1,
) -> Tensor:
    """Combine sliding blocks into an image (col2im), summing where blocks overlap.

    The adjoint of ``unfold``: ``fold(unfold(x))`` multiplies each pixel by the number of
    blocks that cover it.

    Args:
        input: (N, C * kH * kW, L) or unbatched (C * kH * kW, L).
        output_size: (H, W) of the image, int or pair.
        kernel_size, dilation, stride: int or pair, positive.
        padding: int or pair; the blocks live on the zero-padded image.

    Shape:
        output (N, C, H, W); L must equal the number of blocks H_out * W_out.

    Example:
        >>> fold(np.ones((1, 4, 9), np.float32), (4, 4), 2).shape
        (1, 1, 4, 4)
    """
    input = to_tensor(input, "input")
    check_floating(input, "input")
    if input.ndim not in (2, 3):
        raise ValueError(
            f"fold: expected input to be 2-D (unbatched) or 3-D (batched), got {input.ndim}-D "
            f"with shape {tuple(input.shape)}"
        )
    output_size = positive_tuple(output_size, 2, "output_size")
    kernel_size, dilation, padding, stride = _sliding_args(kernel_size, dilation, padding, stride)
    rows, blocks = input.shape[-2:]
    window = math.prod(kernel_size)
    if rows % window:
        raise ValueError(
            f"fold: expected input.shape[-2]={rows} to be divisible by the product of "
            f"kernel_size={kernel_size} ({window})"
        )
    counts = _block_counts("fold", output_size, kernel_size, dilation, padding, stride)
    if blocks != math.prod(counts):
        raise ValueError(
            f"fold: expected input.shape[-1]={blocks} to equal the number of sliding blocks "
            f"{math.prod(counts)} ({' x '.join(map(str, counts))}) for output_size={output_size}, "
            f"kernel_size={kernel_size}, dilation={dilation}, padding={padding}, stride={stride}"
        )
    return fold_op(input, output_size, kernel_size, dilation, padding, stride)
