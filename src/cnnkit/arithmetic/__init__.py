"""Convolution arithmetic: output sizes, receptive fields, convolution as a matrix."""

from cnnkit.arithmetic.shapes import (
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel_size,
    pool_output_size,
    same_padding,
)

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "pool_output_size",
    "same_padding",
]
