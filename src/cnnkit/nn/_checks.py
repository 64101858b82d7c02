"""Argument checks for the API edge. Each raises a ValueError/TypeError naming the argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.tensor import Tensor


def to_tensor(value: Any, name: str = "input") -> Tensor:
    """Accept a Tensor or anything NumPy can turn into an array."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray | list | tuple | int | float):
        return Tensor(value)
    raise TypeError(f"{name} must be a Tensor or a NumPy array, got {type(value).__name__}")


def check_floating(value: Tensor, name: str = "input") -> None:
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point tensor, got dtype={value.dtype}")


def ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """Expand an int to ``n`` ints, or check a sequence has ``n`` ints."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    if isinstance(value, int | np.integer):
        return (int(value),) * n
    if isinstance(value, list | tuple) and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value
    ):
        if len(value) == 1:
            return (int(value[0]),) * n
        if len(value) == n:
            return tuple(int(v) for v in value)
    raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")
    return int(value)


def positive_tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    result = ntuple(value, n, name)
    if any(v <= 0 for v in result):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return result


def non_negative_tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    result = ntuple(value, n, name)
    if any(v < 0 for v in result):
        raise ValueError(f"{name} must be non-negative, got {value!r}")
    return result


def check_dim(dim: int, ndim: int, name: str = "dim") -> int:
    """``dim`` as a non-negative axis, or IndexError naming it (PyTorch raises IndexError)."""
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{name} must be an int, got {name}={dim!r}")
    low, high = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not low <= dim <= high:
        raise IndexError(
            f"{name}={dim} is out of range for a {ndim}-D tensor "
            f"(expected to be in range of [{low}, {high}])"
        )
    return int(dim) % ndim if ndim else 0


def check_ndim(value: Tensor, allowed: tuple[int, ...], what: str, name: str = "input") -> None:
    if value.ndim not in allowed:
        expected = " or ".join(f"{n}-D" for n in allowed)
        raise ValueError(
            f"{what}: expected {name} to be {expected}, got {value.ndim}-D with shape "
            f"{tuple(value.shape)}"
        )


def factory_dtype(device: Any, dtype: Any) -> np.dtype:
    """The dtype of a layer's new parameters: float32 unless ``dtype`` says otherwise.

    ``device`` exists for PyTorch signatures; only ``None`` and ``"cpu"`` are accepted.
    """
    if device not in (None, "cpu"):
        raise ValueError(f"device must be None or 'cpu' (cnnkit runs on the CPU), got {device!r}")
    if dtype is None:
        return np.dtype(np.float32)
    result = np.dtype(dtype)
    if not np.issubdtype(result, np.floating):
        raise TypeError(f"dtype must be a floating-point type, got {result}")
    return result


def probability(value: Any, name: str = "p") -> float:
    """A dropout probability in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not 0 <= value <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {name}={value}")
    return float(value)
