"""Tensor factories and the global random state (``torch.zeros``, ``torch.manual_seed`` ...).

Random numbers: the library has ONE NumPy ``Generator``. Everything random in cnnkit
(``randn``/``rand``/``randint``, ``nn.init``, dropout, ``DataLoader`` shuffling, augmentation)
draws from it, so ``cnnkit.manual_seed(seed)`` makes a whole run reproducible::

    from cnnkit.functions import get_generator

    noise = get_generator().standard_normal((2, 3), dtype=np.float32)

``manual_seed`` reseeds that same object in place, so a reference kept from ``get_generator()``
stays valid. The stream is NumPy's (PCG64), not PyTorch's: the same seed gives different
numbers than in torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnkit import ops
from cnnkit.nn._checks import check_dim
from cnnkit.tensor import Tensor

__all__ = [
    "arange",
    "cat",
    "chunk",
    "default_generator",
    "full",
    "full_like",
    "get_generator",
    "manual_seed",
    "maximum",
    "minimum",
    "ones",
    "ones_like",
    "rand",
    "randint",
    "randn",
    "seed",
    "split",
    "stack",
    "where",
    "zeros",
    "zeros_like",
]

_generator = np.random.default_rng()


def get_generator() -> np.random.Generator:
    """The library-wide ``np.random.Generator`` that every random function uses."""
    return _generator


# The name PyTorch users look for (``torch.default_generator``); same object as above.
default_generator = get_generator


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library-wide generator (in place) and return it.

    Example:
        >>> import cnnkit
        >>> _ = cnnkit.manual_seed(0)
        >>> a = cnnkit.randn(3)
        >>> _ = cnnkit.manual_seed(0)
        >>> bool((cnnkit.randn(3).numpy() == a.numpy()).all())
        True
    """
    _generator.bit_generator.state = np.random.PCG64(int(seed)).state
    return _generator


def seed() -> int:
    """Reseed the library-wide generator from OS entropy and return the seed used."""
    new_seed = int(np.random.SeedSequence().entropy % 2**63)
    manual_seed(new_seed)
    return new_seed


def _size(size: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``zeros(2, 3)``, ``zeros((2, 3))`` and ``zeros([2, 3])``."""
    if len(size) == 1 and isinstance(size[0], Sequence):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _float_dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.float32 if dtype is None else dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise).

    Example:
        >>> cnnkit.zeros(2, 3).shape
        (2, 3)
    """
    return Tensor(np.zeros(_size(size), _float_dtype(dtype)), requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 unless ``dtype`` says otherwise)."""
    return Tensor(np.ones(_size(size), _float_dtype(dtype)), requires_grad=requires_grad)


def full(
    size: Sequence[int],
    fill_value: bool | int | float,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value like ``torch.full``
    (bool, int64 or float32) unless ``dtype`` is given."""
    if dtype is None:
        dtype = Tensor(fill_value).dtype
    return Tensor(np.full(_size((size,)), fill_value, dtype), requires_grad=requires_grad)


def zeros_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and, unless given, the dtype) of ``input``."""
    return Tensor(np.zeros(input.shape, dtype or input.dtype), requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and, unless given, the dtype) of ``input``."""
    return Tensor(np.ones(input.shape, dtype or input.dtype), requires_grad=requires_grad)


def full_like(
    input: Tensor,
    fill_value: bool | int | float,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``fill_value`` with the shape (and, unless given, the dtype) of ``input``."""
    return Tensor(
        np.full(input.shape, fill_value, dtype or input.dtype), requires_grad=requires_grad
    )


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` by ``step``; int64 if all three are
    ints, else float32, like ``torch.arange``.

    Example:
        >>> cnnkit.arange(4).tolist()
        [0, 1, 2, 3]
    """
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, int | np.integer) for v in (start, end, step))
        dtype = np.int64 if integral else np.float32
    # Compute in float64 then cast, so float32 ranges have torch's length and values.
    count = max(int(np.ceil((end - start) / step)), 0)
    values = start + step * np.arange(count, dtype=np.float64)
    return Tensor(values.astype(dtype), requires_grad=requires_grad)


