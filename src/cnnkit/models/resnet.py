"""ResNet for CIFAR-sized images (He et al. 2016, section 4.2): ResNet-20 and relatives.

Shortcuts use option B of the paper: where the shape changes (stride 2, more channels) the
shortcut is a 1x1 convolution with stride followed by batch norm (torchvision's ``downsample``);
everywhere else it is the identity. Module names follow torchvision's ResNet, so state_dict
keys read ``layer2.0.downsample.0.weight`` and so on.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnnkit import nn
from cnnkit.tensor import Tensor

__all__ = ["BasicBlock", "ResNet", "resnet20"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, plus the shortcut: ``relu(F(x) + shortcut(x))``.

    Args:
        in_planes: input channels.
        planes: output channels.
        stride: stride of the first convolution (2 halves the feature map).

    Shape:
        - Input: :math:`(N, \\text{in\\_planes}, H, W)`
        - Output: :math:`(N, \\text{planes}, H / \\text{stride}, W / \\text{stride})`
    """

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """CIFAR-style ResNet: a 3x3 stem, three stages of ``BasicBlock`` s, average pool, linear.

    Stage ``i`` has ``blocks[i]`` blocks of ``widths[i]`` channels; stages 2 and 3 start with
    stride 2. The depth is ``6 * n + 2`` for ``blocks = (n, n, n)``.

    Args:
        blocks: number of blocks in each of the three stages.
        num_classes: number of output logits.
        in_channels: channels of the input images.
        widths: channels of the three stages.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`
        - Output: :math:`(N, \\text{num\\_classes})` (logits)
    """

    def __init__(
        self,
        blocks: Sequence[int],
        num_classes: int = 10,
        in_channels: int = 3,
        widths: Sequence[int] = (16, 32, 64),
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        planes = widths[0]
        stages = []
        for stage, (count, width) in enumerate(zip(blocks, widths, strict=True)):
            stride = 1 if stage == 0 else 2
            layers = []
            for i in range(count):
                layers.append(BasicBlock(planes, width, stride if i == 0 else 1))
                planes = width
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(planes, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


def resnet20(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet-20: 3 stages of 3 basic blocks (16, 32, 64 channels), about 0.27 M parameters."""
    return ResNet((3, 3, 3), num_classes, in_channels)
