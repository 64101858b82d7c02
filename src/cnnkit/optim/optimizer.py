"""The ``Optimizer`` base class: parameter groups, per-parameter state, checkpointing.

Subclasses implement ``step``. State and ``state_dict`` follow torch's layout, so a training
loop can checkpoint an optimizer and resume it bit-exactly::

    {"state": {0: {"momentum_buffer": ndarray}, ...},
     "param_groups": [{"lr": 0.1, ..., "params": [0, 1, 2]}, ...]}

Parameters are numbered in the order they appear across the groups.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from cnnkit.tensor import Tensor, enable_grad

__all__ = ["Optimizer"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


# Elements per block of the float32 fused multiply-add: its float64 scratch (256 KiB) stays in
# the L2 cache, which keeps the emulation within about 2x of a plain float32 multiply-add.
_FMA_BLOCK = 1 << 15


def fused_multiply_add(
    addend: np.ndarray,
    factor: float | np.ndarray,
    multiplicand: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``addend + factor * multiplicand`` rounded once, as torch's vectorised CPU kernels do it.

    The arrays share one shape and dtype. A scalar ``factor`` is first rounded to that dtype
    (torch casts it the same way). For float32 the product of two float32 values is exact in
    float64, so computing there and rounding once reproduces the fused multiply-add; float64
    arrays use the plain expression. ``out`` may be one of the inputs (in-place update).
    """
    dtype = addend.dtype
    scalar = np.isscalar(factor)
    if scalar:
        factor = dtype.type(factor)
    if out is None:
        out = np.empty(addend.shape, dtype)
    if dtype != np.float32:
        out[...] = addend + factor * multiplicand
        return out
    if not out.flags.c_contiguous:
        out[...] = fused_multiply_add(addend, factor, multiplicand)
        return out
    flat_out, flat_addend, flat_multiplicand = (a.reshape(-1) for a in (out, addend, multiplicand))
    flat_factor = factor if scalar else factor.reshape(-1)
    scratch = np.empty(min(_FMA_BLOCK, out.size), np.float64)
    for start in range(0, out.size, _FMA_BLOCK):
        block = slice(start, start + _FMA_BLOCK)
        product = scratch[: min(_FMA_BLOCK, out.size - start)]
        block_factor = flat_factor if scalar else flat_factor[block]
        # dtype=float64 makes NumPy multiply in float64, not multiply in float32 and widen.
        np.multiply(block_factor, flat_multiplicand[block], out=product, dtype=np.float64)
        product += flat_addend[block]
        flat_out[block] = product
    return out


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, or of dicts each holding ``"params"`` (an iterable of
            Tensors) and options that override ``defaults`` for that group.
        defaults: default options (``lr``, ...) for every parameter group.

    Example:
        >>> optimizer = SGD([{"params": body.parameters()},
        ...                  {"params": head.parameters(), "lr": 1e-2}], lr=1e-3, momentum=0.9)
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.steps_taken = 0  # lets a scheduler warn when it is stepped first
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones take ``defaults``).

        Args:
            param_group: ``{"params": iterable of Tensors, option: value, ...}``.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set | frozenset):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs; use a list"
            )
        params = [params] if isinstance(params, Tensor) else list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is "
                    f"{type(param).__name__}"
                )
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **param_group, "params": params}
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters.

        Args:
            set_to_none: set ``.grad`` to ``None`` (the default, cheaper) instead of zeroing it.
        """
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        raise NotImplementedError

    def _begin_step(self, closure: Callable[[], Any] | None) -> Any:
        """Count the step and evaluate ``closure`` (with gradients enabled), if given."""
        self.steps_taken += 1
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # --- checkpointing -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A copy of the optimizer's state, parameters replaced by their index.

        Returns ``{"state": {index: {name: ndarray, ...}}, "param_groups": [{..., "params":
        [indices]}]}``; arrays are copies, so later steps do not change a saved dict.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index_of[id(param)]: {key: _copy_value(value) for key, value in values.items()}
            for param, values in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a ``state_dict()``: group options and per-parameter state (copied).

        Floating-point state arrays take their parameter's dtype, except ``step``.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, the optimizer has "
                f"{len(self.param_groups)}"
            )
        for index, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"loaded state dict's parameter group {index} has {len(saved['params'])} "
                    f"parameters, the optimizer's has {len(group['params'])}"
                )
        param_of = {
            saved_index: param
            for saved, group in zip(saved_groups, self.param_groups, strict=True)
            for saved_index, param in zip(saved["params"], group["params"], strict=True)
        }
        self.state = {}
        for saved_index, values in state_dict["state"].items():
            param = param_of.get(int(saved_index))
            if param is None:
                continue
            self.state[param] = {
                key: _copy_value(value, None if key == "step" else param.dtype)
                for key, value in values.items()
            }
        self.param_groups = [
            {
                **copy.deepcopy({k: v for k, v in saved.items() if k != "params"}),
                "params": group["params"],
            }
            for saved, group in zip(saved_groups, self.param_groups, strict=True)
        ]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        lines.append(")")
        return "\n".join(lines)


def _copy_value(value: Any, dtype: np.dtype | None = None) -> Any:
    if isinstance(value, np.ndarray):
        if dtype is not None and np.issubdtype(value.dtype, np.floating):
            return value.astype(dtype, copy=True)
        return value.copy()
    return copy.deepcopy(value)