def randn(
    *size: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Standard normal samples from the library generator (or ``generator``)."""
    rng = generator or _generator
    values = rng.standard_normal(_size(size), dtype=_float_dtype(dtype))
    return Tensor(values, requires_grad=requires_grad)


def rand(
    *size: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Uniform samples in ``[0, 1)`` from the library generator (or ``generator``)."""
    rng = generator or _generator
    return Tensor(rng.random(_size(size), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def randint(
    low: int,
    high: int | Sequence[int] | None = None,
    size: Sequence[int] | None = None,
    *,
    dtype: Any = None,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Integers in ``[low, high)`` (int64); ``randint(high, size)`` starts at 0, like torch."""
    if size is None:
        low, high, size = 0, low, high
    rng = generator or _generator
    values = rng.integers(low, high, size=_size((size,)), dtype=np.int64)
    return Tensor(values if dtype is None else values.astype(dtype))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along an existing dimension ``dim`` (``torch.cat``).

    Shape:
        inputs equal except along ``dim``; output's ``dim`` is the sum of theirs.
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat expects a non-empty sequence of tensors, got tensors=[]")
    _check_same_ndim(tensors, "cat")
    axis = check_dim(dim, tensors[0].ndim)
    for i, t in enumerate(tensors[1:], 1):
        others = [s for j, s in enumerate(t.shape) if j != axis]
        first = [s for j, s in enumerate(tensors[0].shape) if j != axis]
        if others != first:
            raise ValueError(
                f"cat: sizes must match except in dimension {dim}; tensors[0] has shape "
                f"{tensors[0].shape}, tensors[{i}] has shape {t.shape}"
            )
    return ops.cat(tensors, axis)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension ``dim`` (``torch.stack``)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack expects a non-empty sequence of tensors, got tensors=[]")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise ValueError(
                f"stack expects each tensor to be equal size, but got {tensors[0].shape} at "
                f"entry 0 and {t.shape} at entry {i}"
            )
    axis = check_dim(dim, tensors[0].ndim + 1)
    return ops.stack(tensors, axis)


def split(
    tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of given sizes."""
    axis = check_dim(dim, tensor.ndim)
    if isinstance(split_size_or_sections, int | np.integer):
        if split_size_or_sections <= 0:
            raise ValueError(
                f"split_size must be positive, got split_size={split_size_or_sections}"
            )
    elif sum(split_size_or_sections) != tensor.shape[axis] or min(split_size_or_sections) < 0:
        raise ValueError(
            f"split_size_or_sections={list(split_size_or_sections)} must be non-negative and "
            f"sum to {tensor.shape[axis]}, the size of dimension {dim}"
        )
    return ops.split(tensor, split_size_or_sections, axis)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` equal pieces along ``dim`` (the last may be smaller)."""
    if chunks <= 0:
        raise ValueError(f"chunks must be positive, got chunks={chunks}")
    return ops.chunk(input, chunks, check_dim(dim, input.ndim))


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """``input`` where ``condition`` is true, else ``other``; all three broadcast."""
    return ops.where(condition, input, other)


def maximum(input: Tensor, other: Any) -> Tensor:
    """Elementwise maximum (broadcast); NaN propagates; ties share the gradient."""
    return ops.maximum(input, other)


def minimum(input: Tensor, other: Any) -> Tensor:
    """Elementwise minimum (broadcast); NaN propagates; ties share the gradient."""
    return ops.minimum(input, other)


def _check_same_ndim(tensors: list[Tensor], what: str) -> None:
    for i, t in enumerate(tensors):
        if t.ndim != tensors[0].ndim or t.ndim == 0:
            raise ValueError(
                f"{what}: tensors must have the same number of dimensions (at least 1); "
                f"tensors[0] has shape {tensors[0].shape}, tensors[{i}] has {t.shape}"
            )
