"""Convolution arithmetic: output sizes, receptive fields, convolution as a matrix."""

from cnnkit.arithmetic.conv_matrix import SparseMatrix, conv_matrix
from cnnkit.arithmetic.receptive_field import (
    LayerReceptiveField,
    ReceptiveFields,
    receptive_field,
)
from cnnkit.arithmetic.shapes import (
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel_size,
    pool_output_size,
    same_padding,
)
from cnnkit.arithmetic.transposed import (
    StretchedConvolution,
    transposed_as_convolution,
    transposed_output_padding,
)

__all__ = [
    "LayerReceptiveField",
    "ReceptiveFields",
    "SparseMatrix",
    "StretchedConvolution",
    "conv_matrix",
    "conv_output_size",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "pool_output_size",
    "receptive_field",
    "same_padding",
    "transposed_as_convolution",
    "transposed_output_padding",
]
