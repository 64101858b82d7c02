"""Containers: ``Sequential``, ``ModuleList`` and ``ModuleDict``, keyed like PyTorch's."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, overload

from cnnkit.nn.modules.module import Module
from cnnkit.nn.parameter import Parameter
from cnnkit.tensor import Tensor

__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"]


def _index(index: Any, length: int, what: str) -> int:
    if not isinstance(index, int):
        raise TypeError(f"{what} indices must be integers or slices, got {type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for {what} of length {length}")
    return index % length


class Sequential(Module):
    """Modules called one after another; the output of each is the input of the next.

    Args:
        *args: modules, named ``"0"``, ``"1"``, ... in ``state_dict``; or a single
            ``OrderedDict`` name -> module, which keeps those names.

    Shape:
        - Input: whatever the first module takes.
        - Output: whatever the last module returns.

    Example:
        >>> from cnnkit import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> list(model.state_dict())
        ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *args: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                self.add_module(str(index), module)

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module | Sequential:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_index(index, len(items), "Sequential")][1]

    def __setitem__(self, index: int, module: Module) -> None:
        key = list(self._modules)[_index(index, len(self._modules), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, index: int | slice) -> None:
        keys = list(self._modules)
        if isinstance(index, slice):
            chosen = keys[index]
        else:
            chosen = [keys[_index(index, len(keys), "Sequential")]]
        for key in chosen:
            del self._modules[key]
        # PyTorch renumbers the remaining modules 0, 1, 2, ... (named ones too).
        modules = list(self._modules.values())
        self._modules.clear()
        for position, module in enumerate(modules):
            self._modules[str(position)] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (named by its position)."""
        self.add_module(str(len(self)), module)
        return self

    def forward(self, input: Any) -> Any:
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(Module):
    """A list of modules, registered (``state_dict`` keys ``"0.weight"``, ...) but not called.

    Args:
        modules: an iterable of modules.

    Example:
        >>> from cnnkit import nn
        >>> blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        >>> len(blocks), list(blocks.state_dict())[:2]
        (3, ['0.weight', '0.bias'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_index(index, len(modules), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(_index(index, len(self), "ModuleList")), module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_index(index, len(modules), "ModuleList")]
        self._modules.clear()
        self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) or not isinstance(modules, Iterable):
            raise TypeError(
                f"ModuleList.extend should be called with an iterable, got {type(modules).__name__}"
            )
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        self.extend(modules)


class ModuleDict(Module):
    """A dict of modules, registered under their keys (in insertion order).

    Args:
        modules: a mapping or an iterable of ``(name, module)`` pairs.

    Example:
        >>> from cnnkit import nn
        >>> heads = nn.ModuleDict({"cls": nn.Linear(8, 10), "box": nn.Linear(8, 4)})
        >>> list(heads.state_dict())
        ['cls.weight', 'cls.bias', 'box.weight', 'box.bias']
    """

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for position, pair in enumerate(pairs):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise ValueError(
                    f"ModuleDict update sequence element #{position} should be a (name, module) "
                    f"pair, got {pair!r}"
                )
            self[pair[0]] = pair[1]


def _as_parameter(value: Any) -> Parameter:
    """A Parameter as is; a Tensor or array becomes one (trainable), as PyTorch does."""
    return value if isinstance(value, Parameter) else Parameter(value)


def _parameter_lines(items: Iterable[tuple[str, Parameter]]) -> str:
    return "\n".join(
        f"({name}): Parameter containing: [{param.dtype} of size "
        f"{'x'.join(map(str, param.shape)) or '()'}]"
        for name, param in items
    )


class ParameterList(Module):
    """A list of parameters, registered as ``"0"``, ``"1"``, ... (in ``state_dict`` too).

    Args:
        values: an iterable of Parameters, Tensors or arrays (the latter become Parameters).

    Example:
        >>> import numpy as np
        >>> from cnnkit import nn
        >>> scales = nn.ParameterList([np.ones(3, np.float32) for _ in range(2)])
        >>> list(scales.state_dict())
        ['0', '1']
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, index: int | slice) -> Parameter | ParameterList:
        params = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(params[index])
        return params[_index(index, len(params), "ParameterList")]

    def __setitem__(self, index: int, value: Any) -> None:
        self.register_parameter(
            str(_index(index, len(self), "ParameterList")), _as_parameter(value)
        )

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def append(self, value: Any) -> ParameterList:
        self.register_parameter(str(len(self)), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError(
                f"ParameterList.extend should be called with an iterable, got "
                f"{type(values).__name__}"
            )
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return _parameter_lines(self._parameters.items())


class ParameterDict(Module):
    """A dict of parameters, registered under their keys (in insertion order).

    Args:
        parameters: a mapping or an iterable of ``(name, value)`` pairs; Tensors and arrays
            become Parameters.
    """

    def __init__(
        self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
    ) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def keys(self) -> Iterable[str]:
        return self._parameters.keys()

    def items(self) -> Iterable[tuple[str, Parameter]]:
        return self._parameters.items()

    def values(self) -> Iterable[Parameter]:
        return self._parameters.values()

    def pop(self, key: str) -> Parameter:
        return self._parameters.pop(key)

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
        for position, pair in enumerate(pairs):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise ValueError(
                    f"ParameterDict update sequence element #{position} should be a "
                    f"(name, value) pair, got {pair!r}"
                )
            self[pair[0]] = pair[1]

    def extra_repr(self) -> str:
        return _parameter_lines(self._parameters.items())
