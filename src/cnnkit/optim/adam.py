"""Adam and AdamW, torch's single-tensor update rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnnkit.optim.optimizer import Optimizer, ParamsT, fused_multiply_add

__all__ = ["Adam", "AdamW"]


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """start ← start + weight · (end - start), rounded the way torch's CPU ``lerp_`` does."""
    weight = start.dtype.type(weight)
    difference = end - start
    if abs(weight) < 0.5:
        fused_multiply_add(start, weight, difference, out=start)
    else:
        fused_multiply_add(end, -(start.dtype.type(1) - weight), difference, out=start)


class Adam(Optimizer):
    """Adam (Kingma & Ba), optionally AMSGrad, with torch's exact arithmetic.

    Per step t, with g the gradient (negated if ``maximize``)::

        g ← g + weight_decay · θ          (Adam; AdamW instead does θ ← θ (1 - lr · weight_decay))
        m ← m + (1 - β1)(g - m)
        v ← β2 v + (1 - β2) g²
        v̂ ← max(v̂, v) if amsgrad else v
        θ ← θ - lr / (1 - β1ᵗ) · m / (√v̂ / √(1 - β2ᵗ) + eps)

    Every float32 operation runs in torch's order and rounding (``foreach=False``) except the
    square root: torch's comes from its vector library and is up to ~3 ulp from the correctly
    rounded one NumPy gives, so steps agree to ~1e-7 of ``lr`` rather than bit for bit.

    Args:
        params: Tensors or parameter-group dicts (see ``Optimizer``).
        lr: learning rate, >= 0.
        betas: (β1, β2), each in [0, 1).
        eps: added to the denominator, >= 0.
        weight_decay: L2 penalty, >= 0.
        amsgrad: use the running maximum of v (AMSGrad).
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> optimizer = Adam(model.parameters(), lr=1e-3)
    """

    _decoupled_weight_decay = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: lr={lr}")
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: eps={eps}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: betas[0]={betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: betas[1]={betas[1]}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: weight_decay={weight_decay}")
        defaults = {
            "lr": lr,
            "betas": (float(betas[0]), float(betas[1])),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._begin_step(closure)
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param.data, param.grad, self._state_of(param, group), group)
        return loss

    def _state_of(self, param: Any, group: dict[str, Any]) -> dict[str, np.ndarray]:
        state = self.state.setdefault(param, {})
        if not state:
            # ``step`` is a float32 scalar array, like torch's CPU step tensor.
            state["step"] = np.zeros((), dtype=np.float32)
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param.data)
        return state

    def _update(
        self,
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        group: dict[str, Any],
    ) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        weight_decay, eps = group["weight_decay"], group["eps"]
        if group["maximize"]:
            grad = -grad
        dtype = param.dtype.type
        state["step"] += 1
        if weight_decay != 0:
            if self._decoupled_weight_decay:
                param *= dtype(1 - lr * weight_decay)
            else:
                grad = fused_multiply_add(grad, weight_decay, param)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= dtype(beta2)
        fused_multiply_add(exp_avg_sq, dtype(1 - beta2) * grad, grad, out=exp_avg_sq)
        step = float(state["step"])
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if group["amsgrad"]:
            second_moment = state["max_exp_avg_sq"]
            np.maximum(second_moment, exp_avg_sq, out=second_moment)
        else:
            second_moment = exp_avg_sq
        denom = np.sqrt(second_moment)
        denom /= dtype(bias_correction2_sqrt)
        denom += dtype(eps)
        update = exp_avg * dtype(-step_size)
        update /= denom
        param += update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): θ ← θ (1 - lr · weight_decay)
    before the Adam step, instead of adding weight_decay · θ to the gradient.

    Args:
        params, lr, betas, eps, amsgrad, maximize: as ``Adam``.
        weight_decay: decoupled weight decay, >= 0 (default 1e-2).

    Example:
        >>> optimizer = AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
