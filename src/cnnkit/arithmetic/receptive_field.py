"""Receptive field, jump and start of every layer of a Sequential-like CNN.

For each layer, per spatial axis (Araujo et al., "Computing receptive fields of convolutional
neural networks", Distill 2019; Dumoulin & Visin's effective kernel size):

- ``jump``  j_out = j_in * s: the distance, in input pixels, between neighbouring outputs;
- ``size``  r_out = r_in + (d(k-1)) * j_in: how many input pixels one output sees;
- ``start`` c_out = c_in + (d(k-1)/2 - p) * j_in: the input coordinate of the centre of the
  first output's receptive field (pixel centres are at 0, 1, 2, ...; it may be negative or a
  half-integer, where the field reaches into the padding or the kernel is even).

Output element ``u`` of a layer then sees input pixels ``start + u*jump +- (size-1)/2``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cnnkit.arithmetic.shapes import (
    conv_output_size,
    effective_kernel_size,
    pool_output_size,
    same_padding,
)

__all__ = ["LayerReceptiveField", "ReceptiveFields", "receptive_field", "sequential_layers"]

# Layers that act on each pixel on its own (or across channels only): they keep the geometry.
POINTWISE_LAYERS = frozenset(
    {
        "ReLU",
        "ReLU6",
        "LeakyReLU",
        "PReLU",
        "ELU",
        "SELU",
        "CELU",
        "GELU",
        "SiLU",
        "Mish",
        "Sigmoid",
        "Tanh",
        "Softplus",
        "Softsign",
        "Hardtanh",
        "Hardsigmoid",
        "Hardswish",
        "LogSigmoid",
        "Tanhshrink",
        "Threshold",
        "Identity",
        "Dropout",
        "Dropout2d",
        "AlphaDropout",
        "BatchNorm2d",
        "GroupNorm",
        "InstanceNorm2d",
        "LayerNorm",
        "LocalResponseNorm",
        "Softmax2d",
    }
)
CONV_LAYERS = frozenset({"Conv2d"})
POOL_LAYERS = frozenset({"MaxPool2d", "AvgPool2d"})
CONTAINERS = frozenset({"Sequential"})


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def sequential_layers(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(name, layer)`` for the leaf layers of ``model`` in the order they run.

    ``Sequential`` containers are entered (names like ``features.3``); any other layer,
    including the model itself when it is not a container, is yielded as it is.
    """
    if type(model).__name__ not in CONTAINERS:
        yield (prefix or type(model).__name__), model
        return
    for child_name, child in model.named_children():
        yield from sequential_layers(child, f"{prefix}.{child_name}" if prefix else child_name)


@dataclass(frozen=True)
class LayerReceptiveField:
    """Geometry of one layer's output, per axis ``(h, w)``, in input-pixel units.

    Attributes:
        name: the layer's name in the model (``"features.0"``); ``layer`` its class name.
        kernel_size, stride, padding, dilation: the layer's own window (``(1, 1)``, ``(1, 1)``,
            ``(0, 0)``, ``(1, 1)`` for pointwise layers); ``padding`` is the top/left padding.
        output_size: spatial size of the layer's output for the given input shape.
        size: receptive-field size of one output element.
        jump: input-pixel distance between neighbouring output elements (effective stride).
        start: input coordinate of the centre of output element 0's receptive field.
    """

    name: str
    layer: str
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    output_size: tuple[int, int]
    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]

    def field_of(self, row: int, col: int) -> tuple[tuple[float, float], tuple[float, float]]:
        """Input rows ``(first, last)`` and columns ``(first, last)`` seen by output (row, col).

        May extend past the input where the field reaches into the padding.
        """
        return tuple(  # type: ignore[return-value]
            (start + index * jump - (size - 1) / 2, start + index * jump + (size - 1) / 2)
            for start, index, jump, size in zip(
                self.start, (row, col), self.jump, self.size, strict=True
            )
        )


class ReceptiveFields(list):
    """The list of :class:`LayerReceptiveField` records; ``str()`` is a table."""

    def __init__(self, records: list[LayerReceptiveField], input_size: tuple[int, int]) -> None:
        super().__init__(records)
        self.input_size = input_size

    def __str__(self) -> str:
        def show(pair: tuple[Any, Any]) -> str:
            first, second = (f"{v:g}" if isinstance(v, float) else str(v) for v in pair)
            return first if first == second else f"{first}x{second}"

        header = (
            "layer",
            "type",
            "kernel",
            "stride",
            "pad",
            "dil",
            "output",
            "rf",
            "jump",
            "start",
        )
        rows = [("input", "", "", "", "", "", show(self.input_size), "1", "1", "0")]
        for record in self:
            rows.append(
                (
                    record.name,
                    record.layer,
                    show(record.kernel_size),
                    show(record.stride),
                    show(record.padding),
                    show(record.dilation),
                    show(record.output_size),
                    show(record.size),
                    show(record.jump),
                    show(record.start),
                )
            )
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(10)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in [header, *rows]
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(line.rstrip() for line in lines)


