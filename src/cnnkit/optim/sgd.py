"""Stochastic gradient descent with momentum, torch's single-tensor update rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnkit.optim.optimizer import Optimizer, ParamsT, fused_multiply_add

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Per step, with g the gradient (negated if ``maximize``)::

        g ← g + weight_decay · θ
        b ← g on the first step, else momentum · b + (1 - dampening) · g
        g ← g + momentum · b if nesterov, else b        (only when momentum ≠ 0)
        θ ← θ - lr · g

    The float32 arithmetic runs in torch's order (``foreach=False``), so trajectories match.

    Args:
        params: Tensors or parameter-group dicts (see ``Optimizer``).
        lr: learning rate, >= 0.
        momentum: momentum factor, >= 0.
        dampening: dampening of the momentum.
        weight_decay: L2 penalty, >= 0.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> optimizer.zero_grad(); loss.backward(); optimizer.step()
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: lr={lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: momentum={momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening, got "
                f"momentum={momentum}, dampening={dampening}"
            )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._begin_step(closure)
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            weight_decay, dampening = group["weight_decay"], group["dampening"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = -param.grad if group["maximize"] else param.grad
                if weight_decay != 0:
                    grad = fused_multiply_add(grad, weight_decay, param.data)
                if momentum != 0:
                    state = self.state.setdefault(param, {})
                    buffer = state.get("momentum_buffer")
                    if buffer is None:
                        buffer = state["momentum_buffer"] = grad.copy()
                    else:
                        buffer *= buffer.dtype.type(momentum)
                        fused_multiply_add(buffer, 1 - dampening, grad, out=buffer)
                    if group["nesterov"]:
                        grad = fused_multiply_add(grad, momentum, buffer)
                    else:
                        grad = buffer
                fused_multiply_add(param.data, -lr, grad, out=param.data)
        return loss
