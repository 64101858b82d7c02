"""PyTorch definitions of ``cnnkit.models``, module for module, so state_dict keys line up.

Tests build a twin, copy its weights into the cnnkit model with ``load_state_dict`` and
compare outputs, gradients and whole training trajectories.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

VGG_SMALL_CONFIG: tuple[int | str, ...] = (32, 32, "M", 64, 64, "M", 128, 128, "M")


class LeNet5(nn.Module):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=3, padding=1, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, padding=1, bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class VGG(nn.Module):
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
            layers += [
                nn.Conv2d(channels, int(item), kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(int(item)),
                nn.ReLU(),
            ]
            channels = int(item)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


def vgg_small(num_classes: int = 10, in_channels: int = 3) -> VGG:
    return VGG(VGG_SMALL_CONFIG, num_classes, in_channels)


class BasicBlock(nn.Module):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet(nn.Module):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


def resnet20(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    return ResNet((3, 3, 3), num_classes, in_channels)


TWINS = {"lenet5": LeNet5, "small-cnn": SmallCNN, "vgg-small": vgg_small, "resnet20": resnet20}


def conv_block(in_channels: int, out_channels: int, dilation: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = []
    for channels in (in_channels, out_channels):
        layers += [
            nn.Conv2d(channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        ]
    return nn.Sequential(*layers)


class ContextBlock(nn.Module):
    def __init__(self, channels: int, rates: Sequence[int] = (2, 4)) -> None:
        super().__init__()
        branches = [nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False))]
        branches += [
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=r, dilation=r, bias=False))
            for r in rates
        ]
        self.branches = nn.ModuleList(branches)
        self.fuse = nn.Sequential(
            nn.BatchNorm2d(channels * len(branches)),
            nn.ReLU(),
            nn.Conv2d(channels * len(branches), channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([branch(x) for branch in self.branches], dim=1))


class UNet(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 11,
        base_channels: int = 16,
        depth: int = 3,
        context: bool = False,
        multiscale: bool = False,
    ) -> None:
        super().__init__()
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.depth = depth
        self.down = nn.ModuleList(
            [conv_block(in_channels, widths[0])]
            + [conv_block(widths[level], widths[level + 1]) for level in range(depth)]
        )
        self.pool = nn.MaxPool2d(2)
        self.context = ContextBlock(widths[-1]) if context else None
        self.upsample = nn.ModuleList(
            [
                nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2)
                for level in reversed(range(depth))
            ]
        )
        self.up = nn.ModuleList(
            [conv_block(2 * widths[level], widths[level]) for level in reversed(range(depth))]
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)
        self.score_heads = (
            nn.ModuleList(
                [nn.Conv2d(widths[level], num_classes, 1) for level in reversed(range(1, depth))]
            )
            if multiscale
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else self.pool(x))
            skips.append(x)
        if self.context is not None:
            x = self.context(x)
        features = []
        for stage in range(self.depth):
            x = self.upsample[stage](x)
            x = self.up[stage](torch.cat([skips[self.depth - 1 - stage], x], dim=1))
            features.append(x)
        logits = self.head(x)
        if self.score_heads is not None:
            for score_head, feature in zip(self.score_heads, features[:-1], strict=True):
                logits = logits + nn.functional.interpolate(
                    score_head(feature), size=logits.shape[2:], mode="bilinear"
                )
        return logits