def _window(name: str, layer: Any) -> tuple[tuple[int, int], ...]:
    """(kernel, stride, top/left padding, dilation) of a conv or pooling layer."""
    kernel = _pair(layer.kernel_size)
    dilation = _pair(getattr(layer, "dilation", 1))
    # PyTorch's pooling layers default stride to the kernel size (stored as None or []).
    stride = _pair(layer.stride) if layer.stride not in (None, [], ()) else kernel
    padding = layer.padding
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        padding = tuple(same_padding(k, d)[0] for k, d in zip(kernel, dilation, strict=True))
    elif isinstance(padding, str):
        raise ValueError(f"receptive_field: layer {name} has padding={padding!r}")
    return kernel, stride, _pair(padding), dilation


def _output_size(
    layer: Any, size: int, kernel: int, stride: int, padding: int, dilation: int
) -> int:
    if getattr(layer, "padding", None) == "same":  # stride 1, any split of the padding
        return size
    if type(layer).__name__ in POOL_LAYERS:
        ceil_mode = bool(getattr(layer, "ceil_mode", False))
        return pool_output_size(size, kernel, stride, padding, dilation, ceil_mode)
    return conv_output_size(size, kernel, stride, padding, dilation)


def _next_field(
    size: int, jump: int, start: float, kernel: int, stride: int, padding: int, dilation: int
) -> tuple[int, int, float]:
    """(size, jump, start) along one axis after a layer, from their values before it."""
    extent = effective_kernel_size(kernel, dilation) - 1
    return size + extent * jump, jump * stride, start + (extent / 2 - padding) * jump


def receptive_field(model: Any, input_shape: tuple[int, ...]) -> ReceptiveFields:
    """Per-layer receptive-field size, jump and start of a Sequential-like model.

    The model's layers are walked in order (``Sequential`` containers are entered); each must
    be a 2-D convolution or pooling layer (``Conv2d``, ``MaxPool2d``, ``AvgPool2d``) or a
    pointwise one (activations, ``BatchNorm2d``, ``Dropout``, ``Identity``...). Works on
    cnnkit and on PyTorch models alike (layers are recognised by class name and attributes).

    Args:
        model: a layer or a ``Sequential`` of layers.
        input_shape: the input's shape, e.g. ``(1, 3, 32, 32)``; only ``(H, W)`` (the last two)
            matter.

    Returns:
        :class:`ReceptiveFields`, one :class:`LayerReceptiveField` per layer; print it for a
        table.

    Raises:
        TypeError: for a layer it cannot describe (``Linear``, ``Flatten``, transposed or
            adaptive layers), naming the layer.
        ValueError: when some layer's output would be empty.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2))
        >>> receptive_field(net, (1, 1, 28, 28))[-1].size
        (4, 4)
    """
    if len(input_shape) < 2 or any(int(v) <= 0 for v in input_shape[-2:]):
        raise ValueError(
            f"receptive_field: input_shape must end with positive (H, W), got {input_shape!r}"
        )
    input_size = (int(input_shape[-2]), int(input_shape[-1]))
    size, jump, start, spatial = (1, 1), (1, 1), (0.0, 0.0), input_size
    records = []
    for name, layer in sequential_layers(model):
        kind = type(layer).__name__
        if kind in POINTWISE_LAYERS:
            kernel, stride, padding, dilation = (1, 1), (1, 1), (0, 0), (1, 1)
        elif kind in CONV_LAYERS or kind in POOL_LAYERS:
            kernel, stride, padding, dilation = _window(name, layer)
            spatial = tuple(
                _output_size(layer, *axis)
                for axis in zip(spatial, kernel, stride, padding, dilation, strict=True)
            )
            if min(spatial) <= 0:
                raise ValueError(
                    f"receptive_field: layer {name} ({kind}) would output size {spatial} for "
                    f"input_shape {tuple(input_shape)}"
                )
        else:
            raise TypeError(
                f"receptive_field: unsupported layer {name} ({kind}); only Conv2d, MaxPool2d, "
                "AvgPool2d and pointwise layers (activations, BatchNorm2d, Dropout, ...) can be "
                "described: pass the convolutional part of the model (e.g. model.features)"
            )
        axes = [
            _next_field(*axis)
            for axis in zip(size, jump, start, kernel, stride, padding, dilation, strict=True)
        ]
        size, jump, start = (tuple(values) for values in zip(*axes, strict=True))
        records.append(
            LayerReceptiveField(
                name=name,
                layer=kind,
                kernel_size=kernel,
                stride=stride,
                padding=padding,
                dilation=dilation,
                output_size=spatial,
                size=size,
                jump=jump,
                start=start,
            )
        )
    return ReceptiveFields(records, input_size)
