"""LeNet-5 (LeCun et al. 1998), in its common modern form: ReLU and max pooling."""

from __future__ import annotations

from cnnkit import nn
from cnnkit.tensor import Tensor

__all__ = ["LeNet5"]


class LeNet5(nn.Module):
    """LeNet-5 for 28x28 images: two 5x5 convolutions, then three fully connected layers.

    The first convolution pads by 2, so a 28x28 input is treated like the paper's 32x32 one;
    feature maps go 28 -> 14 -> 10 -> 5, giving 16 * 5 * 5 = 400 features.

    Args:
        num_classes: number of output logits.
        in_channels: channels of the input images.

    Shape:
        - Input: :math:`(N, C_{in}, 28, 28)`
        - Output: :math:`(N, \\text{num\\_classes})` (logits)

    Example:
        >>> LeNet5()(cnnkit.zeros(2, 1, 28, 28)).shape
        (2, 10)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))
