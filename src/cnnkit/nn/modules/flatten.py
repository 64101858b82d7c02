"""``Flatten`` and ``Unflatten``: reshape layers."""

from __future__ import annotations

import math
from collections.abc import Sequence

from cnnkit import ops
from cnnkit.nn.modules.module import Module
from cnnkit.tensor import Tensor

__all__ = ["Flatten", "Unflatten"]


def _axis(dim: int, ndim: int, name: str, input: Tensor) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"{name}={dim} is out of range for input of shape {tuple(input.shape)} "
            f"(expected to be in range of [{-ndim}, {ndim - 1}])"
        )
    return dim % ndim


class Flatten(Module):
    """Merge dimensions ``start_dim`` .. ``end_dim`` into one.

    Args:
        start_dim: first dimension to flatten. Default: 1 (keeps the batch).
        end_dim: last dimension to flatten. Default: -1.

    Shape:
        - Input: (*, S_start, ..., S_end, *).
        - Output: (*, S_start * ... * S_end, *).

    Example:
        >>> import numpy as np
        >>> import cnnkit
        >>> from cnnkit import nn
        >>> nn.Flatten()(cnnkit.tensor(np.zeros((32, 1, 5, 5), np.float32))).shape
        (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        ndim = max(input.ndim, 1)
        start = _axis(self.start_dim, ndim, "start_dim", input)
        end = _axis(self.end_dim, ndim, "end_dim", input)
        if start > end:
            raise ValueError(
                f"flatten() has invalid args: start_dim={self.start_dim} cannot come after "
                f"end_dim={self.end_dim} for input of shape {tuple(input.shape)}"
            )
        return ops.flatten(input, start, end)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (one entry may be -1).

    Args:
        dim: dimension to split.
        unflattened_size: the new shape of that dimension.

    Shape:
        - Input: (*, S_dim, *).
        - Output: (*, *unflattened_size, *).
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, Sequence) or not all(
            isinstance(size, int) and not isinstance(size, bool) for size in unflattened_size
        ):
            raise TypeError(f"unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        axis = _axis(self.dim, input.ndim, "dim", input)
        sizes = list(self.unflattened_size)
        if sizes.count(-1) == 1:
            known = math.prod(size for size in sizes if size != -1)
            if known > 0 and input.shape[axis] % known == 0:
                sizes[sizes.index(-1)] = input.shape[axis] // known
        if any(size < 0 for size in sizes) or math.prod(sizes) != input.shape[axis]:
            raise ValueError(
                f"unflattened_size={self.unflattened_size} does not match size "
                f"{input.shape[axis]} of dimension {self.dim} of input of shape "
                f"{tuple(input.shape)}"
            )
        return ops.reshape(input, input.shape[:axis] + tuple(sizes) + input.shape[axis + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
