"""A transposed convolution as the direct convolution the paper draws (relationships 8-14).

Dumoulin & Visin: the transpose of a convolution with kernel ``k``, stride ``s``, padding ``p``
(and dilation ``d``) equals a *direct* convolution, stride 1, same kernel flipped, over the
transposed input "stretched" by ``s - 1`` zeros between its elements and zero padded by
``d(k-1) - p`` on each side, plus ``a`` (PyTorch's ``output_padding``) extra zeros at the bottom
and right. A negative padding means that many stretched elements are cropped instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnkit.arithmetic.shapes import conv_output_size, effective_kernel_size

__all__ = ["StretchedConvolution", "transposed_as_convolution", "transposed_output_padding"]


def transposed_output_padding(
    input_size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """The paper's ``a = (i + 2p - d(k-1) - 1) mod s`` (relationship 14).

    The ``output_padding`` with which ``conv_transpose2d`` maps the convolution's output back to
    exactly ``input_size``: ``s`` input sizes share one output size, ``a`` tells them apart.
    """
    return (input_size + 2 * padding - effective_kernel_size(kernel_size, dilation)) % stride


@dataclass(frozen=True)
class StretchedConvolution:
    """One axis of the direct convolution equivalent to a transposed one.

    Attributes:
        input_size, stride: of the transposed convolution: ``input_size`` elements, ``stride``
            apart in the stretched input.
        stretched_size: ``s(i'-1) + 1``, the input with ``s - 1`` zeros inserted between elements.
        padding_before: zeros before it (``d(k-1) - p``; negative: that many elements cropped).
        padding_after: zeros after it (``d(k-1) - p + output_padding``).
        kernel_size, dilation: of the equivalent convolution (stride 1, kernel flipped).
        output_size: its output size, equal to the transposed convolution's.
    """

    input_size: int
    stride: int
    stretched_size: int
    padding_before: int
    padding_after: int
    kernel_size: int
    dilation: int
    output_size: int

    @property
    def canvas_size(self) -> int:
        """Size of the padded, stretched input the kernel slides over."""
        return self.padding_before + self.stretched_size + self.padding_after

    def input_positions(self) -> np.ndarray:
        """Canvas position of each input element, shape ``(input_size,)``.

        Positions outside ``[0, canvas_size)`` belong to elements cropped by a negative padding.
        """
        return self.padding_before + self.stride * np.arange(self.input_size)


def transposed_as_convolution(
    input_size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> StretchedConvolution:
    """Describe ``conv_transpose`` along one axis as a stride-1 direct convolution.

    Args:
        input_size: ``i'``, the transposed convolution's input size.
        kernel_size, stride, padding, output_padding, dilation: as in ``F.conv_transpose2d``.

    Example:
        >>> transposed_as_convolution(2, 3)  # relationship 8: i'=2, k=3 -> o'=4
        StretchedConvolution(input_size=2, stride=1, stretched_size=2, padding_before=2,
        padding_after=2, kernel_size=3, dilation=1, output_size=4)
    """
    stretched_size = stride * (input_size - 1) + 1
    border = effective_kernel_size(kernel_size, dilation) - 1 - padding
    padding_after = border + output_padding
    canvas = stretched_size + border + padding_after
    return StretchedConvolution(
        input_size=input_size,
        stride=stride,
        stretched_size=stretched_size,
        padding_before=border,
        padding_after=padding_after,
        kernel_size=kernel_size,
        dilation=dilation,
        output_size=conv_output_size(canvas, kernel_size, 1, 0, dilation),
    )
