"""A small VGG: stacks of 3x3 convolutions with batch norm, max pooling between stages."""

from __future__ import annotations

from collections.abc import Sequence

from cnnkit import nn
from cnnkit.tensor import Tensor

__all__ = ["VGG", "vgg_small", "VGG_SMALL_CONFIG"]

# Output channels of each 3x3 convolution; "M" is a 2x2 max pool. 32x32 -> 4x4, 28x28 -> 3x3.
VGG_SMALL_CONFIG: tuple[int | str, ...] = (32, 32, "M", 64, 64, "M", 128, 128, "M")


class VGG(nn.Module):
    """VGG-style network (Simonyan & Zisserman 2015) sized for small images.

    ``features`` is the stack given by ``config`` (each convolution followed by ``BatchNorm2d``
    and ReLU); the classifier is global average pooling and one ``Linear`` layer, which makes
    the network work for any input size that survives the pooling.

    Args:
        config: output channels per 3x3 convolution, ``"M"`` for a 2x2 max pool.
        num_classes: number of output logits.
        in_channels: channels of the input images.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`
        - Output: :math:`(N, \\text{num\\_classes})` (logits)
    """

    def __init__(
        self, config: Sequence[int | str], num_classes: int = 10, in_channels: int = 3
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            width = int(item)
            # No convolution bias: the batch norm right after it has its own.
            layers += [
                nn.Conv2d(channels, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


def vgg_small(num_classes: int = 10, in_channels: int = 3) -> VGG:
    """The small VGG of ``VGG_SMALL_CONFIG``: six convolutions of 32, 64 and 128 channels."""
    return VGG(VGG_SMALL_CONFIG, num_classes, in_channels)
