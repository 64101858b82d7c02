"""Padding layers: zero, constant, reflection, replication and circular, 1-D to 3-D (F.pad)."""

from __future__ import annotations

from cnnkit.nn import functional as F
from cnnkit.nn._checks import ntuple
from cnnkit.nn.modules.module import Module
from cnnkit.tensor import Tensor

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]


class _PadNd(Module):
    """Pads the last ``_dims`` dimensions by ``padding`` = (left, right, top, bottom, front, back)
    (an int pads every side by that much; a 2·dims-tuple lists the sides, last dimension first).
    """

    _dims: int
    _mode: str

    def __init__(self, padding: int | tuple[int, ...]) -> None:
        super().__init__()
        self.padding = ntuple(padding, 2 * self._dims, "padding")

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    _mode = "constant"

    def __init__(self, padding: int | tuple[int, ...], value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


_SHAPES = {1: "(N, C, W) or (C, W)", 2: "(N, C, H, W) or (C, H, W)", 3: "(N, C, D, H, W)"}
_DOC = """Pad the last {d} dimension(s) {how}.

    Args:
        padding: int (every side) or {n}-tuple (left, right{more}).{value}

    Shape:
        - Input: {shape}.
        - Output: each padded dimension grows by the sum of its two amounts.
    """


def _doc(d: int, how: str, value: str = "") -> str:
    more = ", top, bottom" if d >= 2 else ""
    more += ", front, back" if d == 3 else ""
    return _DOC.format(d=d, how=how, n=2 * d, more=more, value=value, shape=_SHAPES[d])


_VALUE_DOC = "\n        value: the fill value."


class ConstantPad1d(_ConstantPadNd):
    __doc__ = _doc(1, "with a constant", _VALUE_DOC)
    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    __doc__ = _doc(2, "with a constant", _VALUE_DOC)
    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    __doc__ = _doc(3, "with a constant", _VALUE_DOC)
    _dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: int | tuple[int, ...]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    __doc__ = _doc(1, "with zeros")
    _dims = 1


class ZeroPad2d(_ZeroPadNd):
    __doc__ = _doc(2, "with zeros")
    _dims = 2


class ZeroPad3d(_ZeroPadNd):
    __doc__ = _doc(3, "with zeros")
    _dims = 3


class ReflectionPad1d(_PadNd):
    __doc__ = _doc(1, "with the reflection of the input (edge not repeated)")
    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    __doc__ = _doc(2, "with the reflection of the input (edge not repeated)")
    _dims, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    __doc__ = _doc(3, "with the reflection of the input (edge not repeated)")
    _dims, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    __doc__ = _doc(1, "by repeating the edge values")
    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    __doc__ = _doc(2, "by repeating the edge values")
    _dims, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    __doc__ = _doc(3, "by repeating the edge values")
    _dims, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    __doc__ = _doc(1, "periodically (wrapping around)")
    _dims, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    __doc__ = _doc(2, "periodically (wrapping around)")
    _dims, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    __doc__ = _doc(3, "periodically (wrapping around)")
    _dims, _mode = 3, "circular"
