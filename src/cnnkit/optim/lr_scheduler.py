"""Learning-rate schedules with torch's exact sequences of learning rates.

A scheduler is created after its optimizer and stepped once per epoch (or per batch for
``OneCycleLR``), after ``optimizer.step()``. Creating it performs step 0: it records each
group's ``initial_lr`` and sets the group's ``lr`` to the schedule's first value.
``CosineAnnealingLR`` uses torch's recursive form (each lr computed from the previous one), so
the floating-point sequence is the same as torch's, not only the formula.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Literal

from cnnkit.nn._checks import positive_int
from cnnkit.optim.optimizer import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "LRScheduler",
    "LambdaLR",
    "MultiStepLR",
    "OneCycleLR",
    "StepLR",
]


class LRScheduler:
    """Base class: holds ``last_epoch`` and writes ``get_lr()`` into the optimizer's groups.

    Args:
        optimizer: the optimizer whose ``lr`` is scheduled.
        last_epoch: index of the last epoch; -1 starts a new schedule. Resuming with a value
            >= 0 needs ``initial_lr`` in every group (prefer ``load_state_dict``).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{index}] when "
                        f"resuming a scheduler with last_epoch={last_epoch}"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of each group for the current ``last_epoch``."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the latest ``step()``, one per parameter group."""
        return self._last_lr

    def step(self) -> None:
        """Advance one epoch and set every group's ``lr``. Call it after ``optimizer.step()``."""
        if self._step_count == 1 and self.optimizer.steps_taken == 0:
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`: call them in "
                "the opposite order, or the first value of the learning rate schedule is skipped.",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Everything the schedule needs to resume, except the optimizer."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a ``state_dict()``."""
        self.__dict__.update(state_dict)

    def _group_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


def _per_group(value: Any, name: str, optimizer: Optimizer) -> list[Any]:
    """One value per parameter group: a list of that length, or a scalar repeated."""
    if isinstance(value, list | tuple):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. {name} has "
                f"{len(value)} values, param_groups has {len(optimizer.param_groups)}."
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


class LambdaLR(LRScheduler):
    """lr = initial_lr · lr_lambda(epoch).

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the epoch, or a list with one per parameter group.
        last_epoch: index of the last epoch (-1 to start).

    Example:
        >>> scheduler = LambdaLR(optimizer, lambda epoch: 0.95**epoch)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        self.lr_lambdas: list[Callable[[int], float]] = _per_group(
            lr_lambda, "lr_lambda", optimizer
        )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            base_lr * lr_lambda(self.last_epoch)
            for lr_lambda, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]

    def state_dict(self) -> dict[str, Any]:
        """As ``LRScheduler.state_dict``, without the (unpicklable) functions."""
        state = super().state_dict()
        del state["lr_lambdas"]
        return state


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs.

    Args:
        optimizer: the optimizer.
        step_size: epochs between decays, > 0.
        gamma: multiplicative factor.
        last_epoch: index of the last epoch (-1 to start).

    Example:
        >>> scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch in ``milestones`` (repeats count twice).

    Args:
        optimizer: the optimizer.
        milestones: epoch indices.
        gamma: multiplicative factor.
        last_epoch: index of the last epoch (-1 to start).

    Example:
        >>> scheduler = MultiStepLR(optimizer, milestones=[30, 80], gamma=0.1)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a ``state_dict()``, also one that went through JSON (string keys)."""
        super().load_state_dict(state_dict)
        self.milestones = Counter({int(k): count for k, count in self.milestones.items()})

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._group_lrs()]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from initial_lr to ``eta_min`` over ``T_max`` epochs (then back up).

    Follows torch's recursive form: each lr is computed from the group's current lr, so it
    also composes with changes made to ``lr`` by other code between steps.

    Args:
        optimizer: the optimizer.
        T_max: half period in epochs, > 0.
        eta_min: minimum learning rate.
        last_epoch: index of the last epoch (-1 to start).

    Example:
        >>> scheduler = CosineAnnealingLR(optimizer, T_max=100)
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = positive_int(T_max, "T_max")
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch, period, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_lrs()
        if self._step_count == 1 and epoch > 0:
            return [
                eta_min + (base_lr - eta_min) * (1 + math.cos(epoch * math.pi / period)) / 2
                for base_lr in self.base_lrs
            ]
        if (epoch - 1 - period) % (2 * period) == 0:
            return [
                lr + (base_lr - eta_min) * (1 - math.cos(math.pi / period)) / 2
                for base_lr, lr in zip(self.base_lrs, self._group_lrs(), strict=True)
            ]
        return [
            (1 + math.cos(math.pi * epoch / period))
            / (1 + math.cos(math.pi * (epoch - 1) / period))
            * (lr - eta_min)
            + eta_min
            for lr in self._group_lrs()
        ]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin): warm up to ``max_lr``, then anneal far below start.

    Stepped once per batch. The lr goes from max_lr/div_factor up to max_lr over the first
    ``pct_start`` of the steps, then down to initial_lr/final_div_factor; ``three_phase`` comes
    back to initial_lr symmetrically before the final descent. With ``cycle_momentum`` the
    momentum (SGD ``momentum`` or Adam ``betas[0]``) moves inversely between
    ``max_momentum`` and ``base_momentum``.

    Args:
        optimizer: the optimizer.
        max_lr: peak learning rate, or one per group.
        total_steps: number of steps; or give ``epochs`` and ``steps_per_epoch``.
        epochs: number of epochs.
        steps_per_epoch: steps per epoch.
        pct_start: fraction of the cycle spent increasing the lr, in [0, 1].
        anneal_strategy: ``'cos'`` or ``'linear'``.
        cycle_momentum: cycle the momentum inversely to the lr.
        base_momentum: lowest momentum (at the lr peak), or one per group.
        max_momentum: highest momentum, or one per group.
        div_factor: initial_lr = max_lr / div_factor.
        final_div_factor: min_lr = initial_lr / final_div_factor.
        three_phase: use the three-phase schedule of fastai.
        last_epoch: index of the last step (-1 to start).

    Example:
        >>> scheduler = OneCycleLR(optimizer, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if total_steps is not None:
            self.total_steps = positive_int(total_steps, "total_steps")
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = positive_int(epochs, "epochs") * positive_int(
                steps_per_epoch, "steps_per_epoch"
            )
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if isinstance(pct_start, bool) or not 0 <= pct_start <= 1:
            raise ValueError(f"pct_start must be a float between 0 and 1, got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self.anneal_strategy = anneal_strategy
        # Each phase ends at a (fractional) step and goes between two named group entries.
        warmup_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._phases = [
                (warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (
                    float(2 * pct_start * self.total_steps) - 2,
                    "max_lr",
                    "initial_lr",
                    "base_momentum",
                    "max_momentum",
                ),
                (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._phases = [
                (warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        max_lrs = _per_group(max_lr, "max_lr", optimizer)
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group(max_momentum, "max_momentum", optimizer)
            base_momentums = _per_group(base_momentum, "base_momentum", optimizer)
            if last_epoch == -1:
                for group, high, low in zip(
                    optimizer.param_groups, max_momentums, base_momentums, strict=True
                ):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, fraction: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return (end - start) * fraction + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"Tried to step {step} times. The specified number of total steps is "
                f"{self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for index, (end_step, lr_from, lr_to, momentum_from, momentum_to) in enumerate(
                self._phases
            ):
                if step <= end_step or index == len(self._phases) - 1:
                    fraction = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[lr_from], group[lr_to], fraction))
                    if self.cycle_momentum:
                        momentum = self._anneal(group[momentum_from], group[momentum_to], fraction)
                        self._set_momentum(group, momentum)
                    break
                start_step = end_step
        return lrs
