"""``Module``: the base class of every layer, with PyTorch's registration and state_dict rules.

Assigning a ``Parameter``, a ``Module`` or (after ``register_buffer``) a buffer Tensor to an
attribute registers it in one of three ordered dicts. Everything else (``parameters()``,
``state_dict()``, ``train()``, ``repr``) walks those dicts in registration order, so the keys
and their order are exactly PyTorch's for the same architecture and a converted torch
``state_dict`` loads as is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from cnnkit.nn.parameter import Parameter
from cnnkit.tensor import Tensor

__all__ = ["Module"]


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: OrderedDict[int, Callable[..., Any]]) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: keys the model expected but did not get, and extras."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )


def _add_indent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _check_name(name: Any, what: str, owner: Module) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
    if not name:
        raise KeyError(f'{what} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f'{what} name can\'t contain ".", got {name!r}')
    if hasattr(owner, name) and name not in owner._names_of(what):
        raise KeyError(f"attribute '{name}' already exists")


class Module:
    """Base class for all layers (``torch.nn.Module`` counterpart).

    Subclasses call ``super().__init__()`` first, assign their parameters and sublayers as
    attributes, and define ``forward``. Calling the module calls ``forward``.

    Example:
        >>> import cnnkit
        >>> from cnnkit import nn
        >>> class TwoLayer(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = nn.Linear(4, 8)
        ...         self.fc2 = nn.Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x).relu())
        >>> list(TwoLayer().state_dict())
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing "forward"')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._forward_pre_hooks and not self._forward_hooks:  # the common case, cheaply
            return self.forward(*args, **kwargs)
        for pre_hook in list(self._forward_pre_hooks.values()):
            result = pre_hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(
        self, hook: Callable[[Module, tuple[Any, ...]], Any]
    ) -> RemovableHandle:
        """Call ``hook(module, args)`` before each forward; a non-None result replaces args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(
        self, hook: Callable[[Module, tuple[Any, ...], Any], Any]
    ) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each forward (e.g. to record activations);
        a non-None result replaces the output.

        Example:
            >>> import numpy as np
            >>> import cnnkit
            >>> from cnnkit import nn
            >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
            >>> shapes = []
            >>> handle = model[0].register_forward_hook(lambda m, a, out: shapes.append(out.shape))
            >>> _ = model(cnnkit.tensor(np.ones((4, 2), np.float32)))
            >>> handle.remove()
            >>> shapes
            [(4, 3)]
        """
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # --- registration ------------------------------------------------------------------------
    def _names_of(self, what: str) -> Mapping[str, Any]:
        return {"parameter": self._parameters, "buffer": self._buffers, "module": self._modules}[
            what
        ]

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``, a declared but absent one such as a missing bias)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name(name, "parameter", self)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(cnnkit.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add state that is not trained (e.g. BatchNorm's running statistics).

        Args:
            name: attribute name.
            tensor: the buffer, or ``None``.
            persistent: whether it is part of ``state_dict()``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name(name, "buffer", self)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(cnnkit.Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module, reachable as an attribute and part of ``state_dict()``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name(name, "module", self)
        self._modules[name] = module

    def register_module(self, name: str, module: Module | None) -> None:
        """Alias of ``add_module``."""
        self.add_module(name, module)

    def __setattr__(self, name: str, value: Any) -> None:
        registries = (
            self.__dict__.get("_parameters"),
            self.__dict__.get("_buffers"),
            self.__dict__.get("_modules"),
        )

        def forget_elsewhere() -> None:
            self.__dict__.pop(name, None)
            for registry in registries:
                if registry is not None:
                    registry.pop(name, None)
            self.__dict__["_non_persistent_buffers"].discard(name)

        parameters, buffers, modules = registries
        if isinstance(value, Parameter):
            if parameters is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            forget_elsewhere()
            self.register_parameter(name, value)
        elif parameters is not None and name in parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(cnnkit.nn.Parameter or None expected)"
                )
            parameters[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            forget_elsewhere()
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(cnnkit.nn.Module or None expected)"
                )
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(cnnkit.Tensor or None expected)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: the registered things live in the dicts.
        # Unrolled, not a loop over the three names: every layer call reads its weight here.
        attributes = self.__dict__
        if "_parameters" in attributes:  # absent only before Module.__init__
            if name in attributes["_parameters"]:
                return attributes["_parameters"][name]
            if name in attributes["_buffers"]:
                return attributes["_buffers"][name]
            if name in attributes["_modules"]:
                return attributes["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__[registry]
            if name in entries:
                del entries[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )

    # --- traversal ---------------------------------------------------------------------------
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and all below it, depth first, each with its dotted name."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            child_prefix = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` (``""`` is self), e.g. ``"features.0"``."""
        module = self
        if not target:
            return module
        for position, name in enumerate(target.split(".")):
            child = module._modules.get(name)
            if child is None:
                walked = ".".join(target.split(".")[:position]) or type(self).__name__
                raise AttributeError(f"{walked} has no submodule named '{name}' (in {target!r})")
            module = child
        return module

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sublayers with their names (each shared module once)."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        owners = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for owner_prefix, owner in owners:
            for name, value in getattr(owner, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{owner_prefix}.{name}" if owner_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Parameters with dotted names, in registration order; a shared one appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # --- modes and gradients -----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) recursively."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter (e.g. to freeze a backbone)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters: ``None`` (default) or zero-filled arrays."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = np.zeros_like(param.grad)

    # --- dtype ---------------------------------------------------------------------------------
    def to(self, dtype: Any) -> Module:
        """Cast floating-point parameters and buffers to ``dtype``, in place; returns self.

        ``"cpu"`` is accepted and does nothing, so device-moving PyTorch code runs unchanged.
        """
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        try:
            target = np.dtype(dtype)
        except TypeError as error:
            raise TypeError(
                f"to() expects a NumPy floating dtype or 'cpu', got {dtype!r}"
            ) from error
        if not np.issubdtype(target, np.floating):
            raise TypeError(f"to() only accepts floating-point dtypes, got {target}")
        for module in self.modules():
            for tensor in (*module._parameters.values(), *module._buffers.values()):
                if tensor is None or not np.issubdtype(tensor.dtype, np.floating):
                    continue
                tensor.data = tensor.data.astype(target, copy=False)
                if tensor.grad is not None:
                    tensor.grad = tensor.grad.astype(target, copy=False)
        return self

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    # --- state_dict --------------------------------------------------------------------------
    def _state_entries(self, prefix: str) -> Iterator[tuple[str, Tensor]]:
        # PyTorch's order: per module its parameters, then its persistent buffers, then children.
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                yield prefix + name, buffer
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_entries(f"{prefix}{name}.")

    def state_dict(self, *, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Any]:
        """Parameters and persistent buffers by dotted name, with PyTorch's keys and order.

        Args:
            prefix: prepended to every key.
            keep_vars: return the Tensors themselves instead of copies of their arrays.

        Returns:
            OrderedDict name -> ``np.ndarray`` (a copy, so later training does not change it).
        """
        return OrderedDict(
            (name, tensor if keep_vars else tensor.data.copy())
            for name, tensor in self._state_entries(prefix)
        )

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any:
        """Copy arrays into this module's parameters and buffers, in place.

        Values may be NumPy arrays, cnnkit Tensors, or anything ``np.asarray`` accepts (a CPU
        torch tensor converted with ``.numpy()``); they are cast to each target's dtype.

        Args:
            state_dict: name -> array, as produced by ``state_dict()`` here or in PyTorch.
            strict: require the keys to match exactly.

        Returns:
            ``(missing_keys, unexpected_keys)`` named tuple.

        Raises:
            RuntimeError: on a shape mismatch, or on missing/unexpected keys when ``strict``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}")
        expected = OrderedDict(self._state_entries(""))
        missing = [name for name in expected if name not in state_dict]
        unexpected = [name for name in state_dict if name not in expected]
        errors = []
        loaded = []
        for name, target in expected.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.shape != target.shape:
                errors.append(
                    f"size mismatch for {name}: copying a param with shape {array.shape} from "
                    f"checkpoint, the shape in current model is {target.shape}."
                )
                continue
            loaded.append((target, array))
        if strict and unexpected:
            errors.insert(
                0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected)
            )
        if strict and missing:
            errors.insert(
                0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing)
            )
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        # Copied only after every check passed, so a failed load leaves the model untouched.
        for target, array in loaded:
            target.data[...] = array
        return IncompatibleKeys(missing, unexpected)

    # --- repr --------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr``; layers show their settings."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = self.extra_repr().split("\n") if self.extra_repr() else []
        for name, module in self._modules.items():
            lines.append(f"({name}): " + _add_indent(repr(module), 2))
        if not self._modules and len(lines) <= 1:
            return f"{self._get_name()}({''.join(lines)})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"
