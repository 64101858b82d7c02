"""Gradient clipping and parameter flattening (``torch.nn.utils`` counterparts)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from cnnkit.tensor import Tensor

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together, in place, so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector. As in PyTorch,
    they are multiplied by min(1, max_norm / (total_norm + 1e-6)).

    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. ``model.parameters()``).
        max_norm: the largest allowed norm.
        norm_type: p of the p-norm; ``float("inf")`` for the largest absolute value.
        error_if_nonfinite: raise if the total norm is nan or inf.

    Returns:
        The total norm before clipping, as a 0-d Tensor.

    Example:
        >>> import numpy as np
        >>> import cnnkit
        >>> w = cnnkit.tensor(np.zeros(2, np.float32), requires_grad=True)
        >>> w.grad = np.array([3.0, 4.0], np.float32)
        >>> float(clip_grad_norm_([w], max_norm=1.0).item())
        5.0
        >>> [round(float(g), 4) for g in w.grad]
        [0.6, 0.8]
    """
    if max_norm < 0 or norm_type <= 0:
        raise ValueError(
            f"max_norm must be non-negative and norm_type positive, got max_norm={max_norm}, "
            f"norm_type={norm_type}"
        )
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor(np.array(0.0, np.float32))
    dtype = grads[0].dtype
    if norm_type == float("inf"):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        per_grad = [np.sum(np.abs(g.astype(np.float64)) ** norm_type) for g in grads]
        total = float(np.sum(per_grad)) ** (1.0 / norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coefficient = min(max_norm / (total + 1e-6), 1.0)
    for grad in grads:
        grad *= dtype.type(coefficient)
    return Tensor(np.array(total, dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    if clip_value < 0:
        raise ValueError(f"clip_value must be non-negative, got {clip_value}")
    for param in _as_list(parameters):
        if param.grad is not None:
            np.clip(param.grad, -clip_value, clip_value, out=param.grad)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameter values flattened and concatenated into one 1-D Tensor (a copy)."""
    arrays = [p.data.reshape(-1) for p in parameters]
    return Tensor(np.concatenate(arrays) if arrays else np.zeros(0, np.float32))


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"expected vec to be a 1-D Tensor, got {type(vec).__name__}")
    params = list(parameters)
    needed = sum(p.numel() for p in params)
    if vec.numel() != needed:
        raise ValueError(f"vec has {vec.numel()} elements but the parameters hold {needed}")
    offset = 0
    for param in params:
        param.data[...] = vec.data[offset : offset + param.numel()].reshape(param.shape)
        offset += param.numel()
