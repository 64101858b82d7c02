"""Tensor and the autograd tape.

A ``Tensor`` wraps a NumPy array. An op (see ``cnnkit.ops``) computes its output array and,
right beside it, a ``backward`` closure that maps the gradient of the output to the gradients
of its inputs. ``Tensor.from_op`` records that closure only when a gradient is needed, so code
under ``no_grad()`` or on plain data builds no graph.

``Tensor.backward`` sorts the graph topologically without recursion (a 10,000-layer chain is
fine), walks it once in reverse, sums the gradients of tensors used more than once, and stores
them in ``.grad`` of the leaves that ask for it. No op math lives here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

BackwardFn = Callable[[np.ndarray], Sequence["np.ndarray | None"]]

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def _set_grad_enabled(mode: bool) -> Iterator[None]:
    global _grad_enabled
    previous = _grad_enabled
    _grad_enabled = mode
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Context manager (and decorator) under which no op records a graph."""
    return _set_grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    return _set_grad_enabled(True)


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Python floats become float32 and ints int64, as ``torch.tensor`` does; arrays keep theirs."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    if not isinstance(data, np.ndarray | np.generic) and array.dtype == np.float64:
        array = array.astype(np.float32)
    return array


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Args:
        data: array-like. Python floats give float32, Python ints int64; NumPy arrays keep
            their dtype.
        requires_grad: whether ``backward`` should compute a gradient for this tensor.
        dtype: NumPy dtype to convert to.
    """

    __slots__ = ("data", "grad", "requires_grad", "_backward", "_parents", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _as_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        if self.requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype={self.data.dtype}"
            )
        self._backward: BackwardFn | None = None
        self._parents: tuple[Tensor, ...] = ()

    @classmethod
    def from_op(cls, data: np.ndarray, parents: Sequence[Tensor], backward: BackwardFn) -> Tensor:
        """Wrap an op's output; record ``backward`` if any parent needs a gradient.

        ``backward(grad_output)`` returns one gradient per parent (``None`` where a parent needs
        none), each with that parent's shape.
        """
        out = cls.__new__(cls)
        # NumPy ufuncs turn 0-d results into scalars; a Tensor always holds an ndarray
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out.grad = None
        needs_grad = False
        if _grad_enabled:
            for parent in parents:  # a plain loop: this runs for every op, so it is kept lean
                if parent.requires_grad:
                    needs_grad = True
                    break
        out.requires_grad = needs_grad
        out._backward = backward if needs_grad else None
        out._parents = tuple(parents) if needs_grad else ()
        return out

    # --- NumPy-like attributes -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    @property
    def grad_fn(self) -> BackwardFn | None:
        """The closure that sends this tensor's gradient to its inputs (None for a leaf)."""
        return self._backward

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to a Python scalar"
            )
        return self.data.item()

    def __bool__(self) -> bool:
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if not np.issubdtype(self.data.dtype, np.integer):
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self.item())

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data (shared, not copied) outside the graph."""
        return Tensor(self.data)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph."""
        return _ops.clone(self)

    def contiguous(self) -> Tensor:
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        """Write into the data in place; allowed where no graph records this tensor."""
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(
                "a leaf or graph tensor that requires grad cannot be written in place; "
                "wrap the write in cnnkit.no_grad()"
            )
        if isinstance(index, Tensor):
            index = index.data
        self.data[index] = _data(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype={self.data.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def zero_(self) -> Tensor:
        self.data[...] = 0
        return self

    def fill_(self, value: float) -> Tensor:
        self.data[...] = value
        return self

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def to(self, dtype: Any) -> Tensor:
        from cnnkit import ops

        return ops.cast(self, np.dtype(dtype))

    def __repr__(self) -> str:
        body = np.array2string(self.data, prefix="tensor(", separator=", ")
        extras = "" if self.data.dtype == np.float32 else f", dtype={self.data.dtype}"
        if self._backward is not None:
            extras += f", grad_fn=<{_grad_fn_name(self._backward)}>"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    def __hash__(self) -> int:
        return id(self)

    # --- autograd --------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Args:
            gradient: d(loss)/d(self), same shape as self. Optional for a one-element tensor.
            retain_graph: keep the graph so ``backward`` can be called on it again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"gradient must be given for a non-scalar output of shape {self.shape}"
                )
            gradient = np.ones_like(self.data)
        else:
            gradient = _as_array(gradient, self.data.dtype)
            if gradient.shape != self.shape:
                raise ValueError(
                    f"gradient shape {gradient.shape} does not match tensor shape {self.shape}"
                )

        grads: dict[int, np.ndarray] = {id(self): gradient}
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # inf/nan as torch
            self._run_backward(grads, retain_graph)

    def _run_backward(self, grads: dict[int, np.ndarray], retain_graph: bool) -> None:
        for node in _topological_order(self):
            grad = grads.pop(id(node), None)
            if grad is None:
                continue
            if node._backward is None:
                grad = grad.astype(node.data.dtype, copy=node.grad is None)
                node.grad = grad if node.grad is None else node.grad + grad
                continue
            parent_grads = node._backward(grad)
            for parent, parent_grad in zip(node._parents, parent_grads, strict=True):
                if parent_grad is None or not parent.requires_grad:
                    continue
                key = id(parent)
                if key in grads:
                    grads[key] = grads[key] + parent_grad
                else:
                    grads[key] = parent_grad
            if not retain_graph:
                node._backward = _freed_backward
                node._parents = ()

    # --- operators (the math lives in cnnkit.ops) ------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, exponent: Any) -> Tensor:
        return _ops.pow(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return _ops.pow(base, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __lt__(self, other: Any) -> Tensor:
        return Tensor(self.data < _data(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor(self.data <= _data(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor(self.data > _data(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor(self.data >= _data(other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor(self.data == _data(other))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor(self.data != _data(other))

    # --- methods, PyTorch names ------------------------------------------------------------
    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def neg(self) -> Tensor:
        return _ops.neg(self)

    def pow(self, exponent: Any) -> Tensor:
        return _ops.pow(self, exponent)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must not be None")
        return _ops.clamp(self, min, max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.minimum(self, other)

    def where(self, condition: Any, other: Any) -> Tensor:
        return _ops.where(condition, self, other)

    def softmax(self, dim: int) -> Tensor:
        return _ops.softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return _ops.log_softmax(self, dim)

    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return _ops.sum(self, dim, keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return _ops.mean(self, dim, keepdim)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """Largest element; with ``dim``, ``(values, indices)``; with a tensor, ``maximum``."""
        if isinstance(dim, Tensor):
            return _ops.maximum(self, dim)
        return _ops.max(self, dim, keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        """Smallest element; with ``dim``, ``(values, indices)``; with a tensor, ``minimum``."""
        if isinstance(dim, Tensor):
            return _ops.minimum(self, dim)
        return _ops.min(self, dim, keepdim)

    def amax(self, dim: int | Sequence[int] = (), keepdim: bool = False) -> Tensor:
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim: int | Sequence[int] = (), keepdim: bool = False) -> Tensor:
        return _ops.amin(self, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _ops.argmin(self, dim, keepdim)

    def var(
        self,
        dim: int | Sequence[int] | None = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: float | None = None,
    ) -> Tensor:
        return _ops.var(self, dim, _correction(unbiased, correction), keepdim)

    def std(
        self,
        dim: int | Sequence[int] | None = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: float | None = None,
    ) -> Tensor:
        return _ops.std(self, dim, _correction(unbiased, correction), keepdim)

    def all(self) -> Tensor:
        return Tensor(np.all(self.data))

    def any(self) -> Tensor:
        return Tensor(np.any(self.data))

    def reshape(self, *shape: Any) -> Tensor:
        return _ops.reshape(self, _shape_args(shape))

    def view(self, *shape: Any) -> Tensor:
        return _ops.reshape(self, _shape_args(shape))

    def reshape_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    view_as = reshape_as

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def permute(self, *dims: Any) -> Tensor:
        return _ops.permute(self, _shape_args(dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _ops.transpose(self, dim0, dim1)

    def t(self) -> Tensor:
        return self if self.ndim < 2 else _ops.transpose(self, 0, 1)

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(reversed(range(self.ndim))))

    def squeeze(self, dim: int | Sequence[int] | None = None) -> Tensor:
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return _ops.unsqueeze(self, dim)

    def expand(self, *sizes: Any) -> Tensor:
        return _ops.expand(self, _shape_args(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.expand(self, other.shape)

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        return _ops.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _ops.chunk(self, chunks, dim)


def _correction(unbiased: bool | None, correction: float | None) -> float:
    """torch's two spellings: ``unbiased`` (True = 1, False = 0) or ``correction``."""
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def _freed_backward(grad: np.ndarray) -> Sequence[np.ndarray | None]:
    raise RuntimeError(
        "Trying to backward through the graph a second time: its saved values were freed by "
        "the first backward(). Pass retain_graph=True to the first call to keep them."
    )


def _grad_fn_name(backward: BackwardFn) -> str:
    """``mul.<locals>.backward`` -> ``MulBackward``: the op that recorded the node."""
    op = backward.__qualname__.split(".")[0].lstrip("_")
    return "".join(part.capitalize() for part in op.split("_")) + "Backward"


def _data(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def _shape_args(args: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both ``t.reshape(2, 3)`` and ``t.reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], list | tuple):
        return tuple(args[0])
    return tuple(args)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes reachable from ``root``, each after every node that uses it (iterative DFS)."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if id(parent) not in visited:
                stack.append((parent, False))
    order.reverse()
    return order


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Create a Tensor (``torch.tensor`` counterpart)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


from cnnkit import ops as _ops  # noqa: E402  (ops import Tensor from this module)
