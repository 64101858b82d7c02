"""Output-size rules of convolution and pooling, per spatial dimension.

One rule each; the ops and ``cnnkit.nn.functional`` call these, nothing else re-derives them.
Symbols follow Dumoulin & Visin, "A guide to convolution arithmetic for deep learning":
``i`` input size, ``k`` kernel size, ``s`` stride, ``p`` padding (each side), ``d`` dilation.
"""

from __future__ import annotations


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Extent of a dilated kernel: d(k - 1) + 1 (relationship 15)."""
    return dilation * (kernel_size - 1) + 1


def conv_output_size(
    input_size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """o = floor((i + 2p - d(k-1) - 1) / s) + 1, the general convolution rule.

    Covers relationships 1-6 and 15 of the paper; may be <= 0 for an input that is too small
    (callers decide whether that is an error).
    """
    return (input_size + 2 * padding - effective_kernel_size(kernel_size, dilation)) // stride + 1


def conv_transpose_output_size(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """o' = (i' - 1)s - 2p + d(k-1) + output_padding + 1 (relationships 8-14).

    The transposed convolution of a convolution with input size ``o'`` when
    ``output_padding = (o' + 2p - d(k-1) - 1) mod s``.
    """
    return (
        (input_size - 1) * stride
        - 2 * padding
        + effective_kernel_size(kernel_size, dilation)
        + output_padding
    )


def pool_output_size(
    input_size: int,
    kernel_size: int,
    stride: int,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Pooling output size, PyTorch's rule.

    Floor mode is the convolution rule. In ceil mode the division rounds up, but a last window
    that would start in the right padding (or beyond) is dropped.
    """
    span = input_size + 2 * padding - effective_kernel_size(kernel_size, dilation)
    if not ceil_mode:
        return span // stride + 1
    output_size = -(-span // stride) + 1
    if (output_size - 1) * stride >= input_size + padding:
        output_size -= 1
    return output_size


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """(left, right) padding that keeps the size at stride 1: total d(k-1), left gets half.

    For even kernels the extra element goes on the right, as PyTorch does.
    """
    total = dilation * (kernel_size - 1)
    return total // 2, total - total // 2
