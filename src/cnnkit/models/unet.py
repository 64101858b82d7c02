"""U-Net for semantic segmentation, with an optional dilated-convolution context block (ASPP).

Encoder: ``depth`` stages of two 3x3 conv-BN-ReLU layers, each followed by 2x2 max pooling;
the channels double per stage. Decoder: per stage, a 2x2 stride-2 ``ConvTranspose2d`` doubles
the resolution, the encoder features of that resolution are concatenated (skip connection)
and two 3x3 conv-BN-ReLU layers mix them. A 1x1 conv gives the per-pixel class logits; with
``multiscale`` every coarser decoder stage adds its own 1x1-conv logits, upsampled bilinearly
(the skip scores of FCN, Long et al. 2015).
"""

from __future__ import annotations

import cnnkit.nn.functional as F
from cnnkit import nn
from cnnkit.functions import cat
from cnnkit.tensor import Tensor

__all__ = ["UNet", "ContextBlock", "conv_block"]


def conv_block(in_channels: int, out_channels: int, dilation: int = 1) -> nn.Sequential:
    """Two 3x3 conv - BatchNorm - ReLU layers (``padding = dilation`` keeps the size)."""
    layers = []
    for channels in (in_channels, out_channels):
        layers += [
            nn.Conv2d(channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        ]
    return nn.Sequential(*layers)


class ContextBlock(nn.Module):
    """ASPP-like context: parallel 3x3 convs with dilations ``rates`` plus a 1x1, fused by 1x1.

    Args:
        channels: input and output channels.
        rates: the dilation of each parallel branch.

    Shape:
        - Input: :math:`(N, C, H, W)`; Output: :math:`(N, C, H, W)`
    """

    def __init__(self, channels: int, rates: tuple[int, ...] = (2, 4)) -> None:
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

    def forward(self, x: Tensor) -> Tensor:
        return self.fuse(cat([branch(x) for branch in self.branches], dim=1))


class UNet(nn.Module):
    """U-Net: conv encoder with pooling, transposed-conv decoder with skip connections.

    Args:
        in_channels: image channels.
        num_classes: logits per pixel; ``0`` builds no head (a feature extractor, see
            ``decode``).
        base_channels: channels of the first stage (doubled per stage).
        depth: number of poolings; the input side must be divisible by ``2**depth``.
        context: add a ``ContextBlock`` (dilated convolutions) at the bottleneck.
        multiscale: score every decoder stage, not only the last: each coarser stage gets a
            1x1 conv to ``num_classes`` logits, upsampled bilinearly to the output and added.
            A coarse stage sees a whole object, so it can say *which* object a pixel belongs
            to, while the full-resolution stage places the boundaries.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`, ``H`` and ``W`` divisible by ``2**depth``
        - Output: :math:`(N, \\text{num\\_classes}, H, W)` (logits)

    Example:
        >>> UNet(num_classes=11, base_channels=8)(cnnkit.zeros(2, 1, 32, 32)).shape
        (2, 11, 32, 32)
    """

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
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.depth = depth
        self.widths = widths
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
        self.head = nn.Conv2d(widths[0], num_classes, 1) if num_classes > 0 else None
        self.score_heads = (
            nn.ModuleList(
                [nn.Conv2d(widths[level], num_classes, 1) for level in reversed(range(1, depth))]
            )
            if multiscale and num_classes > 0
            else None
        )

    def decode(self, x: Tensor, stages: int | None = None) -> list[Tensor]:
        """Decoder features, coarsest first: ``stages`` (default ``depth``) upsampling stages.

        Entry ``i`` has ``widths[depth - 1 - i]`` channels at stride ``2**(depth - 1 - i)``.
        """
        skips = []
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else self.pool(x))
            skips.append(x)
        if self.context is not None:
            x = self.context(x)
        features = []
        for stage in range(self.depth if stages is None else stages):
            x = self.upsample[stage](x)
            x = self.up[stage](cat([skips[self.depth - 1 - stage], x], dim=1))
            features.append(x)
        return features

    def forward(self, x: Tensor) -> Tensor:
        if self.head is None:
            raise RuntimeError("this UNet was built with num_classes=0; use decode()")
        features = self.decode(x)
        logits = self.head(features[-1])
        if self.score_heads is not None:
            for score_head, feature in zip(self.score_heads, features[:-1], strict=True):
                logits = logits + F.interpolate(
                    score_head(feature), size=logits.shape[2:], mode="bilinear"
                )
        return logits
